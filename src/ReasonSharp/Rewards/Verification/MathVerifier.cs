using System.Text.RegularExpressions;

namespace ReasonSharp.Rewards.Verification;

/// <summary>
/// Checks whether a predicted answer is mathematically equivalent to a gold answer, the way Hugging Face's
/// math-verify does (re-implemented in C#, no sympy): extract the answer from each text, normalise the LaTeX,
/// parse it into an expression tree, then compare — exactly, numerically with a precision, symbolically at random
/// points, or as sets, intervals, tuples, matrices and relations. A gold that is math as a whole is parsed whole.
/// Every call runs under a cooperative time limit checked throughout extraction, parsing and comparison, and
/// refuses texts and numbers over the size caps, so it is safe on any thread and bounded on any input.
/// </summary>
public static class MathVerifier
{
    /// <summary>
    /// Runs every pattern and parser path once, without a deadline, the first time the verifier is used: compiling
    /// the generated pattern code takes a few hundred milliseconds per process, which must not count against (and
    /// time out) the first real checks.
    /// </summary>
    static readonly Lazy<bool> WarmedUp = new(() =>
    {
        var options = MathVerifyOptions.Default with { Timeout = TimeSpan.FromMinutes(1) };
        string[] samples =
        [
            "The final answer is $\\frac{1}{2}$. I hope it is correct.",
            "Final answer: so the final answer is 2/3. Answer: $x = 3$ and the answer is 1,000.5 percent",
            "<answer>2^{10}</answer> \\boxed{5} and \\boxed{6} \\[ 1 \\] $1$ or $2$ 1 + 2 = 3 cm. #### 72",
            "0<x\\le 1", "1e5", "5!", "1 000", "\\begin{pmatrix}1&2\\end{pmatrix}",
        ];
        foreach (var sample in samples)
        {
            // One rule at a time, so every rule's patterns run (together, the first rule that parses stops the rest).
            foreach (var rule in MathVerifyOptions.DefaultExtraction)
                Guard(() => AnswerExtractor.Extract(sample, options with { Extraction = [rule] }, Deadline.None));
            VerifyPrediction(ExtractGold(sample, options, Deadline.None), sample, options, Deadline.None);
        }
        return true;
    });

    public static VerifyResult Verify(string gold, string prediction, MathVerifyOptions? options = null,
        CancellationToken cancellation = default)
    {
        options ??= MathVerifyOptions.Default;
        options.Validate();
        _ = WarmedUp.Value;
        var deadline = new Deadline(options.Timeout, cancellation);
        return VerifyPrediction(ExtractGold(gold, options, deadline), prediction, options, deadline);
    }

    /// <summary>
    /// Verifies a prediction against a gold answer extracted once with
    /// <see cref="ExtractGold(string, MathVerifyOptions?)"/>
    /// — cheaper when many completions share one reference (GRPO's group of generations).
    /// </summary>
    public static VerifyResult Verify(ExtractedAnswer gold, string prediction, MathVerifyOptions? options = null,
        CancellationToken cancellation = default)
    {
        options ??= MathVerifyOptions.Default;
        options.Validate();
        _ = WarmedUp.Value;
        return VerifyPrediction(gold, prediction, options, new Deadline(options.Timeout, cancellation));
    }

    /// <summary>Extracts and parses the gold answer (with <see cref="MathVerifyOptions.GoldExtraction"/> when set):
    /// a bare answer is parsed whole. Source is null when nothing was found; <see cref="ExtractedAnswer.Limit"/> is set
    /// when the gold is over a size cap or ran out of time.</summary>
    public static ExtractedAnswer ExtractGold(string gold, MathVerifyOptions? options = null)
    {
        options ??= MathVerifyOptions.Default;
        options.Validate();
        _ = WarmedUp.Value;
        return ExtractGold(gold, options, new Deadline(options.Timeout));
    }

    /// <summary>Extracts and parses the answer in <paramref name="text"/>; Value is null when nothing parsed, Source
    /// null when nothing was found or a limit stopped the search.</summary>
    public static ExtractedAnswer ExtractAnswer(string text, MathVerifyOptions? options = null)
    {
        options ??= MathVerifyOptions.Default;
        options.Validate();
        _ = WarmedUp.Value;
        return Guard(() => AnswerExtractor.Extract(text, options, new Deadline(options.Timeout)));
    }

