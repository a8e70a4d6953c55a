using ReasonSharp.Rewards.Verification;
using System.Text.RegularExpressions;

namespace ReasonSharp.Rewards.Steps;

/// <summary>
/// Scores each reasoning step of a completion with a value in [0, 1]. The Math-Shepherd judge — a causal LM's
/// probability of "+" rather than "−" after each step — implements this once the model code exists;
/// <see cref="ArithmeticStepScorer"/> is a rule-based implementation available now.
/// </summary>
public interface IStepScorer
{
    /// <summary>One score per step; step k is judged with the prompt and steps 0..k as context.</summary>
    Task<IReadOnlyList<float>> ScoreStepsAsync(RewardPrompt prompt, IReadOnlyList<string> steps, CancellationToken cancellationToken = default);
}

/// <summary>How step scores become one reward.</summary>
public enum StepAggregation { Min, Last, Mean, Product }

/// <summary>
/// A process reward: split the completion into steps, score every step, aggregate (min, last, mean or product)
/// into one reward. A completion without steps gets null.
/// </summary>
public sealed class ProcessReward(string name, IStepScorer scorer, StepAggregation aggregation = StepAggregation.Min, StepSplitter? splitter = null)
    : IRewardFunction
{
    readonly StepSplitter _splitter = splitter ?? new StepSplitter();
    public string Name { get; } = name;

    public async Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken = default)
    {
        var scores = new float?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var steps = _splitter.Split(batch[i].Completion);
            if (steps.Count == 0) continue;
            var stepScores = await scorer.ScoreStepsAsync(batch[i].Prompt, steps, cancellationToken);
            if (stepScores.Count != steps.Count)
                throw new ReasonSharpException($"step scorer returned {stepScores.Count} scores for {steps.Count} steps");
            scores[i] = Aggregate(stepScores, aggregation);
        }
        return scores;
    }

    public static float Aggregate(IReadOnlyList<float> stepScores, StepAggregation aggregation) => aggregation switch
    {
        StepAggregation.Min => stepScores.Min(),
        StepAggregation.Last => stepScores[^1],
        StepAggregation.Mean => stepScores.Average(),
        _ => stepScores.Aggregate(1f, (product, s) => product * s),
    };
}

/// <summary>
/// A rule-based step scorer: every "a op b … = c" calculation in a step (including GSM8K's &lt;&lt;a*b=c&gt;&gt;
/// annotations) is re-computed exactly; a step scores 0 when any result is wrong (after rounding to the decimals
/// written), 1 otherwise — steps without calculations count as correct.
/// </summary>
public sealed partial class ArithmeticStepScorer : IStepScorer
{
    public Task<IReadOnlyList<float>> ScoreStepsAsync(RewardPrompt prompt, IReadOnlyList<string> steps, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<float>>(steps.Select(s => StepIsCorrect(s) ? 1f : 0f).ToList());

    public static bool StepIsCorrect(string step)
    {
        foreach (Match match in CalculationRegex().Matches(step))
        {
            var expression = match.Groups["lhs"].Value.Replace(",", "").Replace('×', '*').Replace('÷', '/');
            var written = match.Groups["rhs"].Value.Replace(",", "");
            BigRational? value;
            try
            {
                value = MathEvaluator.TryExact(MathParser.Parse(expression, Deadline.None), Deadline.None);
            }
            catch (MathParseException)
            {
                continue;
            }
            if (value is not { } exact) continue;
            var claimed = BigRational.Parse(written);
            var decimals = written.Contains('.') ? written.Length - written.IndexOf('.') - 1 : 0;
            if (exact.Round(decimals) != claimed && exact != claimed) return false;
        }
        return true;
    }

    [GeneratedRegex(@"(?<lhs>-?\(?\d[\d,]*(?:\.\d+)?\)?(?:\s*[-+*/×÷]\s*\(?\d[\d,]*(?:\.\d+)?\)?)+)\s*=\s*\$?(?<rhs>-?\d[\d,]*(?:\.\d+)?)(?![\d.]*\d)")]
    private static partial Regex CalculationRegex();
}
