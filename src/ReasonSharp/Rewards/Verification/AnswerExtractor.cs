using System.Text.RegularExpressions;

namespace ReasonSharp.Rewards.Verification;

/// <summary>
/// Finds the answer in a text with the rules of <see cref="MathVerifyOptions.Extraction"/>: matches are tried by
/// priority, rightmost first within a priority, and the first one that parses is the answer (math-verify's
/// "any match" mode). The first match's normalised text is kept as a string fallback.
/// </summary>
internal static partial class AnswerExtractor
{
    enum Kind { Latex, Expression, Region }

    sealed record LatexPart(string Content, bool Percent);

    sealed record Candidate(AnswerSource Source, int Priority, int Start, int End, Kind Kind, string Matched)
    {
        public IReadOnlyList<LatexPart> Parts { get; init; } = [];
        public Match? ExpressionMatch { get; init; }
    }

    public static ExtractedAnswer Extract(string text, MathVerifyOptions options, Deadline deadline, bool allowAnswerTag = true)
    {
        var candidates = Collect(text, options, deadline, allowAnswerTag);
        var failedLatexSpans = new List<(int Start, int End)>();
        ExtractedAnswer? first = null;
        foreach (var group in candidates.GroupBy(c => c.Priority).OrderBy(g => g.Key))
        {
            foreach (var candidate in group.OrderByDescending(c => c.End).ThenBy(c => c.Start))
            {
                deadline.Check();
                if (candidate.Kind == Kind.Expression && OverlapsFailedLatex(candidate, failedLatexSpans)) continue;
                var (value, normalized, error) = ParseCandidate(candidate, options, deadline);
                first ??= new ExtractedAnswer(candidate.Source, candidate.Matched, normalized, null, error);
                if (value != null)
                    return new ExtractedAnswer(candidate.Source, candidate.Matched, normalized, value, null) { FallbackText = first.Normalized };
                if (candidate.Kind == Kind.Latex) failedLatexSpans.Add((candidate.Start, candidate.End));
            }
        }
        return first == null ? ExtractedAnswer.Nothing : first with { FallbackText = first.Normalized };
    }

    static bool OverlapsFailedLatex(Candidate candidate, List<(int Start, int End)> spans)
    {
        if (spans.Count == 0 || candidate.ExpressionMatch is not { } match) return false;
        foreach (Group group in match.Groups)
        {
            if (!group.Success || !(group.Name == "expr" || group.Name.StartsWith('i') || group.Name.StartsWith('d'))) continue;
            if (spans.Any(s => group.Index < s.End && group.Index + group.Length > s.Start)) return true;
        }
        return false;
    }

    static (MathNode? Value, string Normalized, string? Error) ParseCandidate(Candidate candidate, MathVerifyOptions options, Deadline deadline)
    {
        switch (candidate.Kind)
        {
            case Kind.Expression:
                return ParseExpression(candidate.ExpressionMatch!, deadline);
            case Kind.Region:
                var whole = ParseLatexParts([new LatexPart(candidate.Matched, false)], deadline);
                if (whole.Value != null) return whole;
                var inner = Extract(candidate.Matched, options, deadline, allowAnswerTag: false);
                return (inner.Value, inner.Normalized ?? whole.Normalized, inner.Value == null ? inner.ParseError ?? whole.Error : null);
            default:
                return ParseLatexParts(candidate.Parts, deadline);
        }
    }

