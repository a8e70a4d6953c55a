using System.Text.Json.Nodes;
using ReasonSharp.Configuration;
using ReasonSharp.Modeling;
using ReasonSharp.Recipes;
using ReasonSharp.Training;
using ReasonSharp.Training.Lora;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Tests.Training.Sft;

public class SftTrainerTests
{
    [Fact]
    public void LoraSftRunsThroughTheSharedLoopAndSavesAPeftAdapter()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var baseWeights = TrainingFixtures.Snapshot(lm.Model);
        var output = dir.File("run");
        var config = SftFixtures.Config(output) with
        {
            UsePeft = true,
            LoraR = 4,
            LoraAlpha = 8,
            LoraTargetModules = ["q_proj", "v_proj"],
            LearningRate = 1e-2,
            MaxSteps = 6,
            Packing = true,
            MaxLength = 256,
            GradientCheckpointing = true,
            TraceStyle = ReasonSharp.Data.TraceStyle.ThinkAnswer,
            ThinkFraction = 0.5,
        };
        var trainer =
            new SftTrainer(lm, config, SftFixtures.Arithmetic(24, seed: 1)) { Progress = TrainingFixtures.Quiet };
        var result = trainer.Train();

        Assert.Equal(6, result.Training.GlobalStep);
        Assert.True(result.Training.Losses[^1] < result.Training.Losses[0],
            $"loss {result.Training.Losses[0]} → {result.Training.Losses[^1]}");
        Assert.NotNull(result.Adapters);
        foreach (var (name, tensor) in baseWeights)
            Assert.True(TrainingFixtures.BitIdentical(tensor, lm.Model.state_dict()[name]),
                $"base weight {name} changed");

        // A PEFT adapter (with the tokenizer beside it), not a full model; it loads back onto a fresh base.
        var peft = JsonNode.Parse(File.ReadAllText(Path.Combine(output, LoraConfig.ConfigFile)))!;
        Assert.Equal("LORA", peft["peft_type"]!.GetValue<string>());
        Assert.Equal(4, peft["r"]!.GetValue<int>());
        using (var file = SafetensorsFile.Open(Path.Combine(output, LoraConfig.WeightsFile)))
            Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", file.Entries.Keys);
        Assert.False(File.Exists(Path.Combine(output, ModelFolder.SingleFile)));
        Assert.True(File.Exists(Path.Combine(output, ReasonSharp.Tokenization.Tokenizer.FileName)));
        using var fresh = TinyLanguageModels.Create(dir);
        var loaded = LoraAdapters.Load(fresh.Model, output);
        foreach (var (key, weight) in result.Adapters!.PeftTensors())
            Assert.True(TrainingFixtures.BitIdentical(weight, loaded.PeftTensors().Single(t => t.Key == key).Weight),
                key);

        // The run folder holds the config used (which binds back to the same options), metrics and checkpoints'
        // absence.
        var saved = OptionsBinder.LoadFile(Path.Combine(output, SftTrainer.ConfigFile), new SftConfig());
        Assert.Equal(OptionsBinder.ToYaml(config), OptionsBinder.ToYaml(saved));
        Assert.Equal(6, File.ReadAllLines(Path.Combine(output, MetricsLogger.MetricsFile)).Length);
    }

    [Fact]
    public void FullSftSavesAModelFolderWithItsTokenizerAndLogsHeldOutAccuracy()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var output = dir.File("run");
        var config = SftFixtures.Config(output) with
        {
            MaxSteps = 3,
            EvalStrategy = "steps",
            EvalSteps = 2,
            EvalReward = "accuracy",
            EvalMaxNewTokens = 8,
            EvalAccuracySamples = 5,
            PerDeviceEvalBatchSize = 5,
            WriteReport = true,
        };
        var trainer = new SftTrainer(lm, config, SftFixtures.Arithmetic(16, seed: 1), SftFixtures.Arithmetic(6, seed: 99)) { Progress = TrainingFixtures.Quiet };
        var result = trainer.Train();

        // Evaluations at step 2 and at the last step, each with loss and greedy accuracy on 5 held-out prompts.
        Assert.Equal(2, result.Accuracy.Count);
        Assert.All(result.Accuracy, a => Assert.Equal(5, a.Count));
        var evals = result.Training.LogHistory.Where(l => l.ContainsKey("eval_accuracy")).ToList();
        Assert.Equal([2L, 3L], evals.Select(l => l["step"]!.GetValue<long>()));
        Assert.All(evals, l => Assert.True(l.ContainsKey("eval_loss") && l.ContainsKey("eval_reward")));
        Assert.All(result.Accuracy[^1].Completions, c => Assert.StartsWith("Compute ", c.Prompt));

        using var reloaded = LanguageModel.Load(output, "cpu");
        Assert.Equal(lm.Tokenizer.VocabSize, reloaded.Tokenizer.VocabSize);
        foreach (var (name, tensor) in lm.Model.state_dict())
            Assert.True(TrainingFixtures.BitIdentical(tensor, reloaded.Model.state_dict()[name]), name);
        var report = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("SFT data", report);
        Assert.Contains("Held-out greedy completions", report);
    }

    [Fact]
    public void EvaluationWithoutHeldOutDataIsAnErrorNamingTheOption()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var train = SftFixtures.Arithmetic(4, seed: 1);
        var error =
            Assert.Throws<ReasonSharpException>(() =>
            new SftTrainer(lm, SftFixtures.Config(dir.Path) with { EvalStrategy = "steps" }, train));
        Assert.Contains("'eval_strategy'", error.Message);
        error = Assert.Throws<ReasonSharpException>(() =>
            new SftTrainer(lm, SftFixtures.Config(dir.Path) with { EvalStrategy = "steps", EvalReward = "accuracy" },
            train));
        Assert.Contains("'eval_reward'", error.Message);
        error = Assert.Throws<ReasonSharpException>(() =>
            new SftTrainer(lm, SftFixtures.Config(dir.Path) with { ChatFormat = "llama3" }, train));
        Assert.Contains("'chat_format'", error.Message);
    }
}
