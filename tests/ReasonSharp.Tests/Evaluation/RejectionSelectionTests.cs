using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Rewards;
using static ReasonSharp.Tests.Evaluation.HandBuiltRollouts;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>Rejection sampling's per-prompt decision on hand-built rollouts: verification, selection, dedup, pass-rate
/// filter.</summary>
public class RejectionSelectionTests
{
    // One prompt, six samples; verified (reward ≥ 1): s0, s2, s3, s4. s3 equals s0 once whitespace is normalised.
    //   s0 "The answer is 4" (2 tokens)        s1 "The answer is 5" (reward 0)
    //   s2 "<think> step step</think>The answer is 4" (6 tokens)
    //   s3 "The answer is  4" (3 tokens)       s4 "xxx4" (4 tokens)     s5 reward 0.5, below the threshold
    static List<Rollout> Rollouts()
    {
        var e = Example("4");
        return
        [
            Rollout(e, 0, 0, [AnswerIs, Four], 1f),
            Rollout(e, 0, 1, [AnswerIs, Five], 0f),
            Rollout(e, 0, 2, [Think, Step, Step, EndThink, AnswerIs, Four], 1f),
            Rollout(e, 0, 3, [AnswerIs, Space, Four], 1f),
            Rollout(e, 0, 4, [X, X, X, Four], 1f),
            Rollout(e, 0, 5, [Think, EndThink, AnswerIs, Seven], 0.5f),
        ];
    }

    static IReadOnlyList<int> Kept(SelectionMode mode, int keep = 1, bool dedup = false) =>
        RejectionSampler.Decide(7, Rollouts(), "",
            new RejectionSamplingOptions { Select = mode, Keep = keep, Dedup = dedup })
            .Kept.Select(k => k.Rollout.SampleIndex).ToList();

    [Fact]
    public void AllKeepsExactlyTheVerifiedCompletions()
    {
        var outcome = RejectionSampler.Decide(7, Rollouts(), "", new RejectionSamplingOptions());
        Assert.Equal(7, outcome.PromptIndex);
        Assert.Equal(PromptStatus.Kept, outcome.Status);
        Assert.Equal((6, 4), (outcome.Samples, outcome.Correct));
        Assert.Equal(4.0 / 6, outcome.PassRate, 12);
        Assert.Equal([0, 2, 3, 4], outcome.Kept.Select(k => k.Rollout.SampleIndex));
        Assert.All(outcome.Kept, k => Assert.True(k.Rollout.Reward >= 1f));
        Assert.Equal([1, 2, 4, 6], outcome.PassAtK.Keys);
        Assert.Equal(4.0 / 6, outcome.PassAtK[1], 12);
        Assert.Equal(1 - 1.0 / 15, outcome.PassAtK[2], 12);   // 1 − C(2,2)/C(6,2)
        Assert.Equal(1.0, outcome.PassAtK[4], 12);
    }

    [Fact]
    public void EachSelectionModeChoosesAsSpecified()
    {
        Assert.Equal([0, 2], Kept(SelectionMode.First, 2));
        Assert.Equal([0, 3], Kept(SelectionMode.Shortest, 2));              // 2 and 3 tokens
        // Diverse: start with s0 {3,4}; Jaccard distances s2 0.6, s3 1/3, s4 2/3 → s4; then nearest distances
        // s2 min(0.6, 5/6) = 0.6, s3 min(1/3, 3/4) = 1/3 → s2.
        Assert.Equal([0, 4], Kept(SelectionMode.Diverse, 2));
        Assert.Equal([0, 4, 2], Kept(SelectionMode.Diverse, 3));
        Assert.Equal([0, 4, 2, 3], Kept(SelectionMode.Diverse, 10));         // in the order chosen
        // keep applies to first/shortest/diverse only
        Assert.Equal([0, 2, 3, 4], Kept(SelectionMode.All, 1));
    }

    [Fact]
    public void DedupDropsWhitespaceVariantsBeforeSelecting()
    {
        Assert.Equal([0, 2, 4], Kept(SelectionMode.All, dedup: true));
        Assert.Equal([0, 4], Kept(SelectionMode.Shortest, 2, dedup: true));   // s3 (3 tokens) was a duplicate of s0
        var outcome = RejectionSampler.Decide(0, Rollouts(), "", new RejectionSamplingOptions { Dedup = true });
        Assert.Equal(1, outcome.Duplicates);
        // the pass rate still counts every verified sample
        Assert.Equal(4, outcome.Correct);
    }

