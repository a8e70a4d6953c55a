using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;

namespace ReasonSharp.Training.Sft;

/// <summary>One held-out prompt's greedy completion and its reward (null: the reward could not grade it, e.g. no
/// gold).</summary>
public sealed record GradedCompletion(string Prompt, string Completion, float? Reward, bool Correct);

/// <summary>Task accuracy on held-out prompts: the share whose greedy completion the reward scores 1, and the mean
/// reward.</summary>
public sealed record AccuracyResult(double Accuracy, double MeanReward, double MeanCompletionTokens, int Count,
    int Ungraded, double Seconds,
    IReadOnlyList<GradedCompletion> Completions)
{
    public IReadOnlyDictionary<string, double> Metrics => new Dictionary<string, double>
    {
        ["accuracy"] = Accuracy, ["reward"] = MeanReward, ["completion_tokens"] = MeanCompletionTokens,
        ["accuracy_seconds"] = Math.Round(Seconds, 2),
    };
}

/// <summary>
/// Greedy generation on held-out prompts (their gold answers unseen in training) verified by a reward from the reward
/// library (accuracy for math answers, countdown for countdown equations), through <see cref="RolloutRunner"/>.
/// </summary>
public sealed class HeldOutAccuracy(LanguageModel model, IReadOnlyList<Example> examples, IRewardFunction reward,
    int maxNewTokens, int batchSize)
{
    public IReadOnlyList<Example> Examples => examples;

    /// <summary>The results of every <see cref="Measure"/> call so far, in order.</summary>
    public List<AccuracyResult> History { get; } = [];

    public AccuracyResult Measure()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var runner = new RolloutRunner(model, new CompositeReward(reward));
        var rollouts = runner.RunAsync(examples, new RolloutOptions
        {
            Sampling = SamplingOptions.Greedy(maxNewTokens),
            GenerationBatchSize = batchSize,
        }).GetAwaiter().GetResult();
        var graded = rollouts.Select(r =>
        {
            var value = r.Rewards[reward.Name];
            return new GradedCompletion(r.Example.Prompt.LastOrDefault(m => m.Role == ChatMessage.User)?.Content ?? "",
                r.Generation.CompletionText, value,
                value >= 1f - 1e-6f);
        }).ToList();
        var result = new AccuracyResult(
            graded.Count(g => g.Correct) / (double)Math.Max(1, graded.Count),
            graded.Average(g => (double)(g.Reward ?? 0f)),
            rollouts.Average(r => (double)r.Generation.CompletionIds.Length),
            graded.Count, graded.Count(g => g.Reward is null), clock.Elapsed.TotalSeconds, graded);
        History.Add(result);
        return result;
    }
}
