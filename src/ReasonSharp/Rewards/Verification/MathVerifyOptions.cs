namespace ReasonSharp.Rewards.Verification;

/// <summary>Where an answer can be found in a text.</summary>
public enum AnswerSource
{
    /// <summary>The last \boxed{…}/\fbox{…} (earlier boxes joined to it by "and"/","/… are included).</summary>
    Boxed,
    /// <summary>The last &lt;answer&gt;…&lt;/answer&gt;; its content is parsed whole, else searched with the other rules.</summary>
    AnswerTag,
    /// <summary>GSM8K's "#### 42".</summary>
    Gsm8kMarker,
    /// <summary>"The final answer is X. I hope it is correct." and "final answer … is X".</summary>
    FinalAnswerPhrase,
    /// <summary>"Answer: X", "the answer is X" (X within 50 characters of the word "answer").</summary>
    AnswerPhrase,
    /// <summary>Any math span: $…$, $$…$$, \(…\), \[…\], a bare \frac{a}{b}; several joined by "and"/"or"/"," form a set.</summary>
    LatexMath,
    /// <summary>A number (thousands separators, decimal comma, currency, %) or a simple expression like 2/3.</summary>
    PlainNumber,
    /// <summary>The whole text as one LaTeX answer ("\frac{\sqrt3}{2}", "(1, 2]"), when it reads like math rather than prose.</summary>
    WholeText,
}

/// <summary>One extraction rule: lower priority values are tried first; within a priority the rightmost match wins.</summary>
public sealed record ExtractionRule(AnswerSource Source, int Priority);

/// <summary>
/// Options of <see cref="MathVerifier"/>. Defaults follow math-verify: both LaTeX and plain-expression targets,
/// boxed answers first, floats compared after rounding to 6 decimals, strict variables, 3 s per verification.
/// </summary>
public sealed record MathVerifyOptions
{
    /// <summary>math-verify's priorities (boxed and "final answer is" 0, "answer:" 100, bare math 300) plus
    /// &lt;answer&gt; tags and GSM8K's "####" at 0.</summary>
    public static IReadOnlyList<ExtractionRule> DefaultExtraction { get; } =
    [
        new(AnswerSource.Boxed, 0),
        new(AnswerSource.AnswerTag, 0),
        new(AnswerSource.Gsm8kMarker, 0),
        new(AnswerSource.FinalAnswerPhrase, 0),
        new(AnswerSource.AnswerPhrase, 100),
        new(AnswerSource.LatexMath, 300),
        new(AnswerSource.PlainNumber, 300),
        new(AnswerSource.WholeText, 1000),
    ];

    /// <summary>Rules for the prediction (and for the gold unless <see cref="GoldExtraction"/> is set).
    /// FinalAnswerPhrase's "final answer … is X" form runs at its priority + 50, AnswerPhrase's bare "answer … X" at + 100.</summary>
    public IReadOnlyList<ExtractionRule> Extraction { get; init; } = DefaultExtraction;

    /// <summary>Rules for the gold text when they should differ from the prediction's; null uses <see cref="Extraction"/>.</summary>
    public IReadOnlyList<ExtractionRule>? GoldExtraction { get; init; }

    /// <summary>Look for LaTeX answers (math-verify's LatexExtractionConfig). Boxed and LatexMath need it.</summary>
    public bool MatchLatex { get; init; } = true;

    /// <summary>Look for plain numbers and expressions (math-verify's ExprExtractionConfig). PlainNumber needs it.</summary>
    public bool MatchExpressions { get; init; } = true;

    /// <summary>Decimals kept when a float literal is involved (math-verify's float_rounding).</summary>
    public int FloatRounding { get; init; } = 6;

    /// <summary>When false, variable names do not matter (x+1 matches y+1) and sets match tuples.</summary>
    public bool Strict { get; init; } = true;

    /// <summary>Also let a gold set match a predicted relation (a predicted set always matches a gold relation).</summary>
    public bool AllowSetRelationComparison { get; init; }

    /// <summary>Time limit of one verification (extraction, parsing and comparison), enforced cooperatively.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(3);

    public static MathVerifyOptions Default { get; } = new();

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

/// <summary>What was taken from one side of a comparison and how it parsed.</summary>
public sealed record ExtractedAnswer(AnswerSource? Source, string? Matched, string? Normalized, MathNode? Value, string? ParseError)
{
    /// <summary>The normalised text of the first match, compared as a string when parsing fails (math-verify's fallback).</summary>
    public string? FallbackText { get; init; }

    public static ExtractedAnswer Nothing { get; } = new(null, null, null, null, null);

    public override string ToString()
    {
        if (Source == null) return "nothing extracted";
        var value = Value != null ? $"parsed as {Value}" : $"not parsed ({ParseError})";
        return $"{Source} \"{Shorten(Matched)}\" -> \"{Shorten(Normalized)}\", {value}";
    }

    static string Shorten(string? text) => text == null ? "" : text.Length <= 120 ? text : text[..117] + "...";
}

/// <summary>The verdict of <see cref="MathVerifier.Verify"/> with how it was reached.</summary>
public sealed record VerifyResult(bool Equivalent, ExtractedAnswer Gold, ExtractedAnswer Prediction, string Decision, bool TimedOut)
{
    public string Explanation =>
        $"gold: {Gold}\nprediction: {Prediction}\n{(Equivalent ? "equivalent" : "not equivalent")}: {Decision}";
}
