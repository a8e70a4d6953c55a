using ReasonSharp.Modeling;
using ReasonSharp.Recipes;
using ReasonSharp.Reporting;
using ReasonSharp.Training;

namespace ReasonSharp.Tests.Recipes;

/// <summary>`reason quickstart --quick` end to end: every stage produces its outputs, and the report, model and GGUF
/// exist.</summary>
[Collection("Console")]
public class QuickstartTests
{
    [Fact]
    public async Task QuickRunProducesEveryStagesOutputsAndTheReport()
    {
        using var dir = TestEnvironment.NewTempDir();
        var output = dir.File("qs");
        var (code, console) = await CliHarness.Run("quickstart", "--quick", "--out", output);
        Assert.True(code == 0, console);
        var pipeline = Quickstart.BuildPipeline(new QuickstartOptions { OutputDir = output, Quick = true });
        var state =
            System.Text.Json.JsonSerializer.Deserialize<List<FinishedStage>>(File.ReadAllText(Path.Combine(output,
            Pipeline.StateFile)))!;
        Assert.Equal(pipeline.Stages.Select(s => s.Name), state.Select(s => s.Name));
        foreach (var stage in state)
            foreach (var (key,
                path) in stage.Outputs.Where(o =>
                o.Key is "model" or "train" or "test" or "data" or "results" or "file" or "folder"))
                Assert.True(File.Exists(path) || Directory.Exists(path),
                    $"stage {stage.Name}: output {key} ({path}) is missing");
        foreach (var file in new[]
        {
            "report.html", "quickstart.md", "quickstart.json", "final.gguf", "final/config.json",
            "final/model.safetensors", "final/tokenizer.json",
        })
            Assert.True(File.Exists(Path.Combine(output, file)), $"{file} is missing");
        Assert.True(Directory.GetFiles(Path.Combine(output, "plots"), "*.png").Length >= 3);
        Assert.Contains("dual mode, /no_think", console);
        Assert.Contains("chat", console);
        using var final = LanguageModel.Load(Path.Combine(output, "final"), "cpu");
        Assert.True(final.Chat.Capabilities.SystemThinkFlags);
    }

    /// <summary>The README's reproducibility claim as tested: the same seed on the same machine gives the same table
    /// and bit-identical weights; another seed does not.</summary>
    [Fact]
    public void TheSameSeedGivesTheSameTableAndWeights()
    {
        using var dir = TestEnvironment.NewTempDir();
        QuickstartResult Run(string name, long seed) =>
            Quickstart.Run(new QuickstartOptions { OutputDir = dir.File(name), Quick = true, Seed = seed },
                new ProgressDisplay(TextWriter.Null, false));
        static string Weights(QuickstartResult r) =>
            Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(
                File.ReadAllBytes(Path.Combine(r.FinalModel, "model.safetensors"))));
        static string Losses(QuickstartResult r) =>
            File.ReadAllText(Path.Combine(r.OutputDir, "sft", "metrics.jsonl")).Split('\n')
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, "\"loss\":[^,]*").Value).Aggregate("",
                (a, b) => a + b);
        var first = Run("a", 7);
        var second = Run("b", 7);
        var other = Run("c", 8);
        Assert.Equal(first.Table.Select(r => (r.Stage, r.Mode, r.Accuracy, r.FormatRate, r.MeanThinkTokens)),
            second.Table.Select(r => (r.Stage, r.Mode, r.Accuracy, r.FormatRate, r.MeanThinkTokens)));
        Assert.Equal(Losses(first), Losses(second));
        Assert.Equal(Weights(first), Weights(second));
        Assert.NotEqual(Weights(first), Weights(other));
        Assert.NotEqual(Losses(first), Losses(other));
    }

    [Fact]
    public void MinutesScaleTheTrainingStepsAndNothingElse()
    {
        var normal = Quickstart.BuildPipeline(new QuickstartOptions());
        var half = Quickstart.BuildPipeline(new QuickstartOptions { Minutes = 5 });
        static string Steps(Pipeline p, string stage) => p.Stages.Single(s => s.Name == stage)
            .Options.Children[new YamlDotNet.RepresentationModel.YamlScalarNode("max_steps")].ToString();
        foreach (var stage in new[] { "sft_traces", "sft", "grpo", "rs_sft", "dual" })
            Assert.Equal(Math.Max(1, (int)Math.Round(int.Parse(Steps(normal, stage)) / 2.0)).ToString(),
                Steps(half, stage));
        Assert.Throws<ReasonSharpException>(() => Quickstart.BuildPipeline(new QuickstartOptions { Minutes = 0 }));
    }
}
