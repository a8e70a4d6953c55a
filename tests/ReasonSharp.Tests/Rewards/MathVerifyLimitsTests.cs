using System.Diagnostics;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Builtins;
using ReasonSharp.Rewards.Verification;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Rewards;

/// <summary>
/// Issue 19.12: the verifier keeps its deadline on any input (extraction and parsing included), refuses inputs and
/// numbers over its caps, and a timed-out or refused answer scores 0 and is counted. Timing tests run alone.
/// </summary>
[Collection("Serial")]
public class MathVerifyLimitsTests(ITestOutputHelper output)
{
    /// <summary>Allowed overrun past the deadline: a pattern step (250 ms) and scheduling on 2 shared cores.</summary>
    static readonly TimeSpan Slack = TimeSpan.FromSeconds(1);

    static string Repeat(string piece, int times) => string.Concat(Enumerable.Repeat(piece, times));

    (VerifyResult Result, TimeSpan Elapsed) Timed(string gold, string prediction, MathVerifyOptions options)
    {
        MathVerifier.Verify("1", "1"); // compile the patterns outside the measured call
        var watch = Stopwatch.StartNew();
        var result = MathVerifier.Verify(gold, prediction, options);
        watch.Stop();
        output.WriteLine($"{gold.Length} / {prediction.Length} chars: {watch.ElapsedMilliseconds} ms, "
                         + $"{result.Outcome}: {result.Decision}");
        return (result, watch.Elapsed);
    }

    [Theory]
    [InlineData(4_000)]  // 54 KB: took 7.8 s with --timeout 0.5
    [InlineData(8_000)]  // took 53 s
    public void Chains_of_boxes_finish_within_the_deadline(int boxes)
    {
        // The cap is raised past the text (112 KB for 8,000 boxes) so the deadline, not the cap, is what is tested.
        var options = new MathVerifyOptions { Timeout = TimeSpan.FromSeconds(0.5), MaxInputLength = 200_000 };
        var (result, elapsed) = Timed("1", Repeat(@"\boxed{1} and ", boxes), options);
        Assert.True(elapsed < options.Timeout + Slack, $"{elapsed.TotalSeconds:0.00} s");
        Assert.True(result.Outcome is VerifyOutcome.Equivalent or VerifyOutcome.TimedOut, result.Outcome.ToString());
    }

    [Fact]
    public void A_megabyte_is_refused_at_the_input_cap_and_kept_to_the_deadline_when_the_cap_is_raised()
    {
        var megabyte = Repeat(@"\boxed{1} and ", 75_000);
        var (refused, fast) = Timed("1", megabyte, new MathVerifyOptions());
        Assert.Equal(VerifyOutcome.TooLarge, refused.Outcome);
        Assert.Contains("MaxInputLength", refused.Decision);
        Assert.True(fast < TimeSpan.FromSeconds(0.5), $"{fast.TotalSeconds:0.00} s");

        var raised = new MathVerifyOptions { Timeout = TimeSpan.FromSeconds(0.5), MaxInputLength = 2_000_000 };
        var (_, elapsed) = Timed("1", megabyte, raised);
        Assert.True(elapsed < raised.Timeout + Slack, $"{elapsed.TotalSeconds:0.00} s");
    }

    [Fact]
    public void A_million_nines_on_each_side_is_refused_or_timed_out_never_reported_as_finished_late()
    {
        var nines = new string('9', 1_000_000);
        var (refused, fast) = Timed(nines, nines, new MathVerifyOptions());
        Assert.Equal(VerifyOutcome.GoldUnusable, refused.Outcome);
        Assert.Equal(VerifyLimit.Size, refused.Gold.Limit);
        Assert.True(fast < TimeSpan.FromSeconds(0.5), $"{fast.TotalSeconds:0.00} s");

        var open = new MathVerifyOptions
        {
            Timeout = TimeSpan.FromSeconds(0.5),
            MaxInputLength = 2_000_000,
            MaxNumberDigits = 2_000_000,
        };
        var (result, elapsed) = Timed("5", nines, open);
        Assert.True(elapsed < open.Timeout + Slack, $"{elapsed.TotalSeconds:0.00} s");
        Assert.True(result.Outcome is VerifyOutcome.TimedOut or VerifyOutcome.NotEquivalent, result.Outcome.ToString());
    }

    [Fact]
    public void Hundred_thousand_digit_numbers_are_refused_at_the_digit_cap_at_once()
    {
        var digits = new string('7', 100_000);
        var (gold, goldTime) = Timed(digits, digits, new MathVerifyOptions());
        Assert.Equal(VerifyOutcome.GoldUnusable, gold.Outcome);
        Assert.Contains("MaxNumberDigits", gold.Decision);
        var (prediction, predictionTime) = Timed("7", "The answer is " + digits, new MathVerifyOptions());
        Assert.Equal(VerifyOutcome.TooLarge, prediction.Outcome);
        var both = goldTime + predictionTime;
        Assert.True(both < TimeSpan.FromSeconds(0.5), $"{both.TotalSeconds:0.00} s");
    }