    /// <summary>Normalises and parses each part; several parts that all parse become one set (flattening sets).</summary>
    static (MathNode? Value, string Normalized, string? Error) ParseLatexParts(IReadOnlyList<LatexPart> parts, Deadline deadline)
    {
        var values = new List<MathNode?>();
        var normalized = new List<string>();
        string? error = null;
        foreach (var part in parts)
        {
            var text = LatexNormalizer.Normalize(part.Content, BoxedMode.All, deadline);
            normalized.Add(text);
            try
            {
                var value = MathParser.ParseWithLastEquationFallback(text, deadline);
                values.Add(part.Percent ? new PercentNode(value) : value);
            }
            catch (MathParseException e)
            {
                error ??= e.Message;
                values.Add(null);
            }
        }
        var joined = string.Join(" and ", normalized);
        if (values.Count == 1) return (values[0], joined, error);
        if (values.Any(v => v == null)) return (null, joined, error);
        var elements = values.SelectMany(v => v is SetNode set ? set.Elements : [v!]).ToList();
        return (new SetNode(elements), joined, null);
    }

    static (MathNode? Value, string Normalized, string? Error) ParseExpression(Match match, Deadline deadline)
    {
        var integer = FirstSuccess(match, "i1", "i2", "i3");
        var fraction = FirstSuccess(match, "d1", "d2", "d3");
        if (integer != null || fraction != null)
        {
            var digits = LatexNormalizer.StripThousands(integer ?? "").TrimStart('0');
            var negative = digits.StartsWith('-');
            if (negative) digits = digits[1..].TrimStart('0');
            if (digits.Length == 0) digits = "0";
            var numberText = (negative ? "-" : "") + digits + (fraction?.Replace(',', '.') ?? "");
            MathNode number;
            try { number = MathParser.NumberOf(numberText); }
            catch (FormatException) { return (null, numberText, $"'{numberText}' is not a number"); }
            if (match.Groups["pct"].Success) number = new PercentNode(number);
            return (number, numberText, null);
        }
        var expression = match.Groups["expr"].Value;
        try
        {
            // A sentence's full stop can end the match ("is 2/3."): "3." is the number 3.
            var plain = expression.Replace('×', '*').Replace('÷', '/').Replace('\n', ' ').TrimEnd().TrimEnd('.');
            return (MathParser.Parse(plain, deadline), expression, null);
        }
        catch (MathParseException e)
        {
            return (null, expression, e.Message);
        }
    }

    static string? FirstSuccess(Match match, params string[] names) =>
        names.Select(n => match.Groups[n]).FirstOrDefault(g => g.Success && g.Length > 0)?.Value;

    static List<Candidate> Collect(string text, MathVerifyOptions options, Deadline deadline, bool allowAnswerTag)
    {
        var candidates = new List<Candidate>();
        List<Match>? environments = null;
        List<Match> Environments() => environments ??= LatexEnvironmentRegex().Matches(text).ToList();

        foreach (var rule in options.Extraction)
        {
            deadline.Check();
            switch (rule.Source)
            {
                case AnswerSource.Boxed when options.MatchLatex:
                    AddBoxed(text, rule.Priority, candidates);
                    break;
                case AnswerSource.AnswerTag when allowAnswerTag:
                    if (AnswerTagRegex().Matches(text).LastOrDefault() is { } tag)
                        candidates.Add(new Candidate(rule.Source, rule.Priority, tag.Index, tag.Index + tag.Length, Kind.Region, tag.Groups[1].Value.Trim()));
                    break;
                case AnswerSource.Gsm8kMarker:
                    if (Gsm8kRegex().Matches(text).LastOrDefault() is { } marker)
                        candidates.Add(ExpressionCandidate(rule.Source, rule.Priority, marker));
                    break;
                case AnswerSource.FinalAnswerPhrase:
                    if (options.MatchLatex) AddAnchoredLatex(text, Environments(), rule, FinalAnswerIsRegex(), requireHope: true, candidates);
                    if (options.MatchLatex) AddFinalAnswerJustIs(text, Environments(), rule, candidates);
                    if (options.MatchExpressions)
                    {
                        AddExpressions(FinalAnswerIsExprRegex().Matches(text), rule.Source, rule.Priority, candidates);
                        AddExpressions(FinalAnswerJustIsExprRegex().Matches(text), rule.Source, rule.Priority + 50, candidates);
                    }
                    break;
                case AnswerSource.AnswerPhrase:
                    if (options.MatchLatex)
                    {
                        AddAnswerWordLatex(text, Environments(), AnswerColonRegex(), rule.Priority, candidates);
                        AddAnswerWordLatex(text, Environments(), AnswerWordRegex(), rule.Priority + 100, candidates);
                    }
                    if (options.MatchExpressions)
                    {
                        AddExpressions(AnswerColonExprRegex().Matches(text), rule.Source, rule.Priority, candidates);
                        AddExpressions(AnswerWordExprRegex().Matches(text), rule.Source, rule.Priority + 100, candidates);
                    }
                    break;
                case AnswerSource.LatexMath when options.MatchLatex:
                    var envs = Environments();
                    for (var i = 0; i < envs.Count;)
                    {
                        var group = ChainFrom(text, envs, i);
                        candidates.Add(LatexGroupCandidate(rule.Source, rule.Priority, group, text));
                        i += group.Count;
                    }
                    break;
                case AnswerSource.WholeText when options.MatchLatex:
                    var trimmed = text.Trim();
                    if (trimmed.Length is > 0 and <= 300 && !ProseRegex().IsMatch(TextCommandRegex().Replace(trimmed, "")))
                        candidates.Add(new Candidate(rule.Source, rule.Priority, 0, text.Length, Kind.Latex, trimmed) { Parts = [new LatexPart(trimmed, false)] });
                    break;
                case AnswerSource.PlainNumber when options.MatchExpressions:
                    AddExpressions(PlainExpressionRegex().Matches(text), rule.Source, rule.Priority, candidates);
                    AddExpressions(PlainNumberRegex().Matches(text), rule.Source, rule.Priority, candidates);
                    break;
            }
        }
        return candidates;
    }

