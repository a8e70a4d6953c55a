using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using static ReasonSharp.Tests.Evaluation.HandBuiltRollouts;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>select: best keeps the K completions with the highest total reward (best-of-N with a reward model), among
/// those that reach the threshold.</summary>
public class BestOfNSelectionTests
{
    // Six samples of one prompt with reward-model-like scores (the hand-built rollouts call the total "accuracy").
    static readonly float[] Scores = [0.3f, -1.2f, 2.5f, 0.9f, 2.5f, -0.4f];

    static List<Rollout> Rollouts()
    {
        var e = Example("4");
        return Scores.Select((s, i) => Rollout(e, 0, i, [AnswerIs, Four, i + 1], s)).ToList();
    }

    static IReadOnlyList<int> Kept(int keep, double threshold) =>
        RejectionSampler.Decide(0, Rollouts(), "",
            new RejectionSamplingOptions { Select = SelectionMode.Best, Keep = keep, Threshold = threshold })
            .Kept.Select(k => k.Rollout.SampleIndex).ToList();

    [Fact]
    public void BestKeepsTheHighestRewardsBestFirstWithTiesInSampleOrder()
    {
        Assert.Equal([2], Kept(1, threshold: -1e9));             // best-of-6
        Assert.Equal([2, 4, 3], Kept(3, threshold: -1e9));        // 2.5, 2.5 (sample order), 0.9
        Assert.Equal([2, 4, 3, 0, 5, 1], Kept(10, threshold: -1e9));
    }

    [Fact]
    public void TheThresholdStillBoundsWhatMayBeKept()
    {
        Assert.Equal([2, 4, 3], Kept(5, threshold: 0.5));
        var outcome = RejectionSampler.Decide(0, Rollouts(), "",
            new RejectionSamplingOptions { Select = SelectionMode.Best, Keep = 1, Threshold = 3 });
        Assert.Equal(PromptStatus.NoneCorrect, outcome.Status);
        Assert.Empty(outcome.Kept);
    }

    [Fact]
    public void BestIsBoundFromTheSelectOption()
    {
        var options = new RejectionSamplingOptions { Select = SelectionMode.Best, Keep = 2, Threshold = -1e9 };
        options.Validate();
        Assert.Equal(SelectionMode.Best, options.Select);
        Assert.Throws<ArgumentException>(() =>
            CompletionSelection.Select(new[] { 1, 2 }, SelectionMode.Best, 1, _ => []));
    }
}
