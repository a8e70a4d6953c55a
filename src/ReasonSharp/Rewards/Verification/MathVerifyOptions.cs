namespace ReasonSharp.Rewards.Verification;

/// <summary>Where an answer can be found in a text.</summary>
public enum AnswerSource
{
    /// <summary>The last \boxed{…}/\fbox{…} (earlier boxes joined to it by "and"/","/… are included).</summary>
    Boxed,
    /// <summary>The last &lt;answer&gt;…&lt;/answer&gt;; its content is parsed whole, else searched with the other
    /// rules.</summary>
    AnswerTag,
    /// <summary>GSM8K's "#### 42".</summary>
    Gsm8kMarker,
    /// <summary>"The final answer is X. I hope it is correct." and "final answer … is X".</summary>
    FinalAnswerPhrase,
    /// <summary>"Answer: X", "the answer is X" (X within 50 characters of the word "answer").</summary>
    AnswerPhrase,
    /// <summary>Any math span: $…$, $$…$$, \(…\), \[…\], a bare \frac{a}{b}; several joined by "and"/"or"/"," form a
    /// set.</summary>
    LatexMath,
    /// <summary>A number (thousands separators, decimal comma, currency, %) or a simple expression like 2/3.</summary>
    PlainNumber,
    /// <summary>The whole text as one answer ("2^{10}", "\frac{\sqrt3}{2}", "(1, 2]", "1 000"), when it reads like math
    /// rather than prose: a plain number, else a plain expression (2^10 = 1024), else LaTeX.</summary>
    WholeText,
}

/// <summary>One extraction rule: lower priority values are tried first; within a priority the rightmost match
/// wins.</summary>
public sealed record ExtractionRule(AnswerSource Source, int Priority);

/// <summary>
/// Options of <see cref="MathVerifier"/>. Defaults follow math-verify: both LaTeX and plain-expression targets,
/// boxed answers first, floats compared after rounding to 6 decimals, strict variables, 3 s per verification.
/// </summary>
public sealed record MathVerifyOptions
{
    /// <summary>math-verify's priorities (boxed and "final answer is" 0, "answer:" 100, bare math 300) plus
    /// &lt;answer&gt; tags and GSM8K's "####" at 0, and a text that is math as a whole at 250 (before its
    /// pieces).</summary>
    public static IReadOnlyList<ExtractionRule> DefaultExtraction { get; } =
    [
        new(AnswerSource.Boxed, 0),
        new(AnswerSource.AnswerTag, 0),
        new(AnswerSource.Gsm8kMarker, 0),
        new(AnswerSource.FinalAnswerPhrase, 0),
        new(AnswerSource.AnswerPhrase, 100),
        new(AnswerSource.LatexMath, 300),
        new(AnswerSource.PlainNumber, 300),
        new(AnswerSource.WholeText, 250),
    ];

    /// <summary>Rules for the prediction (and for the gold unless <see cref="GoldExtraction"/> is set).
    /// FinalAnswerPhrase's "final answer … is X" form runs at its priority + 50, AnswerPhrase's bare "answer … X" at +
    /// 100.</summary>
    public IReadOnlyList<ExtractionRule> Extraction { get; init; } = DefaultExtraction;

    /// <summary>Rules for the gold text when they should differ from the prediction's; null uses
    /// <see cref="Extraction"/>.</summary>
    public IReadOnlyList<ExtractionRule>? GoldExtraction { get; init; }

    /// <summary>Look for LaTeX answers (math-verify's LatexExtractionConfig). Boxed and LatexMath need it.</summary>
    public bool MatchLatex { get; init; } = true;

    /// <summary>Look for plain numbers and expressions (math-verify's ExprExtractionConfig). PlainNumber needs
    /// it.</summary>
    public bool MatchExpressions { get; init; } = true;

    /// <summary>Decimals kept when a float literal is involved (math-verify's float_rounding).</summary>
    public int FloatRounding { get; init; } = 6;

    /// <summary>When false, variable names do not matter (x+1 matches y+1) and sets match tuples.</summary>
    public bool Strict { get; init; } = true;

    /// <summary>Also let a gold set match a predicted relation (a predicted set always matches a gold
    /// relation).</summary>
    public bool AllowSetRelationComparison { get; init; }

    /// <summary>Time limit of one verification (extraction, parsing and comparison of both texts), enforced
    /// cooperatively everywhere; past it the verdict is <see cref="VerifyOutcome.TimedOut"/>.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Longest gold or prediction text read, in characters; a longer one is refused
    /// (<see cref="VerifyOutcome.TooLarge"/>) before any work is done.</summary>
    public int MaxInputLength { get; init; } = 100_000;

    /// <summary>Most digits in one number literal (and largest |exponent| in 1e5 notation); a larger number is
    /// refused (<see cref="VerifyOutcome.TooLarge"/>) instead of being computed with.</summary>
    public int MaxNumberDigits { get; init; } = 1_000;