    static ExtractedAnswer ExtractGold(string gold, MathVerifyOptions options, Deadline deadline)
    {
        var goldOptions = options.GoldExtraction is { } rules ? options with { Extraction = rules } : options;
        return Guard(() => AnswerExtractor.ExtractGold(gold, goldOptions, deadline));
    }

    /// <summary>Runs an extraction, turning a time or size limit into a stopped answer.</summary>
    static ExtractedAnswer Guard(Func<ExtractedAnswer> extract)
    {
        try
        {
            return extract();
        }
        catch (VerificationTimeoutException e)
        {
            return ExtractedAnswer.Stopped(VerifyLimit.Time, e.Message);
        }
        catch (RegexMatchTimeoutException)
        {
            return ExtractedAnswer.Stopped(VerifyLimit.Time, "an extraction pattern ran past its time limit");
        }
        catch (VerificationSizeException e)
        {
            return ExtractedAnswer.Stopped(VerifyLimit.Size, e.Message);
        }
    }

    static VerifyResult VerifyPrediction(ExtractedAnswer gold, string prediction, MathVerifyOptions options,
        Deadline deadline)
    {
        if (gold.Limit != VerifyLimit.None)
            return Unusable(gold, ExtractedAnswer.Nothing, $"the gold answer was not read: {gold.ParseError}");
        if (gold.Source == null) return Unusable(gold, ExtractedAnswer.Nothing, "no answer found in the gold text");
        var predicted = Guard(() => AnswerExtractor.Extract(prediction, options, deadline));
        if (predicted.Limit != VerifyLimit.None)
            return Stopped(gold, predicted, predicted.Limit, predicted.ParseError!);
        try
        {
            return Compare(gold, predicted, options, deadline);
        }
        catch (VerificationTimeoutException e)
        {
            return Stopped(gold, predicted, VerifyLimit.Time, e.Message);
        }
        catch (VerificationSizeException e)
        {
            return Stopped(gold, predicted, VerifyLimit.Size, e.Message);
        }
    }

    static VerifyResult Unusable(ExtractedAnswer gold, ExtractedAnswer prediction, string why) =>
        new(VerifyOutcome.GoldUnusable, gold, prediction, why);

    static VerifyResult Stopped(ExtractedAnswer gold, ExtractedAnswer prediction, VerifyLimit limit, string why) =>
        new(limit == VerifyLimit.Time ? VerifyOutcome.TimedOut : VerifyOutcome.TooLarge, gold, prediction, why);

    static VerifyResult Compare(ExtractedAnswer gold, ExtractedAnswer pred, MathVerifyOptions options,
        Deadline deadline)
    {
        if (pred.Source == null)
            return new VerifyResult(VerifyOutcome.NotEquivalent, gold, pred, "no answer found in the prediction");
        var comparer = new MathComparer(options, deadline);
        if (gold.Value != null && pred.Value != null && comparer.Equal(gold.Value, pred.Value))
            return new VerifyResult(VerifyOutcome.Equivalent, gold, pred, comparer.Decision);
        if (!string.IsNullOrWhiteSpace(gold.FallbackText) && gold.FallbackText.Trim() == pred.FallbackText?.Trim())
            return new VerifyResult(VerifyOutcome.Equivalent, gold, pred,
                $"the normalised texts are identical (\"{gold.FallbackText.Trim()}\")");
        if (gold.Value == null)
            return Unusable(gold, pred, $"the gold answer did not parse ({gold.ParseError}) and the normalised " +
                $"texts differ");
        if (pred.Value == null)
            return new VerifyResult(VerifyOutcome.NotEquivalent, gold, pred,
                "the prediction did not parse and the normalised texts differ");
        if (comparer.TooLarge != null)
            return new VerifyResult(VerifyOutcome.TooLarge, gold, pred, $"too large to compare: {comparer.TooLarge}");
        return new VerifyResult(VerifyOutcome.NotEquivalent, gold, pred, comparer.Decision);
    }
}