    static void AddBoxed(string text, int priority, List<Candidate> candidates)
    {
        var boxes = LatexNormalizer.FindBoxes(text);
        for (var i = boxes.Count - 1; i >= 0; i--)
        {
            var content = LatexNormalizer.ExtractBoxed(text[..boxes[i].End], mergeSeparated: true) ?? boxes[i].Content;
            var percent = PercentAfterBoxRegex().Match(text, boxes[i].End);
            var end = percent.Success ? percent.Index + percent.Length : boxes[i].End;
            candidates.Add(new Candidate(AnswerSource.Boxed, priority, boxes[i].Start, end, Kind.Latex, text[boxes[i].Start..end])
            {
                Parts = [new LatexPart(content, percent.Success)],
            });
        }
    }

    static Candidate ExpressionCandidate(AnswerSource source, int priority, Match match) =>
        new(source, priority, match.Index, match.Index + match.Length, Kind.Expression, match.Value) { ExpressionMatch = match };

    static void AddExpressions(MatchCollection matches, AnswerSource source, int priority, List<Candidate> candidates)
    {
        foreach (Match match in matches) candidates.Add(ExpressionCandidate(source, priority, match));
    }

    /// <summary>Math spans joined to the one at <paramref name="start"/> by "and", "or" or a comma (at most 6).</summary>
    static List<Match> ChainFrom(string text, List<Match> envs, int start)
    {
        var group = new List<Match> { envs[start] };
        for (var i = start + 1; i < envs.Count && group.Count < 6; i++)
        {
            var previous = group[^1];
            var between = text[(previous.Index + previous.Length)..envs[i].Index];
            if (!ConnectorRegex().IsMatch(between)) break;
            group.Add(envs[i]);
        }
        return group;
    }

    static Candidate LatexGroupCandidate(AnswerSource source, int priority, List<Match> group, string text, int? anchorStart = null, int? end = null)
    {
        var start = anchorStart ?? group[0].Index;
        var stop = end ?? group[^1].Index + group[^1].Length;
        var parts = group.Select(m => new LatexPart(EnvironmentContent(m), m.Groups["pct"].Success)).ToList();
        return new Candidate(source, priority, start, stop, Kind.Latex, text[start..stop]) { Parts = parts };
    }

