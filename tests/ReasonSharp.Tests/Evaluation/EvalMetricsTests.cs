using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Rewards;
using static ReasonSharp.Tests.Evaluation.HandBuiltRollouts;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>Every evaluation metric on hand-built rollouts, checked against values worked out by hand.</summary>
public class EvalMetricsTests
{
    static CompletionAnalyzer Analyzer() => new(Decode, RewardSpecs.Format("think"), threshold: 1.0);

    // Three examples × four samples:
    // A (gold 4): "<think> step step</think>\nThe answer is 4" ✓ | "The answer is 5" ✗ | "<think> step</think>\nThe
    // answer is 4" ✓               | "<think> step step step step" ✗ (truncated, never closes its think block)
    // B (gold 7): "The answer is 5" ✗ | "The answer is 5" ✗ | "The answer is 7" ✓ | "<think></think>\nThe answer is 7"
    // ✓   C (gold 4): "The answer is 5" ✗ ×3 and once with a null accuracy (not applicable).
    static List<Rollout> Rollouts()
    {
        var a = Example("4");
        var b = Example("7");
        var c = Example("4");
        return
        [
            Rollout(a, 0, 0, [Think, Step, Step, EndThink, NewLine, AnswerIs, Four], 1f),
            Rollout(a, 0, 1, [AnswerIs, Five], 0f),
            Rollout(a, 0, 2, [Think, Step, EndThink, NewLine, AnswerIs, Four], 1f),
            Rollout(a, 0, 3, [Think, Step, Step, Step, Step], 0f, truncated: true),
            Rollout(b, 1, 0, [AnswerIs, Five], 0f),
            Rollout(b, 1, 1, [AnswerIs, Five], 0f),
            Rollout(b, 1, 2, [AnswerIs, Seven], 1f),
            Rollout(b, 1, 3, [Think, EndThink, NewLine, AnswerIs, Seven], 1f),
            Rollout(c, 2, 0, [AnswerIs, Five], 0f),
            Rollout(c, 2, 1, [AnswerIs, Five], 0f),
            Rollout(c, 2, 2, [AnswerIs, Five], null),
            Rollout(c, 2, 3, [AnswerIs, Five], 0f),
        ];
    }

    [Fact]
    public async Task EachSampleIsAnalysedCorrectly()
    {
        var samples = await Analyzer().AnalyzeAsync(Rollouts());
        Assert.Equal([true, false, true, false, false, false, true, true, false, false, false, false],
            samples.Select(s => s.Correct));
        Assert.Equal([true, false, true, false, false, false, false, true, false, false, false, false],
            samples.Select(s => s.FormatOk));
        Assert.Equal([7, 2, 6, 5, 2, 2, 2, 5, 2, 2, 2, 2], samples.Select(s => s.CompletionTokens));
        // Through the token that closes </think>; all tokens of an unclosed block; 0 without one.
        Assert.Equal([4, 0, 3, 5, 0, 0, 0, 2, 0, 0, 0, 0], samples.Select(s => s.ThinkTokens));
        Assert.Equal(["4", "5", "4", null, "5", "5", "7", "7", "5", "5", "5", "5"], samples.Select(s => s.Answer));
        Assert.Equal([false, false, false, true, false, false, false, false, false, false, false, false],
            samples.Select(s => s.Truncated));
    }

    [Fact]
    public async Task AggregatesMatchHandComputedValues()
    {
        var samples = await Analyzer().AnalyzeAsync(Rollouts());
        var outcomes = EvalMetrics.Outcomes(samples, 4);
        Assert.Equal([2, 2, 0], outcomes.Select(o => o.Correct));
        // A: "4" twice beats "5" once → right. B: "5" and "7" tie twice each, the earliest ("5") wins → wrong. C: "5" →
        // wrong.
        Assert.Equal(["4", "5", "5"], outcomes.Select(o => o.MajorityAnswer));
        Assert.Equal([true, false, false], outcomes.Select(o => o.MajorityCorrect));

        var m = EvalMetrics.Compute(outcomes, 4);
        Assert.Equal(3, m.Examples);
        Assert.Equal((0.5 + 0.5 + 0) / 3, m.PassAt1, 12);
        Assert.Equal((1.0 + 1.0 + 0) / 3, m.PassAtK, 12);        // n − c = 2 < k = 4: any draw of 4 holds a correct one
        Assert.Equal(1.0 / 3, m.MajAtK, 12);
        Assert.Equal(3.0 / 12, m.FormatRate, 12);
        Assert.Equal(1.0 / 12, m.TruncationRate, 12);
        Assert.Equal(4.0 / 12, m.MeanReward, 6);
        Assert.Equal(4.0 / 11, m.RewardMeans["accuracy"]!.Value, 6);   // the null accuracy is left out
        // Completion tokens sorted: 2 ×8, 5, 5, 6, 7 → mean 39/12; p50 at position 5.5 → 2; p90 at 9.9 → 5 + 0.9·(6 −
        // 5).
        Assert.Equal(Rounded(new LengthStats(39.0 / 12, 2, 5.9, 7)), Rounded(m.CompletionTokens));
        // Think tokens sorted: 0 ×8, 2, 3, 4, 5 → mean 14/12; p50 0; p90 at 9.9 → 3 + 0.9·(4 − 3).
        Assert.Equal(Rounded(new LengthStats(14.0 / 12, 0, 3.9, 5)), Rounded(m.ThinkTokens));

        // With k = 2 of the same four samples: pass@2 = 1 − C(2,2)/C(4,2) = 5/6 for A and B.
        var m2 = EvalMetrics.Compute(samples, 2);
        Assert.Equal((5.0 / 6 + 5.0 / 6) / 3, m2.PassAtK, 12);
        Assert.Equal(m.PassAt1, m2.PassAt1, 12);
    }

