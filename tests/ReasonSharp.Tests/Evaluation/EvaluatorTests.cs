using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>The evaluator on a tiny model: metrics agree with the per-sample records; greedy and modes
/// behave.</summary>
public sealed class EvaluatorTests : IDisposable
{
    readonly TempDir _dir = TestEnvironment.NewTempDir();
    readonly LanguageModel _model;
    readonly IReadOnlyList<ReasonSharp.Data.Example> _examples = TinyLanguageModels.ArithmeticExamples(3, seed: 7);

    public EvaluatorTests() => _model = TinyLanguageModels.Create(_dir, seed: 2);

    public void Dispose()
    {
        _model.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task MetricsAgreeWithEachSampleAndLengthsRespectTheBudget()
    {
        var evaluator = new Evaluator(new EvalOptions { K = 3, MaxNewTokens = 6, Reward = "accuracy,format", Threshold = 0.0, Seed = 4 });
        var result = (await evaluator.EvaluateAsync(_model, "tiny", _examples)).Single();
        var samples = result.Examples.SelectMany(o => o.SampleList).ToList();
        Assert.Equal(9, samples.Count);
        Assert.All(result.Examples, o => Assert.Equal(3, o.Samples));
        // Threshold 0: every completion counts as correct, so every accuracy is 1.
        Assert.Equal(1.0, result.Metrics.PassAt1);
        Assert.Equal(1.0, result.Metrics.PassAtK);
        Assert.All(samples, s => Assert.InRange(s.CompletionTokens, 1, 6));
        Assert.All(samples, s => Assert.True(!s.Truncated || s.CompletionTokens == 6));
        Assert.All(samples, s => Assert.InRange(s.ThinkTokens, 0, s.CompletionTokens));
        Assert.Equal(samples.Average(s => s.Truncated ? 1.0 : 0.0), result.Metrics.TruncationRate, 12);
        Assert.Equal(samples.Average(s => s.CompletionTokens), result.Metrics.CompletionTokens.Mean, 12);
        Assert.Equal(samples.Max(s => s.CompletionTokens), result.Metrics.CompletionTokens.Max);
        Assert.Equal(samples.Average(s => s.FormatOk ? 1.0 : 0.0), result.Metrics.FormatRate, 12);
        Assert.Equal(samples.Average(s => (double)s.Rewards["format"]!), result.Metrics.RewardMeans["format"]!.Value,
            6);
        Assert.Equal(["accuracy", "format"], result.Metrics.RewardMeans.Keys.Order());
    }

    [Fact]
    public async Task GreedyDrawsOneDeterministicSample()
    {
        var options = new EvalOptions { K = 4, Greedy = true, MaxNewTokens = 5 };
        Assert.Equal(1, options.EffectiveK);
        var first = (await new Evaluator(options).EvaluateAsync(_model, "tiny", _examples)).Single();
        var second =
            (await new Evaluator(options with { Seed = 99 }).EvaluateAsync(_model, "tiny", _examples)).Single();
        Assert.Equal(1, first.Metrics.K);
        Assert.All(first.Examples, o => Assert.Equal(1, o.Samples));
        Assert.Equal(first.Examples.Select(o => o.SampleList[0].Response),
            second.Examples.Select(o => o.SampleList[0].Response));
        Assert.Equal(first.Metrics.PassAt1, first.Metrics.MajAtK);
    }

    [Fact]
    public async Task BothModesOfADualModeModelAreReportedSeparately()
    {
        var chatml = new Evaluator(new EvalOptions { K = 1, MaxNewTokens = 4, Modes = [ThinkingMode.Think, ThinkingMode.NoThink] });
        var e = await Assert.ThrowsAsync<ReasonSharpException>(() => chatml.EvaluateAsync(_model, "tiny", _examples));
        Assert.Contains("no_think", e.Message);
        Assert.Contains("can switch thinking off", e.Message);

        // The same network and tokenizer in the dual-mode chat format (not disposed here: they belong to _model).
        var dual = new LanguageModel(_model.Model, _model.Tokenizer, "dual-mode");
        var results = await chatml.EvaluateAsync(dual, "tiny", _examples);
        Assert.Equal([ThinkingMode.Think, ThinkingMode.NoThink], results.Select(r => r.Mode));
        var noThink = results[1].Examples.SelectMany(o => o.SampleList).ToList();
        Assert.All(noThink, s => Assert.StartsWith("<think>\n\n</think>\n", s.Response));
        // Think mode has no prefill: its responses are the completions themselves.
        var runner =
            new RolloutRunner(dual, ReasonSharp.Rewards.RewardRegistry.CreateDefault().CreateComposite("accuracy"));
        Assert.Equal("", runner.PromptPrefill(_examples[0], enableThinking: true));
        Assert.Equal("<think>\n\n</think>\n", runner.PromptPrefill(_examples[0], enableThinking: false));
    }

    [Theory]
    [InlineData("k must be at least 1", 0, "accuracy", 0.6)]
    [InlineData("reward: unknown reward 'bogus'", 4, "bogus", 0.6)]
    [InlineData("temperature", 4, "accuracy", -1.0)]
    public void BadOptionsNameTheField(string message, int k, string reward, double temperature)
    {
        var e = Assert.Throws<ReasonSharpException>(() =>
            new Evaluator(new EvalOptions { K = k, Reward = reward, Sampling = new() { Temperature = temperature } }));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void MissingDatasetNamesThePath()
    {
        var e = Assert.Throws<ReasonSharpException>(() =>
            new Evaluator(new EvalOptions()).LoadExamples(_dir.File("absent.jsonl")));
        Assert.Contains("absent.jsonl", e.Message);
    }
}
