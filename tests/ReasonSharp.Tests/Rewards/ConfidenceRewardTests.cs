using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Rewards;

namespace ReasonSharp.Tests.Rewards;

/// <summary>The generator's confidence as a reward: hand-computed scores, its errors, and eval's selection by
/// it.</summary>
public sealed class ConfidenceRewardTests : IDisposable
{
    readonly TempDir _dir = TestEnvironment.NewTempDir();

    public void Dispose() => _dir.Dispose();

    static float? Score(string spec, IReadOnlyList<float>? logProbs)
    {
        using var reward = RewardSpecs.Create(RewardRegistry.CreateDefault(), spec);
        var input = RewardInput.Create("x") with { CompletionLogProbs = logProbs };
        return reward.ScoreAsync([input]).GetAwaiter().GetResult().Functions[0].Values[0];
    }

    [Fact]
    public void ScoresTheLeastLikelyTokenOrTheGeometricMean()
    {
        float[] logProbs = [-0.1f, -2.0f, -0.5f];
        Assert.Equal(Math.Exp(-2.0), Score("confidence", logProbs)!.Value, 5);
        Assert.Equal(Math.Exp(-2.6 / 3), Score("confidence(aggregation=mean)", logProbs)!.Value, 5);
        Assert.Equal(1.0, Score("confidence", [0f])!.Value, 6);
        Assert.Null(Score("confidence", []));
    }

    [Fact]
    public void ACompletionWithoutLogProbabilitiesAndAnUnknownAggregationAreErrors()
    {
        var error = Assert.Throws<RewardInputException>(() => Score("confidence", null));
        Assert.Equal("completion_logprobs", error.Field);
        Assert.Contains("expected min or mean", Assert.Throws<ReasonSharpException>(() =>
            RewardRegistry.CreateDefault().Create("confidence",
                new Dictionary<string, string> { ["aggregation"] = "max" })).Message);
    }

    [Fact]
    public void RolloutInputsCarryTheSampledLogProbabilities()
    {
        var example = new Example([new ChatMessage("user", "1+1?")], "2",
            new Dictionary<string, System.Text.Json.JsonElement>(), "test");
        var generation = new GenerationResult([1], [5, 6], "2", [-0.25f, -1.5f], FinishReason.Stop,
            TimeSpan.Zero);
        Assert.Equal([-0.25f, -1.5f], RolloutRunner.RewardInputFor(example, generation, 0).CompletionLogProbs);
    }

    [Fact]
    public async Task EvalSelectsTheMostConfidentSample()
    {
        using var model = TinyLanguageModels.Create(_dir, seed: 2);
        var examples = TinyLanguageModels.ArithmeticExamples(3, seed: 7);
        async Task<EvalResult> Run(string selection) => (await new Evaluator(new EvalOptions
        {
            K = 4, MaxNewTokens = 6, Seed = 4, SelectionReward = selection,
        }).EvaluateAsync(model, "tiny", examples)).Single();
        var byMin = await Run("confidence");
        var byMean = await Run("confidence(aggregation=mean)");
        Assert.NotNull(byMin.Metrics.BestOfK);
        Assert.NotNull(byMin.Metrics.WeightedMajAtK);
        foreach (var (min, mean) in byMin.Examples.Zip(byMean.Examples))
        {
            // The same seed draws the same samples: each one's geometric mean is at least its least likely token.
            Assert.All(min.SelectionScores!.Zip(mean.SelectionScores!), pair =>
            {
                Assert.InRange(pair.First!.Value, 1e-30f, 1f);
                Assert.True(pair.Second!.Value >= pair.First.Value - 1e-6f);
            });
            var best = min.SelectionScores!.Select((s, i) => (s!.Value, i)).MaxBy(x => x.Value).i;
            Assert.Equal(best, min.BestOfKSample);
        }
    }
}
