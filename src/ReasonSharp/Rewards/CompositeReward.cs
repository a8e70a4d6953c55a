namespace ReasonSharp.Rewards;

/// <summary>A reward function with its weight in the total.</summary>
public sealed record WeightedReward(IRewardFunction Function, float Weight = 1f);

/// <summary>One function's scores in a batch with its mean and sample std over the non-null values (null when none /
/// fewer than two).</summary>
public sealed record RewardFunctionScores(string Name, float Weight, float?[] Values, double? Mean, double? Std,
    int Count);

/// <summary>The weighted totals of a batch and each function's scores.</summary>
public sealed record RewardScores(float[] Total, IReadOnlyList<RewardFunctionScores> Functions, double? TotalMean,
    double? TotalStd);

/// <summary>
/// Several weighted reward functions computed together, exactly like TRL's GRPOTrainer: all functions run
/// concurrently; total = Σ weight·reward over functions, where a null reward is NaN and skipped (nansum, so a
/// completion with no applicable reward totals 0); each function's mean and std ignore nulls (std with Bessel's
/// correction, like TRL's nanstd). Disposing it disposes the functions that hold resources (a loaded reward model).
/// </summary>
public sealed class CompositeReward : IDisposable
{
    public IReadOnlyList<WeightedReward> Rewards { get; }

    public CompositeReward(IReadOnlyList<WeightedReward> rewards)
    {
        if (rewards.Count == 0) throw new ReasonSharpException("a composite reward needs at least one reward function");
        var duplicate = rewards.GroupBy(r => r.Function.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new ReasonSharpException($"reward function '{duplicate.Key}' appears twice; " +
            $"names must be unique");
        foreach (var r in rewards)
            if (!float.IsFinite(r.Weight)) throw new ReasonSharpException($"reward '{r.Function.Name}' has a " +
                $"non-finite weight {r.Weight}");
        Rewards = rewards;
    }

    public CompositeReward(params IRewardFunction[] functions) : this(functions.Select(f => new WeightedReward(f)).ToList()) { }

    public async Task<RewardScores> ScoreAsync(IReadOnlyList<RewardInput> batch,
        CancellationToken cancellationToken = default)
    {
        var results = await Task.WhenAll(Rewards.Select(r => r.Function.ScoreAsync(batch, cancellationToken)));
        var functions = new List<RewardFunctionScores>();
        var total = new float[batch.Count];
        for (var f = 0; f < Rewards.Count; f++)
        {
            var values = results[f];
            var reward = Rewards[f];
            if (values.Length != batch.Count)
                throw new ReasonSharpException($"reward '{reward.Function.Name}' returned {values.Length} scores " +
                    $"for a batch of {batch.Count}");
            for (var i = 0; i < values.Length; i++)
            {
                if (values[i] is { } v)
                {
                    if (float.IsNaN(v)) values[i] = null;
                    else total[i] += reward.Weight * v;
                }
            }
            var (mean, std, count) = Statistics(values.Where(v => v.HasValue).Select(v => (double)v!.Value).ToList());
            functions.Add(new RewardFunctionScores(reward.Function.Name, reward.Weight, values, mean, std, count));
        }
        var (totalMean, totalStd, _) = Statistics(total.Select(t => (double)t).ToList());
        return new RewardScores(total, functions, totalMean, totalStd);
    }

    /// <summary>Disposes every function that is <see cref="IDisposable"/> (e.g. reward_model's loaded model).</summary>
    public void Dispose()
    {
        foreach (var reward in Rewards)
            (reward.Function as IDisposable)?.Dispose();
    }

    /// <summary>Mean and sample standard deviation (n − 1), null when undefined.</summary>
    public static (double? Mean, double? Std, int Count) Statistics(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return (null, null, 0);
        var mean = values.Average();
        if (values.Count < 2) return (mean, null, 1);
        var variance = values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1);
        return (mean, Math.Sqrt(variance), values.Count);
    }
}
