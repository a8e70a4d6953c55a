namespace ReasonSharp.Rewards;

/// <summary>
/// A reward function: scores a batch of completions, one value per completion. Null means "not applicable to this
/// sample" (the sample is left out of this function's mean and of the weighted sum, as TRL does with None).
/// </summary>
public interface IRewardFunction
{
    /// <summary>The name used in logs and summaries (e.g. "accuracy").</summary>
    string Name { get; }

    Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken = default);
}

/// <summary>A reward that reports facts about how it scored (e.g. the code sandbox's isolation).</summary>
public interface IRewardMetadata
{
    Task<IReadOnlyDictionary<string, string>> GetMetadataAsync();
}

/// <summary>Base class for rewards that score each completion on its own, synchronously.</summary>
public abstract class SampleReward(string name) : IRewardFunction
{
    public string Name { get; } = name;

    public Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken = default)
    {
        var scores = new float?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            scores[i] = RewardBatch.At(i, () => Score(batch[i]));
        }
        return Task.FromResult(scores);
    }

    protected abstract float? Score(RewardInput input);
}

/// <summary>A reward from a function: <c>new DelegateReward("short", i =&gt; i.Completion.Length &lt; 100 ? 1 :
/// 0)</c>.</summary>
public sealed class DelegateReward(string name, Func<RewardInput, float?> score) : SampleReward(name)
{
    protected override float? Score(RewardInput input) => score(input);
}

/// <summary>Helpers for batch rewards.</summary>
public static class RewardBatch
{
    /// <summary>Runs <paramref name="work"/> for input <paramref name="index"/>, tagging input errors with that
    /// index.</summary>
    public static T At<T>(int index, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (RewardInputException e) when (e.Index < 0)
        {
            throw e.AtIndex(index);
        }
    }
}
