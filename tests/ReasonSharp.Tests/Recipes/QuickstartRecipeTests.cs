using ReasonSharp.Recipes;
using YamlDotNet.RepresentationModel;

namespace ReasonSharp.Tests.Recipes;

/// <summary>The quickstart's knowledge of its stages lives in the recipe's `quickstart:` section: a recipe with other
/// stage names and table rows runs through the same code, and a bad entry is a file:line error.</summary>
public class QuickstartRecipeTests
{
    /// <summary>The shipped recipe with GRPO's stage named `rl`, the dual-mode stage `both`, the first table row
    /// dropped and a label changed.</summary>
    static string RenamedRecipe() => Quickstart.RecipeText()
        .Replace("name: grpo\n", "name: rl\n").Replace("- grpo.", "- rl.").Replace("stage: grpo,", "stage: rl,")
        .Replace("time: [grpo]", "time: [rl]").Replace("label: GRPO,", "label: RL,")
        .Replace("name: dual\n", "name: both\n").Replace("- dual.", "- both.")
        .Replace("- \"dual.", "- \"both.").Replace("time: [dual]", "time: [both]")
        .Replace("final_model: dual", "final_model: both")
        .Replace("    - {label: random init, eval: eval_init}\n", "");

    static string Steps(Pipeline pipeline, string stage) =>
        pipeline.Stages.Single(s => s.Name == stage).Options.Children[new YamlScalarNode("max_steps")].ToString();

    [Fact]
    public void ARecipeWithRenamedStagesDrivesTheOverridesScalingTableAndFinalModel()
    {
        using var dir = TestEnvironment.NewTempDir();
        var recipe = dir.File("renamed.yaml");
        File.WriteAllText(recipe, RenamedRecipe());
        Assert.DoesNotContain(Pipeline.Load(recipe).Stages, s => s.Name is "grpo" or "dual");

        var quick = Quickstart.BuildPipeline(new QuickstartOptions { Recipe = recipe, Quick = true });
        Assert.Equal("3", Steps(quick, "rl"));
        Assert.Equal("10", Steps(quick, "both"));
        var half = Quickstart.BuildPipeline(new QuickstartOptions { Recipe = recipe, Minutes = 5 });
        Assert.Equal("75", Steps(half, "rl"));
        Assert.Equal("100", Steps(half, "both"));
        Assert.Equal("both", half.Quickstart!.FinalModel);

        // Every stage finished, each with its own wall time; eval stages with distinct metrics per mode.
        var finished = half.Stages.Select((s, i) => new FinishedStage(s.Name, s.Type, "",
            new Dictionary<string, string>(), s.Type != "eval" ? new Dictionary<string, double>()
            : new Dictionary<string, double>
            {
                ["think/pass@1"] = i / 100.0, ["think/format_rate"] = 1, ["think/mean_think_tokens"] = i,
                ["no_think/pass@1"] = i / 200.0, ["no_think/format_rate"] = 0.5, ["no_think/mean_think_tokens"] = 0,
            }, Math.Pow(2, i))).ToList();
        double Seconds(string name) => finished.Single(f => f.Name == name).Seconds;
        double Pass(string eval) => finished.Single(f => f.Name == eval).Metrics["think/pass@1"];
        var table = Quickstart.Table(half.Quickstart!, finished);
        Assert.Equal(["SFT (distillation)", "RL", "rejection sampling + SFT", "dual mode, /think",
            "dual mode, /no_think"], table.Select(r => r.Stage));
        Assert.Equal(["think", "think", "think", "think", "no_think"], table.Select(r => r.Mode));
        Assert.Equal([Seconds("sft") + Seconds("sft_traces"), Seconds("rl"), Seconds("rs_sft") + Seconds("sample"),
            Seconds("both"), Seconds("both")], table.Select(r => r.Seconds));
        Assert.Equal(Pass("eval_grpo"), table[1].Accuracy);
        Assert.Equal(finished.Single(f => f.Name == "eval_dual").Metrics["no_think/pass@1"], table[4].Accuracy);
    }

    [Fact]
    public void TheShippedRecipeMatchesTheQuickstartsTable()
    {
        var spec = Pipeline.Parse(Quickstart.RecipeText(), Quickstart.RecipeSource).Quickstart!;
        Assert.Equal(["random init", "SFT (distillation)", "GRPO", "rejection sampling + SFT", "dual mode, /think",
            "dual mode, /no_think"], spec.Table.Select(r => r.Label));
        Assert.Equal(("dual", "export"), (spec.FinalModel, spec.Gguf));
        Assert.Equal(3, spec.Plots.Count);
        Assert.Contains("rs_sft.dataset_name=${data.train}", spec.Quick);
    }

    [Theory]
    [InlineData("eval: eval_grpo,", "eval: eval_grpx,", "quickstart.table[2].eval: no stage named 'eval_grpx'; " +
        "expected an eval stage: eval_init, eval_sft, eval_grpo, eval_rs, eval_dual")]
    [InlineData("eval: eval_grpo}", "eval: grpo}", "quickstart.samples[1].eval: stage 'grpo' is no eval stage; " +
        "expected an eval stage: ")]
    [InlineData("mode: no_think,", "mode: none,", "quickstart.table[5].mode: 'none' is no thinking mode; " +
        "expected think or no_think")]
    [InlineData("{label: GRPO,", "{lable: GRPO,", "quickstart.table[2].lable: unknown key; " +
        "expected one of label, eval, mode, time")]
    [InlineData("- sft.max_steps=10", "- sfx.max_steps=10", "quickstart.quick[5]: 'sfx.max_steps' names no stage " +
        "option or pipeline key; expected stage.key=value with a stage of data, tokenizer")]
    [InlineData("gguf: export", "gguf: dual", "quickstart.gguf: stage 'dual' is no export stage; " +
        "expected an export stage: export")]
    [InlineData("  final_model: dual\n", "  final_modl: dual\n", "quickstart.final_modl: unknown key; " +
        "expected one of about, quick, final_model, gguf, table, plots, samples")]
    [InlineData("        - {stage: grpo, metric: reward, label: total reward}\n", "        - grpo\n",
        "quickstart.plots[1].series[0]: not a mapping; expected a mapping with stage, metric, label")]
    public void ABadEntryIsAnErrorNamingFileLineFieldAndWhatWasExpected(string find, string replace, string message)
    {
        var text = Quickstart.RecipeText();
        int at = text.IndexOf(find, StringComparison.Ordinal);
        Assert.True(at >= 0, find);
        int line = text[..at].Count(c => c == '\n') + 1;
        var bad = text[..at] + replace + text[(at + find.Length)..];
        var error = Assert.Throws<ReasonSharpException>(() => Pipeline.Parse(bad, "recipes/quickstart.yaml"));
        Assert.StartsWith($"recipes/quickstart.yaml:{line}: {message}", error.Message);
    }

    [Fact]
    public void ARecipeWithoutTheSectionIsNoQuickstart()
    {
        using var dir = TestEnvironment.NewTempDir();
        var recipe = dir.File("plain.yaml");
        var text = Quickstart.RecipeText();
        File.WriteAllText(recipe, text[..text.IndexOf("\nquickstart:", StringComparison.Ordinal)]);
        Assert.Null(Pipeline.Load(recipe).Quickstart);
        var error = Assert.Throws<ReasonSharpException>(
            () => Quickstart.BuildPipeline(new QuickstartOptions { Recipe = recipe }));
        Assert.Equal($"{recipe}: quickstart: missing; expected a 'quickstart:' section (final_model, gguf, table; " +
            "see recipes/quickstart.yaml)", error.Message);
    }
}
