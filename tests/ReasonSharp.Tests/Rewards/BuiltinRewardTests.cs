using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Builtins;

namespace ReasonSharp.Tests.Rewards;

public class BuiltinRewardTests
{
    static readonly RewardRegistry Registry = RewardRegistry.CreateDefault();

    static async Task<float?[]> Score(string reward, IReadOnlyList<RewardInput> batch,
        Dictionary<string, string>? options = null) =>
        await Registry.Create(reward, options).ScoreAsync(batch);

    static RewardInput Text(string completion, object? columns = null, int tokens = -1, string prompt = "p") =>
        RewardInput.Create(completion, columns, tokens < 0 ? null : Enumerable.Range(0, tokens).ToList(),
            RewardPrompt.FromText(prompt));

    [Fact]
    public async Task Accuracy_is_one_zero_or_null_when_the_gold_does_not_parse()
    {
        var scores = await Score("accuracy",
        [
            Text(@"so the answer is \boxed{\frac{1}{2}}", new { solution = @"The probability is $\frac12$." }),
            Text("The answer is 0.4", new { solution = @"$\frac{1}{2}$" }),
            Text("42", new { answer = "Janet has 40 + 2 = 42 eggs.\n#### 42" }),
            Text("42", new { solution = "no answer in here at all" }),
        ]);
        Assert.Equal([1f, 0f, 1f, null], scores);
        var missing = await Assert.ThrowsAsync<RewardInputException>(() => Score("accuracy", [Text("1")]));
        Assert.Contains("'solution' or 'answer'", missing.Problem);
    }

    [Fact]
    public async Task Format_matches_open_r1_and_the_r1_think_style()
    {
        var good = Text("<think>\nadd them\n</think>\n<answer>\n42\n</answer>");
        var noNewlines = Text("<think>add them</think><answer>42</answer>");
        var r1 = Text("<think>add them</think>\nThe answer is 42.");
        var twoThinks = Text("<think>a<think>b</think> 42");
        Assert.Equal([1f, 0f, 0f, 0f], await Score("format", [good, noNewlines, r1, twoThinks]));
        Assert.Equal([1f, 1f, 1f, 0f],
            await Score("format", [good, noNewlines, r1, twoThinks], new() { ["style"] = "think" }));
        Assert.Equal([1f],
            await Score("format", [Text("reasoning</think>\n42")],
            new() { ["style"] = "think", ["completion_starts_inside_think"] = "true" }));
    }

    [Fact]
    public async Task Tag_count_gives_a_quarter_per_well_placed_tag()
    {
        var scores = await Score("tag_count",
        [
            Text("<think>\nx\n</think>\n<answer>\n1\n</answer>"),
            Text("<think>\nx\n</think>\nno answer tags"),
            Text("<think>\n<think>\nx"),
            Text("plain"),
        ]);
        Assert.Equal([1f, 0.5f, 0f, 0f], scores);
    }

    [Fact]
    public async Task Reasoning_steps_counts_markers_up_to_three()
    {
        var scores = await Score("reasoning_steps",
        [
            Text("Step 1: a\nStep 2: b\nStep 3: c\nStep 4: d"),
            Text("First, we add."),
            Text("1. start\n- bullet"),
            Text("just an answer"),
        ]);
        Assert.Equal(1f, scores[0]);
        Assert.Equal(1f / 3, scores[1]!.Value, 5);
        Assert.Equal(2f / 3, scores[2]!.Value, 5);
        Assert.Equal(0f, scores[3]);
    }

    [Fact]
    public async Task Length_is_kimi_within_each_prompt_group_in_tokens()
    {
        var gold = new { answer = "#### 7" };
        var scores = await Score("length",
        [
            Text("7", gold, tokens: 10, prompt: "q1"),
            Text("7", gold, tokens: 30, prompt: "q1"),
            Text("8", gold, tokens: 20, prompt: "q1"),
            Text("8", gold, tokens: 5, prompt: "q2"),
            Text("8", gold, tokens: 5, prompt: "q2"),
        ]);
        // q1: min 10, max 30. λ = 0.5 - (len-10)/20: 0.5, -0.5, 0 (wrong: min(0, 0) = 0). q2: equal lengths -> 0.
        Assert.Equal([0.5f, -0.5f, 0f, 0f, 0f], scores);
        var chars =
            await Score("length", [Text("7", gold, prompt: "q"), Text("8 is wrong", gold, prompt: "q")],
            new() { ["unit"] = "chars" });
        Assert.Equal([0.5f, -0.5f], chars);
        await Assert.ThrowsAsync<RewardInputException>(() => Score("length", [Text("7", gold)]));
    }