    static string EnvironmentContent(Match match)
    {
        foreach (var name in new[] { "c1", "c2", "c3", "c4", "c5", "c6" })
            if (match.Groups[name].Success) return match.Groups[name].Value;
        return match.Value;
    }

    static int EnvironmentStartingAt(List<Match> envs, int position)
    {
        for (var i = 0; i < envs.Count; i++)
            if (envs[i].Index == position) return i;
        return -1;
    }

    /// <summary>"final answer is" directly followed by math, then ". I hope".</summary>
    static void AddAnchoredLatex(string text, List<Match> envs, ExtractionRule rule, Regex anchor, bool requireHope, List<Candidate> candidates)
    {
        foreach (Match match in anchor.Matches(text))
        {
            var index = EnvironmentStartingAt(envs, match.Index + match.Length);
            if (index < 0) continue;
            var group = ChainFrom(text, envs, index);
            var groupEnd = group[^1].Index + group[^1].Length;
            if (requireHope)
            {
                var hope = HopeRegex().Match(text, groupEnd);
                if (!hope.Success) continue;
                groupEnd = hope.Index + hope.Length;
            }
            candidates.Add(LatexGroupCandidate(rule.Source, rule.Priority, group, text, match.Index, groupEnd));
        }
    }

    /// <summary>"final answer … is" (the "is" within 100 characters), directly followed by math.</summary>
    static void AddFinalAnswerJustIs(string text, List<Match> envs, ExtractionRule rule, List<Candidate> candidates)
    {
        foreach (Match match in FinalAnswerWordRegex().Matches(text))
        {
            var limit = Math.Min(text.Length, match.Index + match.Length + 101);
            for (var position = match.Index + match.Length; position < limit; position++)
            {
                var isMatch = IsWordRegex().Match(text, position);
                if (!isMatch.Success) continue;
                var index = EnvironmentStartingAt(envs, isMatch.Index + isMatch.Length);
                if (index < 0) continue;
                var group = ChainFrom(text, envs, index);
                candidates.Add(LatexGroupCandidate(rule.Source, rule.Priority + 50, group, text, match.Index));
                break;
            }
        }
    }

    /// <summary>The word "answer" (or "answer:") with math starting within 50 characters after it.</summary>
    static void AddAnswerWordLatex(string text, List<Match> envs, Regex anchor, int priority, List<Candidate> candidates)
    {
        foreach (Match match in anchor.Matches(text))
        {
            var from = match.Index + match.Length;
            var index = envs.FindIndex(e => e.Index >= from && e.Index <= from + 50);
            if (index < 0) continue;
            var group = ChainFrom(text, envs, index);
            candidates.Add(LatexGroupCandidate(AnswerSource.AnswerPhrase, priority, group, text, match.Index));
        }
    }

    // A word of three or more letters that is not a command: the text is prose, not a bare answer.
    [GeneratedRegex(@"(?<![\\a-zA-Z])[a-zA-Z]{3,}")]
    private static partial Regex ProseRegex();

    [GeneratedRegex(@"\\[a-zA-Z]+(?:\{[^{}]*\})?")]
    private static partial Regex TextCommandRegex();

    const string Percent = @"(?<pct>\s*(?:\\?%|[Pp]ercent(?:age)?|[Pp]ct))?";

