using ReasonSharp.Cli.Commands;
using ReasonSharp.Configuration;
using ReasonSharp.Data;
using ReasonSharp.Recipes;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Tests.Training.Sft;

[Collection("Console")]
public class SftCommandTests
{
    static string Recipe(string name) => Path.Combine(TestEnvironment.RepoRoot, "recipes", name);

    [Fact]
    public void EveryShippedSftRecipeBindsAndValidates()
    {
        var recipes = Directory.GetFiles(Path.Combine(TestEnvironment.RepoRoot, "recipes"), "sft-*.yaml");
        Assert.True(recipes.Length >= 3, $"found {recipes.Length} sft recipes");
        foreach (var path in recipes)
        {
            var config = OptionsBinder.LoadFile(path, new SftConfig());
            config.Validate();
            Assert.NotNull(config.ModelNameOrPath);
            Assert.NotNull(config.DatasetName);
        }

        var lora = OptionsBinder.LoadFile(Recipe("sft-qwen2.5-0.5b-lora.yaml"), new SftConfig());
        Assert.True(lora.UsePeft);
        Assert.Equal((16, 32.0), (lora.LoraR, lora.LoraAlpha));
        Assert.Equal(["q_proj", "v_proj"], lora.LoraTargetModules);
        Assert.Equal((3.0, 2e-5, 4096, true, "cuda"),
            (lora.NumTrainEpochs, lora.LearningRate, lora.MaxLength, lora.GradientCheckpointing, lora.Device));
        var full = OptionsBinder.LoadFile(Recipe("sft-qwen2.5-0.5b-full.yaml"), new SftConfig());
        Assert.False(full.UsePeft);
        Assert.Equal((3.0, 2e-5, 4096, true),
            (full.NumTrainEpochs, full.LearningRate, full.MaxLength, full.GradientCheckpointing));
    }

    [Fact]
    public async Task PrintConfigShowsTheRecipeWithOverridesAndUnknownKeysAreErrors()
    {
        var (code, output) =
            await CliHarness.Run("sft", "--config", Recipe("sft-tiny-cpu.yaml"), "--set", "max_steps=7", "--set",
            "lora_target_modules=[q_proj,o_proj]", "--print-config");
        Assert.Equal(0, code);
        Assert.Contains("max_steps: 7\n", output);
        Assert.Contains("lora_target_modules: [q_proj, o_proj]\n", output);
        Assert.Contains("assistant_only_loss: true\n", output);

        (code, output) = await CliHarness.Run("sft", "--config", Recipe("sft-tiny-cpu.yaml"), "--set", "max_stepz=7");
        Assert.Equal(2, code);
        Assert.Contains("unknown option 'max_stepz' (did you mean 'max_steps'?)", output);
        (code, output) = await CliHarness.Run("sft", "--set", "packing_strategy=wrapped", "--print-config");
        Assert.Equal(2, code);
        Assert.Contains("'packing_strategy'", output);
        (code, output) = await CliHarness.Run("sft", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--config", output);
        Assert.Contains("--set", output);
    }

    [Fact]
    public async Task TheTinyRecipeTrainsFromTheCommandLineOnGeneratedDataAndAnInitialisedModel()
    {
        using var dir = TestEnvironment.NewTempDir();
        // The three commands at the top of the recipe, small.
        var data = dir.File("arith.jsonl");
        Assert.Equal(0,
            (await CliHarness.Run("data", "generate", "--task", "arithmetic", "--difficulty", "1", "--n", "60",
            "--seed", "0", "--out", data, "--test-fraction", "0.1")).Code);
        var (train, test) = SyntheticDataset.SplitPaths(data);
        Assert.Equal(0,
            (await CliHarness.Run("tokenizer", "train", "--input", train, "--field", "prompt", "--field", "completion",
            "--vocab-size", "320", "--out", dir.File("tok"))).Code);
        Assert.Equal(0,
            (await CliHarness.Run("init-model", "--arch", "qwen2", "--size", "nano", "--tokenizer", dir.File("tok"),
            "--out", dir.File("model"))).Code);

        var output = dir.File("run");
        var (code, text) = await CliHarness.Run("sft", "--config", Recipe("sft-tiny-cpu.yaml"),
            "--set", $"model_name_or_path={dir.File("model")}", "--set", $"dataset_name={train}", "--set",
            $"eval_dataset_name={test}",
            "--set", $"output_dir={output}", "--set", "max_steps=2", "--set", "eval_steps=2", "--set",
            "eval_accuracy_samples=3",
            "--set", "eval_max_new_tokens=4", "--set", "write_report=false");
        Assert.True(code == 0, text);
        Assert.Contains("train data: 54 examples", text);
        Assert.Contains("eval 1: accuracy", text);
        foreach (var file in new[] { SftTrainer.ConfigFile, "metrics.jsonl", "config.json", "model.safetensors", "tokenizer.json", "training_args.json" })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        Assert.Contains("max_steps: 2", File.ReadAllText(Path.Combine(output, SftTrainer.ConfigFile)));
    }
}
