using System.Text.Json;
using ReasonSharp.Configuration;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Jobs;
using ReasonSharp.Training.Grpo;
using ReasonSharp.Training.Star;

namespace ReasonSharp.Tests.Generation;

/// <summary>The sampling knobs are declared once (<see cref="SamplingSettings"/>) and flattened into each job's
/// options: the flat keys, each job's defaults, one validation and one conversion to the engine's options.</summary>
public class SamplingSettingsTests
{
    static readonly string[] Keys = ["min_p", "repetition_penalty", "temperature", "top_k", "top_p"];
    static readonly string[] Overrides =
        ["temperature=0.3", "top_p=0.5", "top_k=7", "min_p=0.05", "repetition_penalty=1.2"];
    static readonly SamplingSettings Overridden =
        new() { Temperature = 0.3, TopP = 0.5, TopK = 7, MinP = 0.05, RepetitionPenalty = 1.2 };

    [Fact]
    public void EachJobKeepsItsDefaultsAndBindsTheFlatKeys()
    {
        var grpo = new GrpoConfig();
        var star = new StarConfig();
        var eval = new EvalOptions();
        var prm = new PrmLabelOptions();
        Assert.Equal((1.0, 1.0), (grpo.Sampling.Temperature, grpo.Sampling.TopP));
        Assert.Equal((0.7, 1.0), (star.Sampling.Temperature, star.Sampling.TopP));
        Assert.Equal((0.6, 0.95), (eval.Sampling.Temperature, eval.Sampling.TopP));
        Assert.Equal((0.6, 0.95), (new RejectionSamplingOptions().Sampling.Temperature,
            new RejectionSamplingOptions().Sampling.TopP));
        foreach (var s in new[] { grpo.Sampling, star.Sampling, eval.Sampling, prm.Sampling })
            Assert.Equal((0, 0.0, 1.0), (s.TopK, s.MinP, s.RepetitionPenalty));

        Assert.Equal(Overridden, OptionsBinder.ApplyOverrides(grpo, Overrides).Sampling);
        Assert.Equal(Overridden, OptionsBinder.ApplyOverrides(star, Overrides).Sampling);
        Assert.Equal(Overridden, OptionsBinder.ApplyOverrides(eval, Overrides).Sampling);
        // Through two [Flatten] levels: the eval job wraps EvalOptions, which wraps the settings.
        var job = OptionsBinder.ApplyOverrides(new EvalJobOptions(), Overrides);
        Assert.Equal(Overridden, job.Eval.Sampling);
        Assert.Equal(0.6, new EvalJobOptions().Eval.Sampling.Temperature);

        foreach (var yaml in new object[] { grpo, star, job }.Select(OptionsBinder.ToYaml))
        {
            var lines = yaml.Split('\n');
            Assert.All(Keys, key => Assert.Single(lines, l => l.StartsWith(key + ": ", StringComparison.Ordinal)));
            Assert.DoesNotContain(lines, l => l.StartsWith("sampling", StringComparison.Ordinal));
        }
        Assert.Contains("temperature: 0.3\n", OptionsBinder.ToYaml(job));
    }