    [GeneratedRegex(@"(?:(?<!\\)\$\$(?<c1>(?:[^$]|\$(?!\$))+?)(?<!\\)\$\$|(?<!\\)\\\[(?<c2>(?:[^\\]|\\(?!\]))+?)(?<!\\)\\\]|(?<![\\\d])\$(?<c3>(?:\\\$|[^\n$])+?)(?<!\\)\$|(?<!\\)\\\((?<c4>(?:[^\\\n]|\\(?!\)))+?)(?<!\\)\\\)|(?<=\s)\[(?<c5>[^\n\]\[]+?)\](?=\s)|(?<c6>-?\\frac\{-?\d+(?:[.,]\d+)?\}\{-?\d+(?:[.,]\d+)?\}))" + Percent,
        RegexOptions.Singleline, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex LatexEnvironmentRegex();

    [GeneratedRegex(@"^\s*(?:,?\s*and|,?\s*or|,)\s*$")]
    private static partial Regex ConnectorRegex();

    [GeneratedRegex(@"\G[\s$]*(?:\\?%|[Pp]ercent(?:age)?|[Pp]ct)")]
    private static partial Regex PercentAfterBoxRegex();

    [GeneratedRegex(@"<answer>(.*?)</answer>", RegexOptions.Singleline, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex AnswerTagRegex();

    [GeneratedRegex(@"####\s*\$?\s*(?<i1>-?\d[\d,]*)(?<d1>\.\d+)?", RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex Gsm8kRegex();

    [GeneratedRegex(@"(?i:final answer is):?\s*", RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex FinalAnswerIsRegex();

    [GeneratedRegex(@"(?i:final answer)", RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex FinalAnswerWordRegex();

    [GeneratedRegex(@"\G\s+is:?\s*")]
    private static partial Regex IsWordRegex();

    [GeneratedRegex(@"\G\.?\s?I hope")]
    private static partial Regex HopeRegex();

    [GeneratedRegex(@"(?i:answer):", RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex AnswerColonRegex();

    [GeneratedRegex(@"(?i:answer)", RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex AnswerWordRegex();

    // Plain numbers: thousands separators, decimal point or comma, leading-dot decimals, optional percent.
    const string Number = @"(?<!\d)(?:(?<i1>-?[1-9]\d{0,2}(?:[ ,]\d{3})+)(?<d1>\.\d+)?|(?<i2>-?\d+)(?<d2>[.,]\d+)|(?<d3>\.\d+)|(?<i3>-?\d+))(?<pct>\s*(?:%|[Pp]ercent|\s*[Pp]ercentage|\s*[Pp]ct))?";
    const string ExprChars = @"[\d.\s+\-*×/^()÷]";
    const string Expr = @"(?<expr>-?\(?-?\d" + ExprChars + @"*[+\-*×/^()÷]" + ExprChars + @"+\)?)";
    const string Prefix = @"(?:^|\s|=)(?:\*\*)?";
    const string Suffix = @"(?:\*\*)?(?:\.|,|:|\s|\)|\$|$)";
    const string Currency = @"\\?[$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₭₮₯₰₱₲₳₴₵₶₷₸₺₻₼₾₿]?";
    const string ExprWithAnchors = "(?:" + Prefix + Expr + Suffix + ")";
    const string NumberWithAnchors = "(?:" + Prefix + Currency + Number + ")";
    const string ExprOrNumber = "(?:" + ExprWithAnchors + "|" + NumberWithAnchors + ")";

    [GeneratedRegex(@"(?i:final answer is):?\s*" + ExprOrNumber + @"\.?\s?I hope", RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex FinalAnswerIsExprRegex();

    [GeneratedRegex(@"(?i:final answer.{0,100}?)\s+is:?" + ExprOrNumber, RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex FinalAnswerJustIsExprRegex();

    [GeneratedRegex(@"(?i:answer):(?:.{0,100}=\s*|.{0,50}?)" + ExprOrNumber + @"(?!\s*=)", RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex AnswerColonExprRegex();

    [GeneratedRegex(@"(?i:answer)(?:.{0,100}=\s*|.{0,50}?)" + ExprOrNumber + @"(?!\s*=)", RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex AnswerWordExprRegex();

    [GeneratedRegex(ExprWithAnchors, RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex PlainExpressionRegex();

    [GeneratedRegex(NumberWithAnchors, RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex PlainNumberRegex();
}