    [Fact]
    public void PassRateFilterKeepsOnlyMediumDifficultyPrompts()
    {
        var tooEasy =
            RejectionSampler.Decide(0, Rollouts(), "",
            new RejectionSamplingOptions { MinPassRate = 0.2, MaxPassRate = 0.5 });
        Assert.Equal(PromptStatus.TooEasy, tooEasy.Status);
        Assert.Empty(tooEasy.Kept);
        Assert.Equal(4.0 / 6, tooEasy.PassRate, 12);
        var tooHard = RejectionSampler.Decide(0, Rollouts(), "", new RejectionSamplingOptions { MinPassRate = 0.7 });
        Assert.Equal(PromptStatus.TooHard, tooHard.Status);
        Assert.Empty(tooHard.Kept);
        var medium =
            RejectionSampler.Decide(0, Rollouts(), "",
            new RejectionSamplingOptions { MinPassRate = 0.2, MaxPassRate = 0.8 });
        Assert.Equal(4, medium.Kept.Count);
        var wrong = Rollouts().Select(r => r with { Reward = 0 }).ToList();
        Assert.Equal(PromptStatus.NoneCorrect,
            RejectionSampler.Decide(0, wrong, "", new RejectionSamplingOptions()).Status);
        Assert.Equal(PromptStatus.TooHard,
            RejectionSampler.Decide(0, wrong, "", new RejectionSamplingOptions { MinPassRate = 0.2 }).Status);
    }

    [Fact]
    public async Task TheRealAccuracyRewardDecidesWhatIsKept()
    {
        var accuracy = RewardRegistry.CreateDefault().Create("accuracy");
        var e = Example("4");
        int[][] completions =
            [[AnswerIs, Five], [AnswerIs, Four], [Think, Step, EndThink, AnswerIs, Seven],
            [Think, Step, EndThink, AnswerIs, Four]];
        var inputs = completions.Select(ids => RewardInput.Create(Decode(ids), new { answer = "4" })).ToList();
        var scores = await accuracy.ScoreAsync(inputs);
        var rollouts = completions.Select((ids, i) => Rollout(e, 0, i, ids, scores[i])).ToList();
        var outcome = RejectionSampler.Decide(0, rollouts, "", new RejectionSamplingOptions());
        Assert.Equal([1, 3], outcome.Kept.Select(k => k.Rollout.SampleIndex));
        Assert.Equal(["The answer is 4", "<think> step</think>The answer is 4"], outcome.Kept.Select(k => k.Response));
    }

    [Fact]
    public void PrefillBecomesPartOfTheKeptAssistantTurn()
    {
        var outcome =
            RejectionSampler.Decide(0, Rollouts(), "<think>\n\n</think>\n\n",
            new RejectionSamplingOptions { Select = SelectionMode.First });
        Assert.Equal("<think>\n\n</think>\n\nThe answer is 4", outcome.Kept.Single().Response);
    }

    [Theory]
    [InlineData(1, new[] { 1 })]
    [InlineData(6, new[] { 1, 2, 4, 6 })]
    [InlineData(8, new[] { 1, 2, 4, 8 })]
    public void PassAtKLevelsArePowersOfTwoAndN(int n, int[] levels) =>
        Assert.Equal(levels, RejectionSampler.PassAtKLevels(n));

    [Fact]
    public void JaccardDistanceOfTokenSets()
    {
        Assert.Equal(0.0, CompletionSelection.JaccardDistance(new HashSet<int>(), new HashSet<int>()));
        Assert.Equal(1.0, CompletionSelection.JaccardDistance(new HashSet<int> { 1 }, new HashSet<int> { 2 }));
        Assert.Equal(0.5,
            CompletionSelection.JaccardDistance(new HashSet<int> { 1, 2 }, new HashSet<int> { 2, 3, 1, 4 }));
    }

    [Theory]
    [InlineData("num_generations", 0, 0.0, 1.0, 1)]
    [InlineData("keep", 8, 0.0, 1.0, 0)]
    [InlineData("min_pass_rate", 8, -0.1, 1.0, 1)]
    [InlineData("max_pass_rate", 8, 0.0, 1.5, 1)]
    [InlineData("must not exceed", 8, 0.9, 0.1, 1)]
    public void BadOptionsNameTheField(string field, int n, double min, double max, int keep)
    {
        var e = Assert.Throws<ReasonSharpException>(() =>
            new RejectionSamplingOptions { NumGenerations = n, MinPassRate = min, MaxPassRate = max, Keep = keep }.Validate());
        Assert.Contains(field, e.Message);
    }
}