    static LengthStats Rounded(LengthStats s) =>
        new(Math.Round(s.Mean, 9), Math.Round(s.P50, 9), Math.Round(s.P90, 9), s.Max);

    [Fact]
    public async Task GreedyOneSampleMakesAllThreeAccuraciesEqual()
    {
        var rollouts = Rollouts().Where(r => r.SampleIndex == 2).Select(r => r with { SampleIndex = 0 }).ToList();
        var m = EvalMetrics.Compute(await Analyzer().AnalyzeAsync(rollouts), 1);
        Assert.Equal(2.0 / 3, m.PassAt1, 12);     // A ✓, B ✓, C not applicable → ✗
        Assert.Equal(2.0 / 3, m.PassAtK, 12);
        Assert.Equal(2.0 / 3, m.MajAtK, 12);
    }

    [Fact]
    public async Task NoThinkPrefillCountsTowardFormatButNotThinkLength()
    {
        var example = Example("4");
        var rollout = Rollout(example, 0, 0, [AnswerIs, Four], 1f);
        var samples = await Analyzer().AnalyzeAsync([rollout], _ => "<think>\n\n</think>\n\n");
        Assert.Equal("<think>\n\n</think>\n\nThe answer is 4", samples[0].Response);
        Assert.True(samples[0].FormatOk);
        Assert.Equal(0, samples[0].ThinkTokens);
        Assert.Equal("4", samples[0].Answer);
    }

    [Fact]
    public void AnswersWithoutGoldAreVotedOnByTheirAnswerTagText()
    {
        var countdown = Example(null);
        Assert.Equal("3 + 4",
            CompletionAnalyzer.AnswerKey("<think>try</think><answer>1</answer> then <answer> 3   +\n4 </answer>",
            countdown));
        Assert.Null(CompletionAnalyzer.AnswerKey("no tag at all: 7", countdown));
        // With a gold answer the math answer is used, in its parsed form: 0.50 and 1/2 stay different texts, 4 and 4.0
        // agree.
        Assert.Equal(CompletionAnalyzer.AnswerKey("The answer is 4", Example("4")),
            CompletionAnalyzer.AnswerKey("The answer is 4.0", Example("4")));
        Assert.Equal("7", CompletionAnalyzer.AnswerKey("<answer>7</answer>", countdown, AnswerVote.Math));
    }

    [Fact]
    public void TooFewSamplesForKIsAnError()
    {
        var rollouts = Rollouts().Take(4).ToList();
        var samples =
            rollouts.Select(r =>
            new ScoredSample(r.ExampleIndex, r.SampleIndex, "", 0, r.Rewards, false, false, 1, 0, false,
            null)).ToList();
        var e = Assert.Throws<ReasonSharpException>(() => EvalMetrics.Compute(samples, 8));
        Assert.Contains("pass@8", e.Message);
    }

    [Theory]
    [InlineData(new[] { 1, 2, 3, 4 }, 0.5, 2.5)]
    [InlineData(new[] { 1, 2, 3, 4 }, 0.9, 3.7)]
    [InlineData(new[] { 10 }, 0.9, 10.0)]
    [InlineData(new[] { 0, 10 }, 0.5, 5.0)]
    public void PercentilesInterpolateLinearly(int[] values, double q, double expected)
    {
        Assert.Equal(expected, LengthStats.Percentile(values, q), 12);
    }
}
