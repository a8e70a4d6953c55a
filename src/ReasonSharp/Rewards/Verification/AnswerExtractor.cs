using System.Text.RegularExpressions;

namespace ReasonSharp.Rewards.Verification;

/// <summary>
/// Finds the answer in a text with the rules of <see cref="MathVerifyOptions.Extraction"/>: matches are tried by
/// priority, rightmost first within a priority, and the first one that parses is the answer (math-verify's
/// "any match" mode). The first match's normalised text is kept as a string fallback.
/// </summary>
internal static partial class AnswerExtractor
{
    enum Kind { Latex, Expression, Region, Whole }

    sealed record LatexPart(string Content, bool Percent);

    sealed record Candidate(AnswerSource Source, int Priority, int Start, int End, Kind Kind, string Matched)
    {
        public IReadOnlyList<LatexPart> Parts { get; init; } = [];
        public Match? ExpressionMatch { get; init; }
    }

    /// <summary>
    /// The gold answer. A gold that reads as math as a whole ("2^{10}", "5!", "0&lt;x\le 1", "1e5") is parsed whole —
    /// a plain number, else a plain expression, else LaTeX — and never searched for a piece that parses; a solution
    /// text (with \boxed, ####, &lt;answer&gt;, $…$ or prose) goes through the extraction rules.
    /// </summary>
    public static ExtractedAnswer ExtractGold(string text, MathVerifyOptions options, Deadline deadline)
    {
        RequireLength(text, options, "gold");
        var trimmed = text.Trim();
        if (!IsBareMath(trimmed) || HasAnchor(trimmed) || trimmed.Contains('$'))
            return Extract(text, options, deadline);
        var (value, normalized, error) = ParseWhole(trimmed, options, deadline);
        return new ExtractedAnswer(AnswerSource.WholeText, trimmed, normalized, value, error)
        {
            FallbackText = normalized,
        };
    }

    public static ExtractedAnswer Extract(string text, MathVerifyOptions options, Deadline deadline,
        bool allowAnswerTag = true)
    {
        RequireLength(text, options, "prediction");
        // Rules are collected lazily, priority level by level: when a boxed answer parses, the patterns of the later
        // rules never run over the text.
        var collector = new Collector(text, options, deadline, allowAnswerTag);
        var pending = options.Extraction.ToList();
        var candidates = new List<Candidate>();
        var failedLatexSpans = new List<(int Start, int End)>();
        ExtractedAnswer? first = null;
        foreach (var level in options.Extraction.SelectMany(PrioritiesOf).Distinct().Order())
        {
            foreach (var rule in pending.Where(r => PrioritiesOf(r).Contains(level)).ToList())
            {
                candidates.AddRange(collector.Collect(rule));
                pending.Remove(rule);
            }
            var atLevel = candidates.Where(c => c.Priority == level).OrderByDescending(c => c.End).ThenBy(c => c.Start);
            foreach (var candidate in atLevel)
            {
                deadline.Check();
                if (candidate.Kind == Kind.Expression && OverlapsFailedLatex(candidate, failedLatexSpans)) continue;
                var (value, normalized, error) = ParseCandidate(candidate, options, deadline);
                first ??= new ExtractedAnswer(candidate.Source, candidate.Matched, normalized, null, error);
                if (value != null)
                    return new ExtractedAnswer(candidate.Source, candidate.Matched, normalized, value, null)
                    {
                        FallbackText = first.Normalized,
                    };
                if (candidate.Kind == Kind.Latex) failedLatexSpans.Add((candidate.Start, candidate.End));
            }
        }
        return first == null ? ExtractedAnswer.Nothing : first with { FallbackText = first.Normalized };
    }

    static void RequireLength(string text, MathVerifyOptions options, string side)
    {
        if (text.Length > options.MaxInputLength)
            throw new VerificationSizeException(
                $"the {side} is {text.Length} characters, over the cap of {options.MaxInputLength} (MaxInputLength)");
    }

