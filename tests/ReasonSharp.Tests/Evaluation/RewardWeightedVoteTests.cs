using ReasonSharp.Evaluation;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>Best-of-k and weighted majority voting on hand-computed cases.</summary>
public class RewardWeightedVoteTests
{
    [Fact]
    public void Best_of_k_takes_the_highest_score_earliest_on_ties_and_skips_unscored_samples()
    {
        Assert.Equal(1, RewardWeightedVote.BestOfK([0.2f, 0.9f, null, 0.9f]));
        Assert.Equal(2, RewardWeightedVote.BestOfK([null, -3f, 0.1f, float.NaN]));
        Assert.Null(RewardWeightedVote.BestOfK([null, null]));
    }

    [Fact]
    public void Weighted_majority_sums_scores_per_answer()
    {
        // Plain majority says b (3 votes); weighted: a 0.9 against b 0.1 + 0.2 + 0.1 = 0.4.
        Assert.Equal("a", RewardWeightedVote.WeightedMajority(["b", "a", "b", "b"], [0.1f, 0.9f, 0.2f, 0.1f]));
        // A sample without an answer or a score does not vote; a tie goes to the answer given first.
        Assert.Equal("b", RewardWeightedVote.WeightedMajority([null, "b", "a", "c"], [5f, 0.5f, 0.5f, null]));
        Assert.Null(RewardWeightedVote.WeightedMajority([null, "a"], [1f, null]));
    }

    static ScoredSample Sample(int example, int index, string? answer, bool correct) =>
        new(example, index, "", correct ? 1 : 0, new Dictionary<string, float?>(), correct, true, 1, 0, false,
            answer);

    [Fact]
    public void Eval_metrics_report_best_of_k_and_weighted_majority_beside_maj_at_k()
    {
        // Example 0 (gold 4): answers 5 ✗, 4 ✓, 5 ✗, 4 ✓ with scores 0.9, 0.2, 0.3, 0.3: maj → 5 (tie, earliest) ✗,
        // best-of-4 → sample 0 (5) ✗, weighted: 5 → 1.2, 4 → 0.5 ✗.
        // Example 1 (gold 7): answers 7 ✓, 3 ✗, 3 ✗, 3 ✗ with scores 0.8, 0.1, 0.1, 0.1: maj → 3 ✗,
        // best-of-4 → sample 0 ✓, weighted: 7 → 0.8, 3 → 0.3 ✓.
        // Example 2 (gold 1): answers 1 ✓, 2 ✗, 1 ✓, 2 ✗ with scores 0.1, 0.6, 0.4, null: maj → 1 ✓,
        // best-of-4 → sample 1 (2) ✗, weighted: 1 → 0.5, 2 → 0.6 ✗.
        var samples = new List<ScoredSample>
        {
            Sample(0, 0, "5", false), Sample(0, 1, "4", true), Sample(0, 2, "5", false), Sample(0, 3, "4", true),
            Sample(1, 0, "7", true), Sample(1, 1, "3", false), Sample(1, 2, "3", false), Sample(1, 3, "3", false),
            Sample(2, 0, "1", true), Sample(2, 1, "2", false), Sample(2, 2, "1", true), Sample(2, 3, "2", false),
        };
        float?[][] scores = [[0.9f, 0.2f, 0.3f, 0.3f], [0.8f, 0.1f, 0.1f, 0.1f], [0.1f, 0.6f, 0.4f, null]];
        var outcomes = EvalMetrics.Outcomes(samples, 4, s => scores[s.ExampleIndex][s.SampleIndex]);
        var metrics = EvalMetrics.Compute(outcomes, 4);

        Assert.Equal(1 / 3.0, metrics.MajAtK, 9);
        Assert.Equal(1 / 3.0, metrics.BestOfK!.Value, 9);
        Assert.Equal(1 / 3.0, metrics.WeightedMajAtK!.Value, 9);
        Assert.Equal([0, 0, 1], outcomes.Select(o => o.BestOfKSample!.Value));
        Assert.Equal(["5", "7", "2"], outcomes.Select(o => o.WeightedMajorityAnswer));
        Assert.Equal([false, true, false], outcomes.Select(o => o.WeightedMajorityCorrect));
        Assert.Equal([false, true, false], outcomes.Select(o => o.BestOfKCorrect));

        var plain = EvalMetrics.Compute(EvalMetrics.Outcomes(samples, 4), 4);
        Assert.Null(plain.BestOfK);
        Assert.Null(plain.WeightedMajAtK);
        Assert.DoesNotContain("best-of", EvalReport.Table([new EvalResult("m", default, plain,
            EvalMetrics.Outcomes(samples, 4), [], TimeSpan.Zero)]));
        var table = EvalReport.Table([new EvalResult("m", default, metrics, outcomes, [], TimeSpan.Zero)]);
        Assert.Contains("best-of-4 %", table);
        Assert.Contains("wmaj@4 %", table);
        var json = EvalReport.ResultJson(new EvalResult("m", default, metrics, outcomes, [], TimeSpan.Zero));
        Assert.Equal(1 / 3.0, json["best_of_k"]!.GetValue<double>(), 9);
        Assert.Equal(1 / 3.0, json["weighted_maj@k"]!.GetValue<double>(), 9);
    }
}
