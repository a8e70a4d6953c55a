namespace ReasonSharp.Evaluation;

/// <summary>Mean, median, 90th percentile and maximum of token counts (percentiles interpolate linearly, as numpy's
/// default).</summary>
public sealed record LengthStats(double Mean, double P50, double P90, int Max)
{
    public static LengthStats Of(IEnumerable<int> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return new LengthStats(0, 0, 0, 0);
        return new LengthStats(sorted.Average(), Percentile(sorted, 0.5), Percentile(sorted, 0.9), sorted[^1]);
    }

    /// <summary>The q-quantile of sorted values: position q·(n−1), interpolated between its neighbours.</summary>
    public static double Percentile(IReadOnlyList<int> sorted, double q)
    {
        double position = q * (sorted.Count - 1);
        int low = (int)Math.Floor(position), high = (int)Math.Ceiling(position);
        return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
    }
}

/// <summary>One example's outcome over its samples: c of n correct, the unbiased estimates, and the majority
/// vote.</summary>
public sealed record ExampleOutcome(int ExampleIndex, int Samples, int Correct, double PassAt1, double PassAtK,
    string? MajorityAnswer, bool MajorityCorrect,
    IReadOnlyList<ScoredSample> SampleList);

/// <summary>
/// Accuracy, format and length metrics over examples with k samples each. pass@1 is c/n averaged over examples (the
/// mean accuracy of the k samples); pass@k uses the unbiased estimator; maj@k is right when the answer most samples
/// give (ties: the earliest) is verified correct, judged by the reward's verdict on the first sample giving it.
/// Rates and lengths are over all samples.
/// </summary>
public sealed record EvalMetrics(
    int Examples,
    int K,
    double PassAt1,
    double PassAtK,
    double MajAtK,
    double FormatRate,
    double TruncationRate,
    double MeanReward,
    IReadOnlyDictionary<string, double?> RewardMeans,
    LengthStats CompletionTokens,
    LengthStats ThinkTokens)
{
    /// <summary>The outcome of each example (in example order) from its samples.</summary>
    public static IReadOnlyList<ExampleOutcome> Outcomes(IReadOnlyList<ScoredSample> samples, int k) =>
        samples.GroupBy(s => s.ExampleIndex).OrderBy(g => g.Key).Select(g =>
        {
            var list = g.OrderBy(s => s.SampleIndex).ToList();
            if (list.Count < k)
                throw new ReasonSharpException($"example {g.Key} has {list.Count} samples; pass@{k} and maj@{k} " +
                    $"need at least {k}");
            int correct = list.Count(s => s.Correct);
            var majority = Evaluation.PassAtK.MajorityAnswer(list.Select(s => s.Answer));
            bool majorityCorrect = majority is not null && list.First(s => s.Answer == majority).Correct;
            return new ExampleOutcome(g.Key, list.Count, correct, Evaluation.PassAtK.Estimate(list.Count, correct, 1),
                Evaluation.PassAtK.Estimate(list.Count, correct, k),
                majority, majorityCorrect, list);
        }).ToList();

    public static EvalMetrics Compute(IReadOnlyList<ScoredSample> samples, int k) => Compute(Outcomes(samples, k), k);

    public static EvalMetrics Compute(IReadOnlyList<ExampleOutcome> outcomes, int k)
    {
        var samples = outcomes.SelectMany(o => o.SampleList).ToList();
        if (samples.Count == 0) throw new ReasonSharpException("nothing to evaluate: no samples");
        var names = samples.SelectMany(s => s.Rewards.Keys).Distinct().ToList();
        var rewardMeans = names.ToDictionary(name => name, name =>
        {
            var values =
                samples.Select(s => s.Rewards.GetValueOrDefault(name)).Where(v => v.HasValue).Select(v =>
                (double)v!.Value).ToList();
            return values.Count == 0 ? (double?)null : values.Average();
        });
        return new EvalMetrics(
            outcomes.Count, k,
            outcomes.Average(o => o.PassAt1),
            outcomes.Average(o => o.PassAtK),
            outcomes.Average(o => o.MajorityCorrect ? 1.0 : 0.0),
            samples.Average(s => s.FormatOk ? 1.0 : 0.0),
            samples.Average(s => s.Truncated ? 1.0 : 0.0),
            samples.Average(s => (double)s.Reward),
            rewardMeans,
            LengthStats.Of(samples.Select(s => s.CompletionTokens)),
            LengthStats.Of(samples.Select(s => s.ThinkTokens)));
    }
}
