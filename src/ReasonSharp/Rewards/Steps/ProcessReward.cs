using System.Text.RegularExpressions;
using ReasonSharp.Rewards.Verification;

namespace ReasonSharp.Rewards.Steps;

/// <summary>
/// Scores each reasoning step of a completion with a value in [0, 1]: <see cref="LmStepScorer"/> (the Math-Shepherd
/// judge, a causal LM's probability of "+" rather than "-" after each step) or the rule-based
/// <see cref="ArithmeticStepScorer"/>.
/// </summary>
public interface IStepScorer
{
    /// <summary>One score per step; step k is judged with the prompt and steps 0..k as context.</summary>
    Task<IReadOnlyList<float>> ScoreStepsAsync(RewardPrompt prompt, IReadOnlyList<string> steps,
        CancellationToken cancellationToken = default);

    /// <summary>Scores of several completions; scorers that batch their work override it.</summary>
    async Task<IReadOnlyList<IReadOnlyList<float>>> ScoreBatchAsync(IReadOnlyList<(RewardPrompt Prompt, IReadOnlyList<string> Steps)> items,
        CancellationToken cancellationToken = default)
    {
        var scores = new List<IReadOnlyList<float>>(items.Count);
        foreach (var (prompt, steps) in items) scores.Add(await ScoreStepsAsync(prompt, steps, cancellationToken));
        return scores;
    }
}

/// <summary>How step scores become one reward.</summary>
public enum StepAggregation { Min, Last, Mean, Product }

/// <summary>
/// A process reward: split the completion into steps, score every step, aggregate (min, last, mean or product)
/// into one reward. A completion without steps gets null. Disposing it disposes a scorer that is disposable (a loaded
/// judge model).
/// </summary>
public sealed class ProcessReward(string name, IStepScorer scorer, StepAggregation aggregation = StepAggregation.Min,
    StepSplitter? splitter = null)
    : IRewardFunction, IDisposable
{
    readonly StepSplitter _splitter = splitter ?? new StepSplitter();
    public string Name { get; } = name;

    public void Dispose() => (scorer as IDisposable)?.Dispose();

    public async Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch,
        CancellationToken cancellationToken = default)
    {
        var scores = new float?[batch.Count];
        var withSteps =
            Enumerable.Range(0, batch.Count).Select(i => (Index: i, Steps: _splitter.Split(batch[i].Completion)))
            .Where(c => c.Steps.Count > 0).ToList();
        var stepScores =
            await scorer.ScoreBatchAsync(withSteps.Select(c => (batch[c.Index].Prompt, c.Steps)).ToList(),
            cancellationToken);
        for (var j = 0; j < withSteps.Count; j++)
        {
            var (index, steps) = withSteps[j];
            if (stepScores[j].Count != steps.Count)
                throw new ReasonSharpException($"completion {index}: step scorer returned {stepScores[j].Count} " +
                    $"scores for {steps.Count} steps");
            scores[index] = Aggregate(stepScores[j], aggregation);
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
    public Task<IReadOnlyList<float>> ScoreStepsAsync(RewardPrompt prompt, IReadOnlyList<string> steps,
        CancellationToken cancellationToken = default) =>
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