    [Fact]
    public async Task Cosine_scales_by_token_length_and_correctness()
    {
        var gold = new { answer = "#### 7" };
        var options = new Dictionary<string, string> { ["max_len"] = "100" };
        var scores = await Score("cosine",
        [
            Text("7", gold, tokens: 0), Text("7", gold, tokens: 50), Text("7", gold, tokens: 100),
            Text("7", gold, tokens: 400),
            Text("8", gold, tokens: 0), Text("8", gold, tokens: 100),
            Text("8", new { answer = "no number" }, tokens: 3),
        ], options);
        Assert.Equal(1f, scores[0]!.Value, 5);     // short and correct: max_value_correct
        Assert.Equal(0.75f, scores[1]!.Value, 5);  // halfway: midpoint of 0.5..1
        Assert.Equal(0.5f, scores[2]!.Value, 5);   // at max_len: min_value_correct
        Assert.Equal(0.5f, scores[3]!.Value, 5);   // clipped past max_len
        Assert.Equal(-1f, scores[4]!.Value, 5);    // short and wrong: min_value_wrong
        Assert.Equal(-0.5f, scores[5]!.Value, 5);  // long and wrong: max_value_wrong
        Assert.Null(scores[6]);
    }

    [Fact]
    public async Task Repetition_penalises_repeated_ngrams()
    {
        var scores =
            await Score("repetition",
            [Text("a b c a b c a b c"), Text("one two three four"), Text("too short"), Text("")]);
        Assert.Equal(-(1 - 3f / 7), scores[0]!.Value, 5);
        Assert.Equal([0f, 0f, 0f], scores[1..]);
        Assert.Throws<ReasonSharpException>(() =>
            Registry.Create("repetition", new Dictionary<string, string> { ["max_penalty"] = "0.5" }));
    }

    [Fact]
    public async Task Soft_overlong_follows_dapo()
    {
        var options = new Dictionary<string, string> { ["max_completion_len"] = "100", ["soft_punish_cache"] = "20" };
        var scores =
            await Score("soft_overlong",
            [Text("", tokens: 80), Text("", tokens: 90), Text("", tokens: 100), Text("", tokens: 101)], options);
        Assert.Equal([0f, -0.5f, -1f, -1f], scores);
    }

    [Fact]
    public void Countdown_checks_numbers_characters_and_exact_values()
    {
        int[] numbers = [3, 5, 7];
        Assert.True(CountdownVerifier.Check("(3 * 5) + 7", numbers, 22).Correct);
        Assert.Equal("equals 15, not 22", CountdownVerifier.Check("3 + 5 + 7", numbers, 22).Reason);
        Assert.False(CountdownVerifier.Check("3 * 5 + 8", numbers, 23).UsesNumbersExactly);
        Assert.False(CountdownVerifier.Check("3 * 5 + 7 + 7", numbers, 29).UsesNumbersExactly);
        Assert.False(CountdownVerifier.Check("3 * 5 + 7.0", numbers, 22).Correct);
        Assert.Contains("only digits", CountdownVerifier.Check("3 * 5 + 7 = 22", numbers, 22).Reason);
        Assert.Contains("division by zero", CountdownVerifier.Check("7 / (5 - 5) + 3", [3, 5, 5, 7], 3).Reason);
        // Exact rationals: 1/3*3 is exactly 1, and 1000001/1000000 is not 1 (TinyZero's 1e-5 float check would accept
        // it).
        Assert.True(CountdownVerifier.Check("1 / 3 * 3", [1, 3, 3], 1).Correct);
        Assert.False(CountdownVerifier.Check("1000001 / 1000000", [1000001, 1000000], 1).Correct);
        Assert.True(CountdownVerifier.Check("-(3 - 5) * 7", numbers, 14).Correct);
    }

    [Fact]
    public async Task Countdown_reward_scores_one_format_score_or_zero()
    {
        var row = new { numbers = new[] { 3, 5, 7 }, target = 22 };
        var scores = await Score("countdown",
        [
            Text("<think>try</think><answer>(3*5)+7</answer>", row),
            Text("<answer>3+5+7</answer>", row),
            Text("<answer>3*5+8</answer>", row),
            Text("<answer>3+5+7</answer> then <answer>7 + 3*5</answer>", row),
            Text("22", row),
        ]);
        Assert.Equal([1f, 0.1f, 0.1f, 1f, 0f], scores);
        var bad =
            await Assert.ThrowsAsync<RewardInputException>(() =>
            Score("countdown", [Text("<answer>1</answer>", new { numbers = "3,5", target = 1 })]));
        Assert.Equal("numbers", bad.Field);
    }
}
