namespace ReasonSharp.Rewards.Verification;

/// <summary>
/// Checks whether a predicted answer is mathematically equivalent to a gold answer, the way Hugging Face's
/// math-verify does (re-implemented in C#, no sympy): extract the answer from each text, normalise the LaTeX,
/// parse it into an expression tree, then compare — exactly, numerically with a precision, symbolically at random
/// points, or as sets, intervals, tuples, matrices and relations. Every call runs under a cooperative time limit,
/// so it is safe on any thread; a timeout counts as "not equivalent".
/// </summary>
public static class MathVerifier
{
    public static VerifyResult Verify(string gold, string prediction, MathVerifyOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= MathVerifyOptions.Default;
        var deadline = new Deadline(options.Timeout, cancellation);
        var goldAnswer = ExtractedAnswer.Nothing;
        var predAnswer = ExtractedAnswer.Nothing;
        try
        {
            var goldOptions = options.GoldExtraction is { } rules ? options with { Extraction = rules } : options;
            goldAnswer = AnswerExtractor.Extract(gold, goldOptions, deadline);
            predAnswer = AnswerExtractor.Extract(prediction, options, deadline);
            return Compare(goldAnswer, predAnswer, options, deadline);
        }
        catch (VerificationTimeoutException e)
        {
            return new VerifyResult(false, goldAnswer, predAnswer, e.Message, TimedOut: true);
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
        {
            return new VerifyResult(false, goldAnswer, predAnswer, "an extraction pattern ran past its time limit", TimedOut: true);
        }
    }

    /// <summary>
    /// Verifies a prediction against a gold answer extracted once with <see cref="ExtractGold"/> — cheaper when many
    /// completions share one reference (GRPO's group of generations).
    /// </summary>
    public static VerifyResult Verify(ExtractedAnswer gold, string prediction, MathVerifyOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= MathVerifyOptions.Default;
        var deadline = new Deadline(options.Timeout, cancellation);
        var predAnswer = ExtractedAnswer.Nothing;
        try
        {
            predAnswer = AnswerExtractor.Extract(prediction, options, deadline);
            return Compare(gold, predAnswer, options, deadline);
        }
        catch (VerificationTimeoutException e)
        {
            return new VerifyResult(false, gold, predAnswer, e.Message, TimedOut: true);
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
        {
            return new VerifyResult(false, gold, predAnswer, "an extraction pattern ran past its time limit", TimedOut: true);
        }
    }

    /// <summary>Extracts and parses the gold answer (with <see cref="MathVerifyOptions.GoldExtraction"/> when set).
    /// Value is null and Source null when nothing was found.</summary>
    public static ExtractedAnswer ExtractGold(string gold, MathVerifyOptions? options = null)
    {
        options ??= MathVerifyOptions.Default;
        return ExtractAnswer(gold, options.GoldExtraction is { } rules ? options with { Extraction = rules } : options);
    }

    /// <summary>Extracts and parses the answer in <paramref name="text"/>; Value is null when nothing parsed.</summary>
    public static ExtractedAnswer ExtractAnswer(string text, MathVerifyOptions? options = null)
    {
        options ??= MathVerifyOptions.Default;
        try
        {
            return AnswerExtractor.Extract(text, options, new Deadline(options.Timeout));
        }
        catch (Exception e) when (e is VerificationTimeoutException or System.Text.RegularExpressions.RegexMatchTimeoutException)
        {
            return ExtractedAnswer.Nothing;
        }
    }

    static VerifyResult Compare(ExtractedAnswer gold, ExtractedAnswer pred, MathVerifyOptions options, Deadline deadline)
    {
        if (gold.Source == null) return new VerifyResult(false, gold, pred, "no answer found in the gold text", false);
        if (pred.Source == null) return new VerifyResult(false, gold, pred, "no answer found in the prediction", false);
        var comparer = new MathComparer(options, deadline);
        if (gold.Value != null && pred.Value != null && comparer.Equal(gold.Value, pred.Value))
            return new VerifyResult(true, gold, pred, comparer.Decision, false);
        if (!string.IsNullOrWhiteSpace(gold.FallbackText) && gold.FallbackText.Trim() == pred.FallbackText?.Trim())
            return new VerifyResult(true, gold, pred, $"the normalised texts are identical (\"{gold.FallbackText.Trim()}\")", false);
        var decision = gold.Value == null || pred.Value == null
            ? $"{(gold.Value == null ? "the gold answer" : "the prediction")} did not parse and the normalised texts differ"
            : comparer.Decision;
        return new VerifyResult(false, gold, pred, decision, false);
    }
}