    /// <summary>Largest <see cref="FloatRounding"/> accepted.</summary>
    public const int MaxFloatRounding = 100;

    public static MathVerifyOptions Default { get; } = new();

    /// <summary>Throws a <see cref="ReasonSharpException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (FloatRounding is < 0 or > MaxFloatRounding)
            throw new ReasonSharpException(
                $"FloatRounding (precision) must be 0..{MaxFloatRounding}, got {FloatRounding}");
        if (!(Timeout > TimeSpan.Zero) || Timeout == System.Threading.Timeout.InfiniteTimeSpan || Timeout.TotalDays > 1)
            throw new ReasonSharpException($"Timeout must be positive and at most one day, got " +
                $"{Timeout.TotalSeconds} s");
        if (MaxInputLength < 1)
            throw new ReasonSharpException($"MaxInputLength must be at least 1, got {MaxInputLength}");
        if (MaxNumberDigits < 1)
            throw new ReasonSharpException($"MaxNumberDigits must be at least 1, got {MaxNumberDigits}");
    }

    /// <summary>Options matching math-verify's match types ("latex", "expr").</summary>
    public static MathVerifyOptions ForMatchTypes(IEnumerable<string> matchTypes)
    {
        var types = matchTypes.ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var type in types)
            if (type is not ("latex" or "expr"))
                throw new ReasonSharpException($"unknown match type '{type}': expected 'latex' or 'expr'");
        return new MathVerifyOptions { MatchLatex = types.Contains("latex"), MatchExpressions = types.Contains("expr") };
    }
}

/// <summary>Which limit stopped the work on one side.</summary>
public enum VerifyLimit { None, Time, Size }

/// <summary>What was taken from one side of a comparison and how it parsed.</summary>
public sealed record ExtractedAnswer(AnswerSource? Source, string? Matched, string? Normalized, MathNode? Value,
    string? ParseError)
{
    /// <summary>The normalised text of the first match, compared as a string when parsing fails (math-verify's
    /// fallback).</summary>
    public string? FallbackText { get; init; }

    /// <summary>Set when extraction stopped at the time limit or a size cap; <see cref="ParseError"/> says
    /// which.</summary>
    public VerifyLimit Limit { get; init; }

    public static ExtractedAnswer Nothing { get; } = new(null, null, null, null, null);

    internal static ExtractedAnswer Stopped(VerifyLimit limit, string why) =>
        new(null, null, null, null, why) { Limit = limit };

    public override string ToString()
    {
        if (Limit != VerifyLimit.None) return $"stopped: {ParseError}";
        if (Source == null) return "nothing extracted";
        var value = Value != null ? $"parsed as {Value}" : $"not parsed ({ParseError})";
        return $"{Source} \"{Shorten(Matched)}\" -> \"{Shorten(Normalized)}\", {value}";
    }

    static string Shorten(string? text) => text == null ? "" : text.Length <= 120 ? text : text[..117] + "...";
}

/// <summary>How a verification ended. A reward scores Equivalent 1, NotEquivalent, TimedOut and TooLarge 0, and
/// GoldUnusable not at all (null).</summary>
public enum VerifyOutcome
{
    Equivalent,
    /// <summary>Different values, no answer in the prediction, or a prediction that did not parse.</summary>
    NotEquivalent,
    /// <summary>The time limit passed while the prediction was extracted, parsed or compared.</summary>
    TimedOut,
    /// <summary>The prediction (or a value computed from the pair) is over a size cap: refused, not guessed.</summary>
    TooLarge,
    /// <summary>The gold gave no answer, did not parse (and the texts differ), is over a cap or ran out of
    /// time.</summary>
    GoldUnusable,
}

/// <summary>The verdict of <see cref="MathVerifier.Verify(string, string, MathVerifyOptions?, CancellationToken)"/>
/// with how it was reached.</summary>
public sealed record VerifyResult(
    VerifyOutcome Outcome, ExtractedAnswer Gold, ExtractedAnswer Prediction, string Decision)
{
    public bool Equivalent => Outcome == VerifyOutcome.Equivalent;
    public bool TimedOut => Outcome == VerifyOutcome.TimedOut;

    public string Explanation =>
        $"gold: {Gold}\nprediction: {Prediction}\n{Verdict}: {Decision}";

    /// <summary>"equivalent", "not equivalent", "timed out", "too large" or "gold unusable".</summary>
    public string Verdict => Outcome switch
    {
        VerifyOutcome.Equivalent => "equivalent",
        VerifyOutcome.NotEquivalent => "not equivalent",
        VerifyOutcome.TimedOut => "timed out",
        VerifyOutcome.TooLarge => "too large",
        _ => "gold unusable",
    };
}
