using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using ReasonSharp.Training;
using ReasonSharp.Training.Lora;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training;

public class LoraTests
{
    static readonly List<TokenSequence> Data = TrainingFixtures.RandomSequences(8, 6, 12);
    static readonly LoraConfig Config = new() { R = 4, LoraAlpha = 16, TargetModules = ["q_proj", "v_proj", "down_proj"] };

    static Tensor Ids() => tensor(new long[] { 3, 14, 15, 92, 65, 35, 89, 79, 32, 38 }, [2, 5]);

    [Fact]
    public void LoraTrainingChangesOnlyTheAdaptersAndTheOptimizerHoldsNoBaseState()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = TrainingFixtures.Model("qwen2");
        var baseWeights = TrainingFixtures.Snapshot(model);
        var adapters = LoraAdapters.Apply(model, Config, seed: 5);
        var initialAdapters = adapters.PeftTensors().ToDictionary(t => t.Key, t => t.Weight.detach().clone());
        var options = TrainingFixtures.Options(dir.Path) with { MaxSteps = 4, SaveSteps = 4, LearningRate = 1e-2 };
        var result = TrainingFixtures.NewTrainer(model, new LanguageModelingTask(Data), options, adapters).Train();
        Assert.True(result.Losses[^1] < result.Losses[0]);

        var after = model.state_dict();
        foreach (var (name, tensor) in baseWeights)
        {
            Assert.True(TrainingFixtures.BitIdentical(tensor, after[name]), $"base weight {name} changed");
            Assert.False(model.named_parameters().Single(p => p.name == name).parameter.requires_grad, $"{name} is not frozen");
        }
        foreach (var (key, weight) in adapters.PeftTensors())
            Assert.False(TrainingFixtures.BitIdentical(initialAdapters[key], weight), $"adapter {key} did not train");

        // The optimizer state in the checkpoint covers exactly the adapter matrices.
        using var optimizer = SafetensorsFile.Open(Path.Combine(dir.Path, "checkpoint-4", Trainer.OptimizerFile));
        var stateParameters = optimizer.Entries.Keys.Select(k => k["state.".Length..k.LastIndexOf('.')]).Distinct().Order().ToList();
        var loraParameters = model.named_parameters().Where(p => p.name.Contains(".lora_")).Select(p => p.name).Order().ToList();
        Assert.Equal(loraParameters, stateParameters);
        Assert.Equal(2 * 3 * 2, loraParameters.Count);