    [Fact]
    public void Adversarial_texts_at_the_input_cap_keep_a_short_deadline()
    {
        var options = new MathVerifyOptions { Timeout = TimeSpan.FromSeconds(0.2) };
        string[] pieces =
        [
            "1 ", "1+", "$1$ and ", "answer $1$ ", "final answer is $1$ ", @"\[ ", "{", "2^", "1/", @"\frac{1}{2}+",
            "the answer is 1 ", @"\boxed{", "(", "$",
        ];
        foreach (var piece in pieces)
        {
            var text = Repeat(piece, (options.MaxInputLength - 2) / piece.Length) + "1x";
            foreach (var (gold, prediction) in new[] { ("1", text), (text, "1") })
            {
                var (_, elapsed) = Timed(gold, prediction, options);
                var what = $"'{piece}' x {text.Length / piece.Length}: {elapsed.TotalSeconds:0.00} s";
                Assert.True(elapsed < options.Timeout + Slack, what);
            }
        }
    }

    [Fact]
    public void Deep_nesting_never_overflows_the_stack_of_a_worker_thread()
    {
        string[] texts =
        [
            Repeat(@"\text{(", 7_000) + "1" + Repeat(")}", 7_000),
            Repeat("-", 99_000) + "1",
            Repeat("2^", 49_000) + "2",
            "5" + Repeat("!", 99_000),
            Repeat("1/", 49_000) + "1",
            Repeat(@"\sqrt{", 8_000) + "2" + Repeat("}", 8_000),
            Repeat("(", 49_000) + "1" + Repeat(")", 49_000),
            Repeat(@"\{", 24_000) + "1" + Repeat(@"\}", 24_000),
            "2^" + Repeat("-", 99_000) + "1",
            @"\begin{pmatrix}"
            + string.Join(@"\\", Enumerable.Range(0, 10).Select(r => string.Join("&", Enumerable.Range(r * 10, 10))))
            + @"\end{pmatrix}^{10}",
        ];
        var outcomes = new List<VerifyOutcome>();
        var thread = new Thread(() =>
        {
            foreach (var text in texts)
            {
                outcomes.Add(MathVerifier.Verify(text, "1").Outcome);
                outcomes.Add(MathVerifier.Verify("1", text).Outcome);
            }
        }, maxStackSize: 1024 * 1024);
        thread.Start();
        thread.Join();
        output.WriteLine(string.Join(", ", outcomes));
        Assert.Equal(2 * texts.Length, outcomes.Count);
        Assert.DoesNotContain(VerifyOutcome.Equivalent, outcomes);
    }

    [Fact]
    public async Task Timed_out_and_too_large_answers_score_zero_and_are_counted()
    {
        MathVerifier.Verify("1", "1");
        var terms = Enumerable.Range(1, 20_000).Select(i => $"\\frac{{x^{{{i % 7}}}}}{{{i}}}");
        var slowSum = "$" + string.Join("+", terms) + "$";
        var reward = new AccuracyReward("accuracy", new RewardOptions(new Dictionary<string, string>
        {
            ["timeout_seconds"] = "0.05",
            ["max_input_length"] = "500000",
        }));
        var scores = await reward.ScoreAsync(
        [
            RewardInput.Create("$x$", new { answer = "x" }),
            RewardInput.Create(slowSum, new { answer = "x" }),
            RewardInput.Create(Repeat("9", 600_000), new { answer = "x" }),
        ]);
        Assert.Equal([1f, 0f, 0f], scores);
        var metadata = await reward.GetMetadataAsync();
        Assert.Equal("1", metadata["timed_out"]);
        Assert.Equal("1", metadata["too_large"]);
        Assert.Equal("3", metadata["verified"]);
    }

    static readonly (string Key, string Value)[] BadOptions =
        [("float_rounding", "-3"), ("max_input_length", "0"), ("max_number_digits", "0"), ("timeout_seconds", "0")];

    [Fact]
    public void Out_of_range_options_are_errors()
    {
        foreach (var bad in new[]
                 {
                     new MathVerifyOptions { FloatRounding = -3 }, new MathVerifyOptions { Timeout = TimeSpan.Zero },
                     new MathVerifyOptions { MaxInputLength = 0 }, new MathVerifyOptions { MaxNumberDigits = 0 },
                 })
            Assert.Throws<ReasonSharpException>(() => MathVerifier.Verify("1", "1", bad));
        var registry = RewardRegistry.CreateDefault();
        IRewardFunction Accuracy(string key, string value) =>
            registry.Create("accuracy", new Dictionary<string, string> { [key] = value });
        foreach (var (key, value) in BadOptions)
            Assert.Contains(key, Assert.Throws<ReasonSharpException>(() => Accuracy(key, value)).Message);
    }
}
