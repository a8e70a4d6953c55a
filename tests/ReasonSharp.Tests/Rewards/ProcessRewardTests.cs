using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Steps;

namespace ReasonSharp.Tests.Rewards;

public class ProcessRewardTests
{
    const string Solution = "Step 1: She has 3 + 4 = 7 apples.\nStep 2: Twice that is 7 * 2 = 14.\n\nStep 3: So " +
        "the answer is 14.";

    [Fact]
    public void Splits_by_paragraphs_lines_step_markers_or_a_separator()
    {
        Assert.Equal(["Step 1: She has 3 + 4 = 7 apples.\nStep 2: Twice that is 7 * 2 = 14.",
            "Step 3: So the answer is 14."],
            new StepSplitter().Split(Solution));
        Assert.Equal(3, new StepSplitter(new StepSplitterOptions { Mode = StepSplitMode.Lines }).Split(Solution).Count);
        Assert.Equal(["Intro.", "Step 1: a", "step 2. b"],
            new StepSplitter(new StepSplitterOptions { Mode = StepSplitMode.StepMarkers }).Split("Intro. Step 1: a " +
                "step 2. b"));
        Assert.Equal(["a", "b", "c"], new StepSplitter(new StepSplitterOptions { Mode = StepSplitMode.Separator, Separator = "ки" }).Split("a ки b ки c ки"));
        Assert.Empty(new StepSplitter().Split("  \n\n "));
        Assert.Throws<ReasonSharpException>(() =>
            new StepSplitter(new StepSplitterOptions { Mode = StepSplitMode.Separator, Separator = "(" }));
    }

    [Fact]
    public void Arithmetic_scorer_rechecks_each_calculation()
    {
        Assert.True(ArithmeticStepScorer.StepIsCorrect("3 + 4 = 7 and 7 * 2 = 14"));
        Assert.False(ArithmeticStepScorer.StepIsCorrect("3 + 4 = 8"));
        Assert.True(ArithmeticStepScorer.StepIsCorrect("He pays 48/2 = <<48/2=24>>24 dollars, i.e. $1,200 / 5 = " +
            "$240."));
        Assert.True(ArithmeticStepScorer.StepIsCorrect("10 / 3 = 3.33"));
        Assert.False(ArithmeticStepScorer.StepIsCorrect("10 / 3 = 3.5"));
        Assert.True(ArithmeticStepScorer.StepIsCorrect("no arithmetic here"));
    }

    [Fact]
    public async Task Process_reward_aggregates_step_scores()
    {
        var wrongLast = "Step 1: 3 + 4 = 7.\nStep 2: 7 * 2 = 15.";
        var inputs = new[] { RewardInput.Create(Solution), RewardInput.Create(wrongLast), RewardInput.Create("   ") };
        var lines = new StepSplitter(new StepSplitterOptions { Mode = StepSplitMode.Lines });
        Assert.Equal([1f, 0f, null],
            await new ProcessReward("prm", new ArithmeticStepScorer(), StepAggregation.Min, lines).ScoreAsync(inputs));
        Assert.Equal([1f, 0.5f, null],
            await new ProcessReward("prm", new ArithmeticStepScorer(), StepAggregation.Mean, lines).ScoreAsync(inputs));
        Assert.Equal([1f, 0f, null],
            await new ProcessReward("prm", new ArithmeticStepScorer(), StepAggregation.Last, lines).ScoreAsync(inputs));
        Assert.Equal(0.25f, ProcessReward.Aggregate([0.5f, 0.5f], StepAggregation.Product));
    }
}
