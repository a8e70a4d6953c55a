using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Builtins;
using ReasonSharp.Rewards.Verification;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Rewards;

/// <summary>Issue 19.11: gold answers are parsed whole and no answer is ever scored by a piece of it.</summary>
public class MathVerifyGoldTests(ITestOutputHelper output)
{
    VerifyResult Check(string gold, string prediction, VerifyOutcome expected)
    {
        var result = MathVerifier.Verify(gold, prediction);
        output.WriteLine($"{gold} | {prediction}\n{result.Explanation}\n");
        Assert.Equal(expected, result.Outcome);
        return result;
    }

    [Theory]
    [InlineData("2^{10}", @"\boxed{2}", VerifyOutcome.NotEquivalent)]
    [InlineData("2^{10}", "1024", VerifyOutcome.Equivalent)]
    [InlineData("5!", "5", VerifyOutcome.NotEquivalent)]
    [InlineData("5!", "120", VerifyOutcome.Equivalent)]
    [InlineData("1e5", "1", VerifyOutcome.NotEquivalent)]
    [InlineData("1e5", "100000", VerifyOutcome.Equivalent)]
    [InlineData(@"0<x\le 1", "1", VerifyOutcome.NotEquivalent)]
    [InlineData(@"0<x\le 1", "$(0,1]$", VerifyOutcome.Equivalent)]
    [InlineData("2^10", "1024", VerifyOutcome.Equivalent)]
    [InlineData("1 000", "1000", VerifyOutcome.Equivalent)]
    [InlineData("1,22", "1.22", VerifyOutcome.Equivalent)]
    [InlineData("#### 2^{10}", "2", VerifyOutcome.NotEquivalent)]
    [InlineData("#### 2^{10}", "1024", VerifyOutcome.Equivalent)]
    [InlineData("#### 3/4", "0.75", VerifyOutcome.Equivalent)]
    [InlineData("Janet sells 16 - 3 - 4 = 9 eggs.\n#### 18", "18", VerifyOutcome.Equivalent)]
    public void Bare_gold_answers_are_parsed_whole_never_as_their_leading_number(string gold, string prediction,
        VerifyOutcome expected)
    {
        var result = Check(gold, prediction, expected);
        Assert.NotNull(result.Gold.Value);
    }

    [Fact]
    public void A_tower_of_powers_is_compared_symbolically_or_refused_never_called_equal_to_ten()
    {
        const string tower = "10^{10^{10^{10}}}";
        Assert.Contains("too large", Check(tower, "10", VerifyOutcome.TooLarge).Decision);
        Check(tower, tower, VerifyOutcome.Equivalent);
        Check(tower, tower + "+1", VerifyOutcome.TooLarge);
        Check("2^{30000}", "2^{30001}", VerifyOutcome.TooLarge);
        // Within exact arithmetic (20,000 bits) a big power is still compared exactly.
        Check("2^{10000}", "2^{10000}+1", VerifyOutcome.NotEquivalent);
        Check("2^{10000}", "4^{5000}", VerifyOutcome.Equivalent);
    }

    [Fact]
    public void A_gold_that_does_not_parse_says_so_instead_of_scoring_a_piece()
    {
        var result = Check(@"\sqrt[3]{2}\pm 1", "1", VerifyOutcome.GoldUnusable);
        Assert.Contains("did not parse", result.Decision);
        Assert.Null(result.Gold.Value);
        // Identical texts still match (math-verify's string fallback), which is not a prefix.
        Check(@"\sqrt[3]{2}\pm 1", @"\sqrt[3]{2}\pm 1", VerifyOutcome.Equivalent);
    }

    [Theory]
    [InlineData("2", "the answer is 2^{10}")]
    [InlineData("1.5", @"The answer is 1.5 \times 10^5")]
    [InlineData("1", @"so 0 < x \le 1 holds")]
    [InlineData("8", @"the value is \log 8 here")]
    [InlineData("5", "5!/3")]
    [InlineData("2", "#### 2^{10}")]
    public void A_prediction_is_not_scored_by_a_number_inside_a_larger_expression(string gold, string prediction)
    {
        var result = MathVerifier.Verify(gold, prediction);
        output.WriteLine(result.Explanation);
        Assert.False(result.Equivalent);
    }

    [Theory]
    [InlineData("1000", "<answer>1 000</answer>")]
    [InlineData("1024", "the answer is 2^10")]
    [InlineData("100000", "the answer is 1e5.")]
    [InlineData("5", @"so \boxed 5 it is")]
    [InlineData("1024", "2^{10}")]
    public void Whole_answers_in_predictions_are_read_whole(string gold, string prediction) =>
        Check(gold, prediction, VerifyOutcome.Equivalent);

    [Fact]
    public async Task The_accuracy_reward_scores_the_whole_gold_and_reports_unusable_golds()
    {
        var reward = new AccuracyReward("accuracy", RewardOptions.None);
        var scores = await reward.ScoreAsync(
        [
            RewardInput.Create(@"\boxed{2}", new { answer = "2^{10}" }),
            RewardInput.Create("1024", new { answer = "2^{10}" }),
            RewardInput.Create("5", new { answer = "5!" }),
            RewardInput.Create("1", new { answer = "1e5" }),
            RewardInput.Create("1", new { answer = @"0<x\le 1" }),
            RewardInput.Create("1", new { answer = @"\sqrt[3]{2}\pm 1" }),
        ]);
        Assert.Equal([0f, 1f, 0f, 0f, 0f, null], scores);
        var metadata = await reward.GetMetadataAsync();
        Assert.Equal("6", metadata["verified"]);
        Assert.Equal("1", metadata["gold_unusable"]);
        Assert.Contains("did not parse", metadata["gold_unusable_first"]);
        Assert.Equal(1, reward.Counts[VerifyOutcome.GoldUnusable]);
    }
}