    /// <summary>Math rather than prose: no word of three or more letters outside commands and \text{…} other than
    /// "and"/"or", and none of the common two-letter words ("x is 5" is prose, "xy" is math).</summary>
    static bool IsBareMath(string trimmed) =>
        trimmed.Length > 0 && !ProseRegex().IsMatch(TextCommandRegex().Replace(trimmed, " "));

    static bool HasAnchor(string text) =>
        text.Contains(@"\boxed", StringComparison.Ordinal) || text.Contains(@"\fbox", StringComparison.Ordinal)
        || text.Contains("####", StringComparison.Ordinal)
        || text.Contains("<answer>", StringComparison.OrdinalIgnoreCase);

    static bool OverlapsFailedLatex(Candidate candidate, List<(int Start, int End)> spans)
    {
        if (spans.Count == 0 || candidate.ExpressionMatch is not { } match) return false;
        foreach (Group group in match.Groups)
        {
            if (!group.Success
                || !(group.Name == "expr" || group.Name.StartsWith('i') || group.Name.StartsWith('d'))) continue;
            if (spans.Any(s => group.Index < s.End && group.Index + group.Length > s.Start)) return true;
        }
        return false;
    }

    static (MathNode? Value, string Normalized, string? Error) ParseCandidate(Candidate candidate,
        MathVerifyOptions options, Deadline deadline)
    {
        switch (candidate.Kind)
        {
            case Kind.Expression:
                return ParseExpression(candidate.ExpressionMatch!, options, deadline);
            case Kind.Whole:
                return ParseWhole(candidate.Matched, options, deadline);
            case Kind.Region:
                if (IsBareMath(candidate.Matched))
                {
                    var whole = ParseWhole(candidate.Matched, options, deadline);
                    if (whole.Value != null) return whole;
                }
                var inner = Extract(candidate.Matched, options, deadline, allowAnswerTag: false);
                var why = inner.Value == null ? inner.ParseError ?? "nothing parsed" : null;
                return (inner.Value, inner.Normalized ?? candidate.Matched, why);
            default:
                return ParseLatexParts(candidate.Parts, options, deadline);
        }
    }

    /// <summary>
    /// A text taken as one answer: a plain number ("1 000", "1,22", "$5", "28%", "1e5"), else a plain expression in
    /// Python's reading (2^10 = 1024), else LaTeX. Fails rather than keep a piece: "2^{10}" is never 2.
    /// </summary>
    static (MathNode? Value, string Normalized, string? Error) ParseWhole(string text, MathVerifyOptions options,
        Deadline deadline)
    {
        var trimmed = text.Trim();
        if (options.MatchExpressions)
        {
            if (Patterns.Match(WholeNumberRegex(), trimmed, 0, deadline) is { Success: true } number)
                return ParseExpression(number, options, deadline);
            if (Patterns.Match(WholeExpressionRegex(), trimmed, 0, deadline) is { Success: true } expression)
            {
                var plain = ParseExpression(expression, options, deadline);
                if (plain.Value != null || !options.MatchLatex) return plain;
            }
            if (!options.MatchLatex) return (null, trimmed, "not a plain number or expression");
        }
        return ParseLatexParts([new LatexPart(trimmed, false)], options, deadline);
    }

