using System.Text.Json;
using ReasonSharp.Modeling;
using ReasonSharp.Recipes;
using ReasonSharp.Reporting;
using ReasonSharp.Training;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Recipes;

/// <summary>Multi-stage recipes: every shipped recipe checks out and a killed run resumes (every tiny CPU recipe runs
/// end to end from its header commands in <see cref="TinyRecipeHeaderTests"/>).</summary>
public class PipelineTests
{
    static string Recipe(string name) => Path.Combine(TestEnvironment.RepoRoot, "recipes", name);

    public static IEnumerable<object[]> PipelineRecipes() =>
        Directory.GetFiles(Path.Combine(TestEnvironment.RepoRoot, "recipes"), "*.yaml", SearchOption.AllDirectories)
            .Where(f => File.ReadAllText(f).Contains("\nstages:"))
            .Select(f => new object[] { Path.GetRelativePath(Path.Combine(TestEnvironment.RepoRoot, "recipes"), f) });

    [Theory]
    [MemberData(nameof(PipelineRecipes))]
    public void EveryShippedPipelineRecipeChecksOut(string recipe) => Pipeline.Load(Recipe(recipe)).Check();

    static IReadOnlyList<FinishedStage> Run(string recipe, string output, Action<PipelineStage>? hook = null)
    {
        var pipeline = Pipeline.Load(Recipe(recipe), [$"output_dir={output}"]);
        pipeline.StageStarting = hook;
        return pipeline.Run(ProgressDisplay.ForConsole(true));
    }

    [Fact]
    public void R1RecipeResumesAfterAKillWithoutRedoingFinishedStages()
    {
        using var dir = TestEnvironment.NewTempDir();
        Assert.Throws<OperationCanceledException>(() =>
            Run("tiny/r1.yaml", dir.Path,
                stage => { if (stage.Name == "sample") throw new OperationCanceledException("killed"); }));
        var state =
            JsonSerializer.Deserialize<List<FinishedStage>>(File.ReadAllText(Path.Combine(dir.Path,
            Pipeline.StateFile)))!;
        Assert.Equal(["data", "tokenizer", "init", "cold_start", "rl"], state.Select(s => s.Name));
        var coldStartModel = File.GetLastWriteTimeUtc(Path.Combine(dir.Path, "cold_start", ModelFolder.SingleFile));

        var started = new List<string>();
        var finished = Run("tiny/r1.yaml", dir.Path, stage => started.Add(stage.Name));
        Assert.Equal(["sample", "final_sft", "eval"], started);
        Assert.Equal(8, finished.Count);
        Assert.Equal(coldStartModel,
            File.GetLastWriteTimeUtc(Path.Combine(dir.Path, "cold_start", ModelFolder.SingleFile)));
        Assert.True(finished.Single(s => s.Name == "sample").Metrics["kept_rows"] > 0);
        Assert.Equal(Path.Combine(dir.Path, "final_sft"),
            finished.Single(s => s.Name == "eval").Outputs["evaluated_model"]);
    }

    [Fact]
    public void SmolLM3DualModeRecipeRunsSftPairsApoAndMergeWithBothModesEvaluatedAfterEachStage()
    {
        using var dir = TestEnvironment.NewTempDir();
        var finished = Run("tiny/smollm3-dual-mode.yaml", dir.Path);
        var pairs = finished.Single(s => s.Name == "pairs");
        Assert.True(pairs.Metrics["pairs"] > 0, "no preference pairs were sampled");
        Assert.Equal(pairs.Metrics["pairs"], finished.Single(s => s.Name == "apo").Metrics["pairs"]);
        foreach (var eval in new[] { "eval_sft", "eval_apo", "eval_merged" })
        {
            var metrics = finished.Single(s => s.Name == eval).Metrics;
            Assert.True(metrics.ContainsKey("think/pass@1") && metrics.ContainsKey("no_think/pass@1"), eval);
            Assert.Equal(1, metrics["no_think/format_rate"]);
        }
        var report = File.ReadAllText(Path.Combine(dir.Path, RunReport.HtmlFile));
        Assert.Contains("no_think/pass@1", report);

        // The merge is 0.9 × the APO model + 0.1 × the SFT model, tensor by tensor.
        const string name = "model.layers.0.mlp.up_proj.weight";
        Tensor Weight(string stage) => SafetensorsFile.Open(Path.Combine(dir.Path, stage, ModelFolder.SingleFile))
            .Read(name, ScalarType.Float32);
        using var apo = Weight("apo");
        using var sft = Weight("sft");
        using var merged = Weight("merge");
        using var expected = apo * 0.9 + sft * 0.1;
        Assert.True(expected.allclose(merged, rtol: 1e-5, atol: 1e-6), "merged weights are not 0.9/0.1");
    }

    [Theory]
    [InlineData("  - name: a\n    type: train\n", "type 'train'")]
    [InlineData("  - name: a\n    type: sft\n    dataset_name: ${nope.data}\n", "no earlier stage is named 'nope'")]
    [InlineData("  - name: a\n    type: sft\n    learnig_rate: 1\n", "unknown option 'learnig_rate'")]
    public void BadRecipesAreErrorsNamingTheStageAndKey(string stages, string expected)
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("p.yaml"), $"output_dir: {dir.Path}\nstages:\n{stages}");
        var e = Assert.ThrowsAny<ReasonSharpException>(() => Pipeline.Load(dir.File("p.yaml")).Check());
        Assert.Contains(expected, e.Message);
        Assert.Contains("p.yaml", e.Message);
    }

    [Fact]
    public void AReferenceToAnOutputAStageDidNotProduceNamesWhatItDid()
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("p.yaml"), $"output_dir: {dir.Path}\nstages:\n  - name: a\n    type: data\n    " +
            $"n: 50\n  - name: b\n    type: sft\n    dataset_name: ${{a.nothing}}\n");
        var e = Assert.Throws<ReasonSharpException>(() =>
            Pipeline.Load(dir.File("p.yaml")).Run(ProgressDisplay.ForConsole(true)));
        Assert.Contains("stage 'a' produced train, test, reward", e.Message);
    }
}
