using System.Text.Json;
using ReasonSharp.Recipes;
using YamlDotNet.RepresentationModel;

namespace ReasonSharp.Tests.Recipes;

/// <summary>
/// Every CPU recipe's header commands, parsed from its comments and run as a user would: `reason` as a process, in a
/// folder holding only recipes/. They make their own data, tokenizer and model, and the run folder they name ends
/// with a model. The minutes-long CPU chain (sft-tiny-cpu → grpo-tiny-cpu) runs its commands verbatim too, with the
/// training steps cut by `--set` flags appended to its two training commands.
/// </summary>
public class TinyRecipeHeaderTests
{
    public static IEnumerable<object[]> CpuRecipes() => RecipeHeaders.All()
        .Where(r => r != "quickstart.yaml" && RecipeHeaders.Scalar(RecipeHeaders.Yaml(r), "device") == "cpu")
        .Select(r => new object[] { r });

    /// <summary>What is appended to the training commands of the minutes-long CPU recipes.</summary>
    static readonly Dictionary<string, string[]> Shortened = new()
    {
        ["recipes/sft-tiny-cpu.yaml"] =
        [
            "--set", "max_steps=20", "--set", "eval_steps=20", "--set", "save_steps=20",
            "--set", "eval_accuracy_samples=8", "--set", "eval_max_new_tokens=16",
        ],
        ["recipes/grpo-tiny-cpu.yaml"] =
        [
            "--set", "max_steps=2", "--set", "eval_steps=2", "--set", "save_steps=2",
            "--set", "eval_accuracy_samples=8", "--set", "per_device_train_batch_size=16",
            "--set", "max_completion_length=32",
        ],
    };

    [Fact]
    public void EveryRecipeButQuickstartsNamesTheCommandThatRunsItAndNoneReadsShared()
    {
        foreach (var recipe in RecipeHeaders.All())
        {
            var text = File.ReadAllText(Path.Combine(RecipeHeaders.RecipesFolder, recipe));
            Assert.False(text.Contains("../shared"), $"recipes/{recipe} refers to ../shared");
            if (recipe == "quickstart.yaml") continue; // `reason quickstart` runs it (QuickstartTests)
            Assert.True(RecipeHeaders.Commands(recipe).Any(c => c.Config == $"recipes/{recipe}"),
                $"recipes/{recipe}: no header line `#   reason … --config recipes/{recipe}`");
        }
    }

    [Fact]
    public void HeaderCommandsAreSplitAsAShellSplitsThem()
    {
        var commands = RecipeHeaders.Commands("sft-tiny-cpu.yaml");
        var sft = commands.Single(c => c.Verb == "sft");
        Assert.Equal("1", sft.Environment["OMP_NUM_THREADS"]);
        Assert.Equal(["sft", "--config", "recipes/sft-tiny-cpu.yaml"], sft.Args);
        var download = RecipeHeaders.Commands("r1.yaml").First(c => c.Args.Contains("openai/gsm8k"));
        Assert.Equal(["download", "openai/gsm8k", "--repo-type", "dataset", "--include", "main/*"], download.Args);
    }

    [Theory]
    [MemberData(nameof(CpuRecipes))]
    public void HeaderCommandsRunFromAnEmptyFolderAndMakeTheModel(string recipe)
    {
        var commands = RecipeHeaders.Commands(recipe);
        Assert.Contains(commands, c => c.Config == $"recipes/{recipe}");
        using var dir = RecipeHeaders.EmptyFolderWithRecipes();
        foreach (var command in commands)
        {
            var extra = command.Config is { } config && Shortened.TryGetValue(config, out var more) ? more : [];
            var (code, output) = RecipeHeaders.Run(command, dir.Path, extra);
            Assert.True(code == 0, $"recipes/{recipe}: `{command}` exited {code}:\n{output}");
        }

        var yaml = RecipeHeaders.Yaml(recipe);
        var outputDir = Path.Combine(dir.Path, RecipeHeaders.Scalar(yaml, "output_dir")!);
        if (!yaml.Children.TryGetValue(new YamlScalarNode("stages"), out var stages))
        {
            foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json" })
                Assert.True(File.Exists(Path.Combine(outputDir, file)), $"recipes/{recipe}: {file} is missing");
            return;
        }
        var state = JsonSerializer.Deserialize<List<FinishedStage>>(
            File.ReadAllText(Path.Combine(outputDir, Pipeline.StateFile)))!;
        Assert.Equal(((YamlSequenceNode)stages).Children.Count, state.Count);
        var model = Path.Combine(dir.Path, state.Last(s => s.Outputs.ContainsKey("model")).Outputs["model"]);
        Assert.True(File.Exists(Path.Combine(model, "model.safetensors")), $"recipes/{recipe}: no model in {model}");
        var eval = state.Last(s => s.Type == "eval");
        Assert.True(File.Exists(Path.Combine(dir.Path, eval.Outputs["results"])));
        if (recipe.Contains("dual-mode"))
        {
            Assert.Contains("no_think/pass@1", eval.Metrics.Keys);
            Assert.Contains("think/pass@1", eval.Metrics.Keys);
        }
        Assert.True(File.Exists(Path.Combine(outputDir, "report.html")));
    }
}