        // The checkpoint and the run folder hold a PEFT adapter, not a full model.
        Assert.True(File.Exists(Path.Combine(dir.Path, LoraConfig.WeightsFile)));
        Assert.False(File.Exists(Path.Combine(dir.Path, ModelFolder.SingleFile)));
    }

    [Fact]
    public void AdaptersAreSavedInPeftFormatAndLoadBackToTheSameLogits()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = TrainingFixtures.Model("qwen3");
        var adapters = LoraAdapters.Apply(model, Config with { UseRslora = true, LoraDropout = 0.1 }, seed: 9);
        using (no_grad())
            foreach (var layer in adapters.Layers.Values) layer.LoraB.Weight.normal_(0, 0.1);
        adapters.Save(dir.Path, "Qwen/Qwen3-0.6B");

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, LoraConfig.ConfigFile)))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", config["task_type"]!.GetValue<string>());
        Assert.Equal("none", config["bias"]!.GetValue<string>());
        Assert.Equal(4, config["r"]!.GetValue<int>());
        Assert.Equal(16.0, config["lora_alpha"]!.GetValue<double>());
        Assert.True(config["use_rslora"]!.GetValue<bool>());
        Assert.Equal("Qwen/Qwen3-0.6B", config["base_model_name_or_path"]!.GetValue<string>());
        Assert.Equal(["down_proj", "q_proj", "v_proj"], config["target_modules"]!.AsArray().Select(t => t!.GetValue<string>()));

        using (var file = SafetensorsFile.Open(Path.Combine(dir.Path, LoraConfig.WeightsFile)))
        {
            Assert.Equal(2 * 3 * 2, file.Entries.Count);
            var a = file.Entries["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"];
            Assert.Equal(new long[] { 4, 32 }, a.Shape);
            Assert.Equal(new long[] { 64, 4 }, file.Entries["base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"].Shape);
            Assert.Equal(new long[] { 32, 4 }, file.Entries["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"].Shape);
        }
        Assert.Equal(8.0, adapters.Layers.Values.First().Scaling, 12);  // rsLoRA: 16 / √4 (plain LoRA would be 16 / 4)

        model.eval();
        using var _ = no_grad();
        using var expected = model.Forward(Ids());
        using var fresh = TrainingFixtures.Model("qwen3");
        var loaded = LoraAdapters.Load(fresh, dir.Path);
        fresh.eval();
        Assert.True(loaded.Config.UseRslora);
        using var actual = fresh.Forward(Ids());
        Assert.True(TrainingFixtures.BitIdentical(expected, actual));
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("smollm3")]
    [InlineData("gemma3_text")]
    public void MergedModelEqualsBasePlusAdapterInLogits(string arch)
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = TrainingFixtures.Model(arch);
        var adapters = LoraAdapters.Apply(model, Config with { TargetModules = ["all-linear"] }, seed: 2);
        // all-linear: the family's projections (ModelArchitecture.LinearModules) in every layer.
        Assert.Equal(model.Config.Arch.LinearModules.Count * model.Config.NumHiddenLayers, adapters.Layers.Count);
        Assert.Contains("model.layers.0.mlp.gate_proj", adapters.Layers.Keys);
        using (no_grad())
            foreach (var layer in adapters.Layers.Values) layer.LoraB.Weight.normal_(0, 0.1);
        model.eval();
        using var _ = no_grad();
        using var adapted = model.Forward(Ids());
        using (adapters.Disable())
        using (var baseLogits = model.Forward(Ids()))
        using (var plain = TrainingFixtures.Model(arch))
        {
            plain.eval();
            // Not bit-identical: in inference the plain model's few-row projections take the fused decode kernel, while
            // replaced (adapted) layers run libtorch's linear; both are float32 with a different summation order.
            using var plainLogits = plain.Forward(Ids());
            Assert.True(baseLogits.allclose(plainLogits, rtol: 1e-5, atol: 1e-5), "disabled adapters must give the base model");
            Assert.True((baseLogits - adapted).abs().max().item<float>() > 1e-3, "the adapter should change the logits");
        }

        adapters.MergeAndUnload();
        Assert.DoesNotContain(model.state_dict().Keys, k => k.Contains("lora_"));
        ModelFolder.Save(model, dir.Path);
        using var merged = ModelFolder.Load(dir.Path);
        merged.eval();
        using var mergedLogits = merged.Forward(Ids());
        double diff = (mergedLogits - adapted).abs().max().item<float>();
        Assert.True(diff < 1e-5, $"merged logits differ from base + adapter by {diff}");
    }

    [Fact]
    public void MergeCommandWritesAFullModel()
    {
        using var baseDir = TestEnvironment.NewTempDir();
        using var adapterDir = TestEnvironment.NewTempDir();
        using var outDir = TestEnvironment.NewTempDir();
        using var model = TrainingFixtures.Model("qwen2");
        ModelFolder.Save(model, baseDir.Path);
        var adapters = LoraAdapters.Apply(model, Config, seed: 4);
        using (no_grad())
            foreach (var layer in adapters.Layers.Values) layer.LoraB.Weight.normal_(0, 0.1);
        adapters.Save(adapterDir.Path);
        model.eval();
        using var _ = no_grad();
        using var expected = model.Forward(Ids());

        var root = new System.CommandLine.RootCommand { ReasonSharp.Cli.Commands.MergeCommand.Create() };
        int code = root.Parse(["merge", "--base", baseDir.Path, "--adapter", adapterDir.Path, "--out", outDir.Path]).Invoke();
        Assert.Equal(0, code);
        using var merged = ModelFolder.Load(outDir.Path);
        merged.eval();
        Assert.True((merged.Forward(Ids()) - expected).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void UnsupportedOrMismatchedAdaptersAreClearErrors()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = TrainingFixtures.Model("qwen2");
        LoraAdapters.Apply(model, Config).Save(dir.Path);
        var configPath = Path.Combine(dir.Path, LoraConfig.ConfigFile);
        var json = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();

        json["use_dora"] = true;
        File.WriteAllText(configPath, json.ToJsonString());
        var error = Assert.Throws<ReasonSharpException>(() => LoraAdapters.Load(TrainingFixtures.Model("qwen2"), dir.Path));
        Assert.Contains("use_dora", error.Message);
        Assert.Contains(configPath, error.Message);

        json["use_dora"] = false;
        json["r"] = 8;
        File.WriteAllText(configPath, json.ToJsonString());
        error = Assert.Throws<ReasonSharpException>(() => LoraAdapters.Load(TrainingFixtures.Model("qwen2"), dir.Path));
        Assert.Contains("lora_A.weight' has shape [4, 32], expected [8, 32]", error.Message);

        error = Assert.Throws<ReasonSharpException>(() => new LoraConfig { TargetModules = ["lm_head"] }.Validate());
        Assert.Contains("target_modules", error.Message);
    }
}

public class LoraResumeTests
{
    static readonly List<TokenSequence> Data = TrainingFixtures.RandomSequences(8, 6, 12);

    /// <summary>Dropout draws from the adapters' generator, so this also proves that its state is saved and restored.</summary>
    static TrainingResult Run(TrainingOptions options, long killAtStep = 0)
    {
        using var model = TrainingFixtures.Model("qwen3");
        var adapters = LoraAdapters.Apply(model, new LoraConfig { R = 4, LoraAlpha = 8, LoraDropout = 0.2, TargetModules = ["all-linear"] }, seed: 5);
        var trainer = TrainingFixtures.NewTrainer(model, new LanguageModelingTask(Data), options, adapters);
        if (killAtStep > 0) trainer.Logged += line => { if (line["step"]!.GetValue<long>() == killAtStep) throw new OperationCanceledException("simulated kill"); };
        return trainer.Train();
    }

    [Fact]
    public void LoraRunWithDropoutAndGradientCheckpointingResumesExactly()
    {
        using var full = TestEnvironment.NewTempDir();
        using var split = TestEnvironment.NewTempDir();
        var options = TrainingFixtures.Options(full.Path) with { MaxSteps = 6, SaveSteps = 3, LearningRate = 1e-2, GradientCheckpointing = true };
        var reference = Run(options);
        Assert.Throws<OperationCanceledException>(() => Run(options with { OutputDir = split.Path }, killAtStep: 5));
        var resumed = Run(options with { OutputDir = split.Path, ResumeFromCheckpoint = Path.Combine(split.Path, "checkpoint-3") });
        Assert.Equal(6, resumed.Steps.Count);
        for (int i = 0; i < 6; i++)
            Assert.True(Math.Abs(reference.Steps[i].Loss - resumed.Steps[i].Loss) <= 1e-6, $"step {i + 1}: {resumed.Steps[i].Loss} vs {reference.Steps[i].Loss}");
    }
}
