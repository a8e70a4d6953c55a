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
/// vote; with a selection reward, each sample's score and the best-of-k and weighted-majority choices.</summary>
public sealed record ExampleOutcome(int ExampleIndex, int Samples, int Correct, double PassAt1, double PassAtK,
    string? MajorityAnswer, bool MajorityCorrect,
    IReadOnlyList<ScoredSample> SampleList)
{
    /// <summary>The selection reward's score of each sample (in sample order); null without a selection reward.
    /// </summary>
    public IReadOnlyList<float?>? SelectionScores { get; init; }
    /// <summary>The index in <see cref="SampleList"/> of the highest-scoring sample (null when none was
    /// scored).</summary>
    public int? BestOfKSample { get; init; }
    public bool BestOfKCorrect { get; init; }
    public string? WeightedMajorityAnswer { get; init; }
    public bool WeightedMajorityCorrect { get; init; }
}

/// <summary>
/// Accuracy, format and length metrics over examples with k samples each. pass@1 is c/n averaged over examples (the
/// mean accuracy of the k samples); pass@k uses the unbiased estimator; maj@k is right when the answer most samples
/// give (ties: the earliest) is verified correct, judged by the reward's verdict on the first sample giving it.
/// Rates and lengths are over all samples. With a selection reward (eval's selection_reward), best_of_k is right when
/// the highest-scoring sample is, and weighted_maj@k when the answer with the largest sum of scores is (judged like
/// maj@k); see <see cref="RewardWeightedVote"/>.
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
    /// <summary>Best-of-k accuracy by the selection reward; null without one.</summary>
    public double? BestOfK { get; init; }
    /// <summary>Weighted majority voting accuracy (votes weighted by the selection reward); null without one.</summary>
    public double? WeightedMajAtK { get; init; }

    /// <summary>The outcome of each example (in example order) from its samples; <paramref name="selectionScore"/>
    /// gives each sample's selection-reward score (null: no selection).</summary>
    public static IReadOnlyList<ExampleOutcome> Outcomes(IReadOnlyList<ScoredSample> samples, int k,
        Func<ScoredSample, float?>? selectionScore = null) =>
        samples.GroupBy(s => s.ExampleIndex).OrderBy(g => g.Key).Select(g =>
        {
            var list = g.OrderBy(s => s.SampleIndex).ToList();
            if (list.Count < k)
                throw new ReasonSharpException($"example {g.Key} has {list.Count} samples; pass@{k} and maj@{k} " +
                    $"need at least {k}");
            int correct = list.Count(s => s.Correct);
            var majority = Evaluation.PassAtK.MajorityAnswer(list.Select(s => s.Answer));
            bool majorityCorrect = majority is not null && list.First(s => s.Answer == majority).Correct;
            var outcome = new ExampleOutcome(g.Key, list.Count, correct,
                Evaluation.PassAtK.Estimate(list.Count, correct, 1),
                Evaluation.PassAtK.Estimate(list.Count, correct, k),
                majority, majorityCorrect, list);
            if (selectionScore is null) return outcome;
            var scores = list.Select(selectionScore).ToList();
            var best = RewardWeightedVote.BestOfK(scores);
            var weighted = RewardWeightedVote.WeightedMajority(list.Select(s => s.Answer).ToList(), scores);
            return outcome with
            {
                SelectionScores = scores,
                BestOfKSample = best,
                BestOfKCorrect = best is { } b && list[b].Correct,
                WeightedMajorityAnswer = weighted,
                WeightedMajorityCorrect = weighted is not null && list.First(s => s.Answer == weighted).Correct,
            };
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
            LengthStats.Of(samples.Select(s => s.ThinkTokens)))
        {
            BestOfK = outcomes.All(o => o.SelectionScores is not null)
                ? outcomes.Average(o => o.BestOfKCorrect ? 1.0 : 0.0) : null,
            WeightedMajAtK = outcomes.All(o => o.SelectionScores is not null)
                ? outcomes.Average(o => o.WeightedMajorityCorrect ? 1.0 : 0.0) : null,
        };
    }
}