    [Fact]
    public void SavedOptionsKeepTheKeysFlat()
    {
        var grpo = new GrpoConfig { Sampling = new() { Temperature = 0.9, TopK = 5 }, Seed = 3 };
        var json = grpo.ToJson();
        Assert.Equal(0.9, json["temperature"]!.GetValue<double>());
        Assert.Equal(5, json["top_k"]!.GetValue<int>());
        Assert.Equal(256, json["max_completion_length"]!.GetValue<int>());
        Assert.Null(json["sampling"]);
        // In the declared place: right after max_completion_length, as before the settings were shared.
        var names = json.Select(p => p.Key).ToList();
        Assert.Equal(["max_completion_length", "temperature", "top_p", "top_k", "min_p", "repetition_penalty"],
            names.Skip(names.IndexOf("max_completion_length")).Take(6));

        var eval = JsonSerializer.SerializeToNode(new EvalOptions(), EvalReport.OptionsJson)!.AsObject();
        Assert.Equal(0.95, eval["top_p"]!.GetValue<double>());
        Assert.Null(eval["sampling"]);
        names = eval.Select(p => p.Key).ToList();
        Assert.Equal(["max_new_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "seed"],
            names.Skip(names.IndexOf("max_new_tokens")).Take(7));
    }

    [Theory]
    [InlineData("temperature=-1", "temperature: got -1; expected a number ≥ 0")]
    [InlineData("top_p=0", "top_p: got 0; expected a number in (0, 1]")]
    [InlineData("top_k=-2", "top_k: got -2; expected an integer ≥ 0")]
    [InlineData("min_p=1", "min_p: got 1; expected a number in [0, 1)")]
    [InlineData("repetition_penalty=0", "repetition_penalty: got 0; expected a number > 0")]
    public void OneValidationNamesTheKeyForEveryJob(string set, string message)
    {
        Assert.StartsWith(message, Assert.Throws<ReasonSharpException>(() =>
            OptionsBinder.ApplyOverrides(new EvalOptions(), [set]).Validate()).Message);
        Assert.StartsWith(message, Assert.Throws<ReasonSharpException>(() =>
            OptionsBinder.ApplyOverrides(Star(), [set]).Validate()).Message);
        if (set != "temperature=-1")
            Assert.StartsWith(message, Assert.Throws<ReasonSharpException>(() =>
                OptionsBinder.ApplyOverrides(Grpo(), [set]).Validate()).Message);
        // The engine's own options are checked by the same code.
        var settings = OptionsBinder.ApplyOverrides(new SamplingSettings(), [set]);
        Assert.StartsWith(message, Assert.Throws<ReasonSharpException>(() =>
            settings.ToSampling(8, 0).Validate()).Message);
    }

    [Fact]
    public void GrpoSamplesSoTemperatureZeroIsAnError()
    {
        Grpo().Validate();
        var e = Assert.Throws<ReasonSharpException>(() =>
            (Grpo() with { Sampling = new() { Temperature = 0 } }).Validate());
        Assert.Equal("temperature: got 0; expected a number > 0 (GRPO samples)", e.Message);
        // Evaluation and STaR take 0 as greedy decoding.
        new EvalOptions { Sampling = new() { Temperature = 0 } }.Validate();
        (Star() with { Sampling = new() { Temperature = 0 } }).Validate();
    }

    [Fact]
    public void OneConversionToTheEnginesOptions()
    {
        var sampling = Overridden.ToSampling(maxNewTokens: 33, seed: 9);
        Assert.Equal((33, true, 0.3, 0.5, 7, 0.05, 1.2, 9L), Knobs(sampling));
        Assert.True(Overridden.ToSampling(33, 9, greedy: true).IsGreedy);
        Assert.True((Overridden with { Temperature = 0 }).ToSampling(33, 9).IsGreedy);

        var grpo = Grpo() with { Sampling = Overridden, MaxCompletionLength = 40 };
        var rollout = GrpoTask.RolloutOptionsFor(grpo, step: 2, round: 1).Sampling;
        Assert.Equal(Knobs(Overridden.ToSampling(40, rollout.Seed)), Knobs(rollout));
        var eval = new EvalOptions { Sampling = Overridden, MaxNewTokens = 21, Seed = 4 };
        Assert.Equal(Knobs(Overridden.ToSampling(21, 4)), Knobs(eval.ToSampling()));
        Assert.Equal(Knobs(Overridden.ToSampling(21, 4, greedy: true)), Knobs(eval.ToSampling(greedy: true)));
    }

    static (int, bool, double, double, int, double, double, long) Knobs(SamplingOptions o) =>
        (o.MaxNewTokens, o.DoSample, o.Temperature, o.TopP, o.TopK, o.MinP, o.RepetitionPenalty, o.Seed);

    static GrpoConfig Grpo() => new() { ModelNameOrPath = "m", DatasetName = "d.jsonl", OutputDir = "out" };

    static StarConfig Star() => new() { ModelNameOrPath = "m", DatasetName = "d.jsonl", OutputDir = "out" };
}