    /// <summary>Normalises and parses each part; several parts that all parse become one set (flattening
    /// sets).</summary>
    static (MathNode? Value, string Normalized, string? Error) ParseLatexParts(IReadOnlyList<LatexPart> parts,
        MathVerifyOptions options, Deadline deadline)
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
                var value = MathParser.ParseWithLastEquationFallback(text, deadline, options.MaxNumberDigits);
                values.Add(part.Percent ? new PercentNode(value) : value);
            }
            catch (NumberTooLargeException e)
            {
                throw new VerificationSizeException(e.Message);
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

    static (MathNode? Value, string Normalized, string? Error) ParseExpression(Match match, MathVerifyOptions options,
        Deadline deadline)
    {
        var integer = FirstSuccess(match, "i1", "i2", "i3");
        var fraction = FirstSuccess(match, "d1", "d2", "d3");
        if (integer != null || fraction != null)
        {
            var digits = LatexNormalizer.StripThousands(integer ?? "").TrimStart('0');
            var negative = digits.StartsWith('-');
            if (negative) digits = digits[1..].TrimStart('0');
            if (digits.Length == 0) digits = "0";
            var numberText = (negative ? "-" : "") + digits + (fraction?.Replace(',', '.') ?? "")
                             + match.Groups["exp"].Value;
            MathNode number;
            try { number = MathParser.NumberOf(numberText, options.MaxNumberDigits, deadline); }
            catch (NumberTooLargeException e) { throw new VerificationSizeException(e.Message); }
            catch (FormatException) { return (null, numberText, $"'{numberText}' is not a number"); }
            if (match.Groups["pct"].Success) number = new PercentNode(number);
            return (number, numberText, null);
        }
        var expression = match.Groups["expr"].Value;
        try
        {
            // A sentence's full stop can end the match ("is 2/3."): "3." is the number 3.
            var plain = expression.Replace('×', '*').Replace('÷', '/').Replace('\n', ' ').TrimEnd().TrimEnd('.');
            return (MathParser.Parse(plain, deadline, options.MaxNumberDigits, plain: true), expression, null);
        }
        catch (NumberTooLargeException e)
        {
            throw new VerificationSizeException(e.Message);
        }
        catch (MathParseException e)
        {
            return (null, expression, e.Message);
        }
    }

    static string? FirstSuccess(Match match, params string[] names) =>
        names.Select(n => match.Groups[n]).FirstOrDefault(g => g.Success && g.Length > 0)?.Value;

    static IEnumerable<Match> Matches(Regex regex, string text, Deadline deadline) =>
        Patterns.Matches(regex, text, deadline);

    /// <summary>The priority levels of a rule's candidates ("final answer … is" +50, bare "answer" +100).</summary>
    static int[] PrioritiesOf(ExtractionRule rule) => rule.Source switch
    {
        AnswerSource.FinalAnswerPhrase => [rule.Priority, rule.Priority + 50],
        AnswerSource.AnswerPhrase => [rule.Priority, rule.Priority + 100],
        _ => [rule.Priority],
    };

    /// <summary>Finds the candidates of one rule at a time; the math spans are found once, when first needed.</summary>
    sealed class Collector(string text, MathVerifyOptions options, Deadline deadline, bool allowAnswerTag)
    {
        Environments? _environments;

        Environments Envs() =>
            _environments ??= new Environments(Matches(LatexEnvironmentRegex(), text, deadline).ToList());

        public List<Candidate> Collect(ExtractionRule rule)
        {
            var candidates = new List<Candidate>();
            deadline.Check();
            switch (rule.Source)
            {
                case AnswerSource.Boxed when options.MatchLatex:
                    AddBoxed(text, rule.Priority, candidates, deadline);
                    break;
                case AnswerSource.AnswerTag when allowAnswerTag:
                    if (Matches(AnswerTagRegex(), text, deadline).LastOrDefault() is { } tag)
                        candidates.Add(new Candidate(rule.Source, rule.Priority, tag.Index, tag.Index + tag.Length,
                            Kind.Region, tag.Groups[1].Value.Trim()));
                    break;
                case AnswerSource.Gsm8kMarker:
                    if (Matches(Gsm8kRegex(), text, deadline).LastOrDefault() is { } marker)
                        AddGsm8k(text, marker, rule, options, candidates, deadline);
                    break;
                case AnswerSource.FinalAnswerPhrase:
                    if (options.MatchLatex)
                    {
                        AddAnchoredLatex(text, Envs(), rule, FinalAnswerIsRegex(), candidates, deadline);
                        AddFinalAnswerJustIs(text, Envs(), rule, candidates, deadline);
                    }
                    if (options.MatchExpressions)
                    {
                        Add(FinalAnswerIsExprRegex(), rule, rule.Priority, candidates);
                        Add(FinalAnswerJustIsExprRegex(), rule, rule.Priority + 50, candidates);
                    }
                    break;
                case AnswerSource.AnswerPhrase:
                    if (options.MatchLatex)
                    {
                        AddAnswerWordLatex(text, Envs(), AnswerColonRegex(), rule.Priority, candidates, deadline);
                        AddAnswerWordLatex(text, Envs(), AnswerWordRegex(), rule.Priority + 100, candidates, deadline);
                    }
                    if (options.MatchExpressions)
                    {
                        Add(AnswerColonExprRegex(), rule, rule.Priority, candidates);
                        Add(AnswerWordExprRegex(), rule, rule.Priority + 100, candidates);
                    }
                    break;
                case AnswerSource.LatexMath when options.MatchLatex:
                    var envs = Envs().List;
                    for (var i = 0; i < envs.Count;)
                    {
                        deadline.Check();
                        var group = ChainFrom(text, envs, i);
                        candidates.Add(LatexGroupCandidate(rule.Source, rule.Priority, group, text));
                        i += group.Count;
                    }
                    break;
                case AnswerSource.WholeText when options.MatchLatex || options.MatchExpressions:
                    var trimmed = text.Trim();
                    if (trimmed.Length <= 300 && IsBareMath(trimmed) && !HasAnchor(trimmed))
                        candidates.Add(new Candidate(rule.Source, rule.Priority, 0, text.Length, Kind.Whole, trimmed));
                    break;
                case AnswerSource.PlainNumber when options.MatchExpressions:
                    Add(PlainExpressionRegex(), rule, rule.Priority, candidates);
                    Add(PlainNumberRegex(), rule, rule.Priority, candidates);
                    break;
            }
            return candidates;
        }

        /// <summary>Every match of an expression or number pattern, a candidate at
        /// <paramref name="priority"/>.</summary>
        void Add(Regex regex, ExtractionRule rule, int priority, List<Candidate> candidates) =>
            AddExpressions(Matches(regex, text, deadline), rule.Source, priority, candidates);
    }

    /// <summary>The math spans of a text in order, with a lookup by start position.</summary>
    sealed class Environments(List<Match> list)
    {
        readonly Dictionary<int, int> _byStart =
            list.Select((m, i) => (m.Index, i)).ToDictionary(p => p.Index, p => p.i);
        public List<Match> List { get; } = list;

        public int StartingAt(int position) => _byStart.TryGetValue(position, out var index) ? index : -1;

        /// <summary>The first span starting in [from, to], or -1 (binary search: spans are sorted and
        /// disjoint).</summary>
        public int FirstStartingIn(int from, int to)
        {
            int low = 0, high = List.Count;
            while (low < high)
            {
                var mid = (low + high) / 2;
                if (List[mid].Index < from) low = mid + 1;
                else high = mid;
            }
            return low < List.Count && List[low].Index <= to ? low : -1;
        }
    }

    /// <summary>Every \boxed/\fbox, rightmost first; a box joined to earlier ones by and/or/,/; carries them along
    /// (at most <see cref="LatexNormalizer.MaxMergedBoxes"/> in all).</summary>
    static void AddBoxed(string text, int priority, List<Candidate> candidates, Deadline deadline)
    {
        var boxes = LatexNormalizer.FindBoxes(text, deadline);
        for (var i = boxes.Count - 1; i >= 0; i--)
        {
            deadline.Check();
            var first = LatexNormalizer.FirstMergedBox(text, boxes, i);
            var content = first == i
                ? boxes[i].Content
                : string.Join(",", boxes.Skip(first).Take(i - first + 1).Select(b => b.Content));
            var percent = PercentAfterBoxRegex().Match(text, boxes[i].End);
            var end = percent.Success ? percent.Index + percent.Length : boxes[i].End;
            var matched = text[boxes[i].Start..end];
            candidates.Add(new Candidate(AnswerSource.Boxed, priority, boxes[i].Start, end, Kind.Latex, matched)
            {
                Parts = [new LatexPart(content, percent.Success)],
            });
        }
    }

    /// <summary>"#### N": the number when the marker is followed by one (and nothing continuing it, so "#### 2^{10}"
    /// is not 2), else the rest of the line as one answer.</summary>
    static void AddGsm8k(string text, Match marker, ExtractionRule rule, MathVerifyOptions options,
        List<Candidate> candidates, Deadline deadline)
    {
        var rest = marker.Groups["rest"];
        if (options.MatchExpressions
            && Patterns.Match(Gsm8kNumberRegex(), text, rest.Index, deadline) is { Success: true } number)
            candidates.Add(ExpressionCandidate(rule.Source, rule.Priority, number));
        else if (rest.Value.Trim().Length > 0)
            candidates.Add(new Candidate(rule.Source, rule.Priority, marker.Index, marker.Index + marker.Length,
                Kind.Whole, rest.Value.Trim()));
    }

    static Candidate ExpressionCandidate(AnswerSource source, int priority, Match match) =>
        new(source, priority, match.Index, match.Index + match.Length, Kind.Expression, match.Value) { ExpressionMatch = match };

    static void AddExpressions(IEnumerable<Match> matches, AnswerSource source, int priority,
        List<Candidate> candidates)
    {
        foreach (var match in matches) candidates.Add(ExpressionCandidate(source, priority, match));
    }

    /// <summary>Math spans joined to the one at <paramref name="start"/> by "and", "or" or a comma (at most
    /// 6).</summary>
    static List<Match> ChainFrom(string text, List<Match> envs, int start)
    {
        var group = new List<Match> { envs[start] };
        for (var i = start + 1; i < envs.Count && group.Count < 6; i++)
        {
            var previous = group[^1];
            if (!IsConnector(text, previous.Index + previous.Length, envs[i].Index)) break;
            group.Add(envs[i]);
        }
        return group;
    }

    /// <summary>Whether text[from..to] is "and", "or", ",", ", and" or ", or" with any spacing; stops at the first
    /// character that cannot belong, so long gaps cost nothing.</summary>
    static bool IsConnector(string text, int from, int to)
    {
        var i = from;
        void Spaces() { while (i < to && char.IsWhiteSpace(text[i])) i++; }
        bool Word(string word)
        {
            if (to - i < word.Length || string.CompareOrdinal(text, i, word, 0, word.Length) != 0) return false;
            i += word.Length;
            return true;
        }
        Spaces();
        var comma = i < to && text[i] == ',';
        if (comma) i++;
        Spaces();
        var word = Word("and") || Word("or");
        if (!comma && !word) return false;
        Spaces();
        return i == to;
    }

    static Candidate LatexGroupCandidate(AnswerSource source, int priority, List<Match> group, string text,
        int? anchorStart = null, int? end = null)
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

    /// <summary>"final answer is" directly followed by math, then ". I hope".</summary>
    static void AddAnchoredLatex(string text, Environments envs, ExtractionRule rule, Regex anchor,
        List<Candidate> candidates, Deadline deadline)
    {
        foreach (var match in Matches(anchor, text, deadline))
        {
            var index = envs.StartingAt(match.Index + match.Length);
            if (index < 0) continue;
            var group = ChainFrom(text, envs.List, index);
            var hope = HopeRegex().Match(text, group[^1].Index + group[^1].Length);
            if (!hope.Success) continue;
            var end = hope.Index + hope.Length;
            candidates.Add(LatexGroupCandidate(rule.Source, rule.Priority, group, text, match.Index, end));
        }
    }

    /// <summary>"final answer … is" (the "is" within 100 characters), directly followed by math.</summary>
    static void AddFinalAnswerJustIs(string text, Environments envs, ExtractionRule rule, List<Candidate> candidates,
        Deadline deadline)
    {
        foreach (var match in Matches(FinalAnswerWordRegex(), text, deadline))
        {
            var limit = Math.Min(text.Length, match.Index + match.Length + 101);
            for (var position = match.Index + match.Length; position < limit; position++)
            {
                var isMatch = IsWordRegex().Match(text, position);
                if (!isMatch.Success) continue;
                var index = envs.StartingAt(isMatch.Index + isMatch.Length);
                if (index < 0) continue;
                var group = ChainFrom(text, envs.List, index);
                candidates.Add(LatexGroupCandidate(rule.Source, rule.Priority + 50, group, text, match.Index));
                break;
            }
        }
    }

    /// <summary>The word "answer" (or "answer:") with math starting within 50 characters after it.</summary>
    static void AddAnswerWordLatex(string text, Environments envs, Regex anchor, int priority,
        List<Candidate> candidates, Deadline deadline)
    {
        foreach (var match in Matches(anchor, text, deadline))
        {
            var from = match.Index + match.Length;
            var index = envs.FirstStartingIn(from, from + 50);
            if (index < 0) continue;
            var group = ChainFrom(text, envs.List, index);
            candidates.Add(LatexGroupCandidate(AnswerSource.AnswerPhrase, priority, group, text, match.Index));
        }
    }

    // A word of three or more letters that is not a command (except "and"/"or", which list answers), or a common
    // two-letter word: the text is prose, not a bare answer.
    [GeneratedRegex(@"(?<![\\a-zA-Z])(?!(?:and|or)(?![a-zA-Z]))"
                    + @"(?:[a-zA-Z]{3,}|(?:is|it|at|to|of|so|if|be|by|as|we|on|an|no|do|he|my|us|am|go)(?![a-zA-Z]))")]
    private static partial Regex ProseRegex();

    [GeneratedRegex(@"\\[a-zA-Z]+(?:\{[^{}]*\})?")]
    private static partial Regex TextCommandRegex();

    const string Percent = @"(?<pct>\s*(?:\\?%|[Pp]ercent(?:age)?|[Pp]ct))?";

    // Math spans: $$…$$, \[…\], $…$, \(…\), " […] ", a bare \frac{a}{b}. A \[ or \( span cannot contain
    // another opener, so an unclosed opener is searched only up to the next one (linear on "\[ \[ \[ …").
    [GeneratedRegex(@"(?:(?<!\\)\$\$(?<c1>(?:[^$]|\$(?!\$))+?)(?<!\\)\$\$"
                    + @"|(?<!\\)\\\[(?<c2>(?:[^\\]|\\(?![\[\]]))+?)(?<!\\)\\\]"
                    + @"|(?<![\\\d])\$(?<c3>(?:\\\$|[^\n$])+?)(?<!\\)\$"
                    + @"|(?<!\\)\\\((?<c4>(?:[^\\\n]|\\(?![()]))+?)(?<!\\)\\\)"
                    + @"|(?<=\s)\[(?<c5>[^\n\]\[]+?)\](?=\s)"
                    + @"|(?<c6>-?\\frac\{-?\d+(?:[.,]\d+)?\}\{-?\d+(?:[.,]\d+)?\}))" + Percent,
        RegexOptions.Singleline, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex LatexEnvironmentRegex();

    [GeneratedRegex(@"\G[\s$]*(?:\\?%|[Pp]ercent(?:age)?|[Pp]ct)")]
    private static partial Regex PercentAfterBoxRegex();

    [GeneratedRegex(@"<answer>(.*?)</answer>",
        RegexOptions.Singleline, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex AnswerTagRegex();

    [GeneratedRegex(@"####[ \t]*(?<rest>[^\n]*)",
        RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex Gsm8kRegex();

    // The number right after "####" (thousands commas, decimals); not when an operator continues it.
    [GeneratedRegex(@"\G\$?\s*(?<i1>-?\d[\d,]*)(?<d1>\.\d+)?(?![\d.])" + NotContinued,
        RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex Gsm8kNumberRegex();

    [GeneratedRegex(@"(?i:final answer is):?\s*",
        RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
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

    // Commands that join a number to a larger expression or relation after it (kept short: every pattern holding a
    // number repeats it, and the generated code is compiled on first use).
    const string JoiningCommand = @"\\(?:[lg]eq?|[lg]t|neq?|times|cdot|div|pm|mp|sqrt|frac|pi)(?![a-zA-Z])";

    // What may not follow a number taken on its own: an exponent, subscript or group, a joining command, a
    // relation, an operator with an operand, or a factorial "!" that is not the end of a sentence. Such a number is
    // the start of a larger expression ("2^{10}", "1.5 \times 10^5", "5!/3", "0 < x \le 1"), and reading it alone
    // would score a prefix.
    const string NotContinued =
        @"(?!\s*(?:[\^_{<>≤≥≠]|" + JoiningCommand + @"|[*/×÷+\-]\s*[\d(.])|!(?![\s.,;:?)]|$))";

    // What may not come before it: a command other than \boxed/\fbox, a relation, ^, _ or a product/quotient sign
    // ("\le 1", "\log 8", "\times 10"): the number is the end of a larger expression.
    const string NotPreceded = @"(?<!(?:\\(?!boxed|fbox)[a-zA-Z]+|[<>≤≥≠^_*/×÷])\s*)";

    // Plain numbers: thousands separators, decimal point or comma, leading-dot decimals, 1e5 exponents, optional
    // percent, and nothing continuing them.
    const string Number = NotPreceded + @"(?<!\d)(?:(?<i1>-?[1-9]\d{0,2}(?:[ ,]\d{3})+)(?<d1>\.\d+)?"
        + @"|(?<i2>-?\d+)(?<d2>[.,]\d+)|(?<d3>\.\d+)|(?<i3>-?\d+))(?<exp>[eE][+\-]?\d+(?![a-zA-Z\d]))?"
        + @"(?<pct>\s*(?:%|[Pp]ercent|\s*[Pp]ercentage|\s*[Pp]ct))?" + NotContinued;
    const string ExprChars = @"[\d.\s+\-*×/^()÷]";
    const string ExprOperators = @"[+\-*×/^()÷]";
    // The part before the first operator is matched atomically (it holds no operator, so nothing is lost) to keep
    // the search linear in the length of a run of digits and spaces.
    const string ExprCore = @"-?\(?-?\d(?>[\d.\s]*)" + ExprOperators + ExprChars + @"+\)?";
    const string Expr = "(?<expr>" + ExprCore + ")";
    const string Prefix = @"(?:^|\s|=)(?:\*\*)?";
    const string Suffix = @"(?:\*\*)?(?:\.|,|:|\s|\)|\$|$)";
    const string Currency = @"\\?[$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₭₮₯₰₱₲₳₴₵₶₷₸₺₻₼₾₿]?";
    // An expression does not start right after "digit spaces": a start further left in the same run of digits and
    // spaces already tried (and failed) the same continuation, so skipping keeps the search linear ("1 1 1 …").
    const string ExprWithAnchors = "(?:" + Prefix + @"(?<![\d.]\s+)" + Expr + Suffix + ")";
    const string NumberWithAnchors = "(?:" + Prefix + Currency + Number + ")";
    const string ExprOrNumber = "(?:" + ExprWithAnchors + "|" + NumberWithAnchors + ")";

    // A whole text that is one plain number ("$1,000.99", "1 000", "28 %", "5€"); the first group set decides.
    [GeneratedRegex(@"^\s*" + Currency + Number + @"\s*" + Currency + @"\s*\.?\s*$",
        RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex WholeNumberRegex();

    // A whole text that is one plain expression ("2^10", "3 × 4", "(1+2)/3").
    [GeneratedRegex(@"^\s*" + Expr + @"\s*\.?\s*$",
        RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex WholeExpressionRegex();

    [GeneratedRegex(@"(?i:final answer is):?\s*" + ExprOrNumber + @"\.?\s?I hope",
        RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex FinalAnswerIsExprRegex();

    [GeneratedRegex(@"(?i:final answer.{0,100}?)\s+is:?" + ExprOrNumber,
        RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex FinalAnswerJustIsExprRegex();

    [GeneratedRegex(@"(?i:answer):(?:.{0,100}=\s*|.{0,50}?)" + ExprOrNumber + @"(?!\s*=)",
        RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex AnswerColonExprRegex();

    [GeneratedRegex(@"(?i:answer)(?:.{0,100}=\s*|.{0,50}?)" + ExprOrNumber + @"(?!\s*=)",
        RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex AnswerWordExprRegex();

    [GeneratedRegex(ExprWithAnchors, RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex PlainExpressionRegex();

    [GeneratedRegex(NumberWithAnchors, RegexOptions.None, matchTimeoutMilliseconds: LatexNormalizer.RegexTimeoutMs)]
    private static partial Regex PlainNumberRegex();
}
