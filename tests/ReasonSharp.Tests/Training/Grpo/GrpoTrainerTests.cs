using System.Text.Json.Nodes;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Training;
using ReasonSharp.Training.Grpo;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training.Grpo;

/// <summary>GRPO through the shared loop on a tiny random model, with a reward that varies between
/// completions.</summary>
public class GrpoTrainerTests
{
    /// <summary>Rewards completions by how many digits they contain: varied, so groups have non-zero std.</summary>
    internal static RewardRegistry Registry()
    {
        var registry = RewardRegistry.CreateDefault();
        registry.Register(new DelegateReward("digits", i => i.Completion.Count(char.IsDigit) / 10f));
        registry.Register(new DelegateReward("tied_on_7",
            i => i.Prompt.AsText().Contains('7') ? 1f : i.Completion.Length % 3));
        return registry;
    }

    internal static GrpoConfig Config(string output, int steps = 3) => new()
    {
        OutputDir = output, ModelNameOrPath = "in-memory", DatasetName = "in-memory", MaxSteps = steps,
        LearningRate = 1e-3,
        PerDeviceTrainBatchSize = 4, GradientAccumulationSteps = 2, NumGenerations = 4, MaxCompletionLength = 12,
        RewardFuncs = ["digits", "format"], RewardWeights = [1.0, 0.5], LoggingSteps = 1, SaveStrategy = "no",
        WriteReport = true,
        DisableTqdm = true, Seed = 3,
    };

    internal static List<JsonObject> Metrics(string output) =>
        File.ReadAllLines(Path.Combine(output, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    [Fact]
    public void RunsThroughTheSharedLoopAndLogsTrlsMetrics()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var examples = TinyLanguageModels.ArithmeticExamples(10, seed: 2);
        var config = Config(dir.File("run")) with { LogCompletions = true, EvalStrategy = "steps", EvalSteps = 3 };
        var result = GrpoTrainer.Run(lm, examples, examples.Take(3).ToList(), config, Registry());
        Assert.Equal(3, result.GlobalStep);
        var train = Metrics(config.OutputDir).Where(m => m.ContainsKey("loss")).ToList();
        Assert.Equal(3, train.Count);
        foreach (var key in new[] { "reward", "reward_std", "rewards/digits/mean", "rewards/format/mean", "frac_reward_zero_std", "completions/mean_length",
                     "completions/min_length", "completions/max_length", "completions/clipped_ratio",
                     "clip_ratio/region_mean", "entropy",
                     "time/generation", "generation_tokens_per_second", "grad_norm", "learning_rate" })
            Assert.True(train[0].ContainsKey(key), $"metric {key} missing");
        Assert.Contains(Metrics(config.OutputDir),
            m => m.ContainsKey("eval_reward") && m.ContainsKey("eval_rewards/digits"));
        Assert.True(File.ReadAllLines(Path.Combine(config.OutputDir, "completions.jsonl")).Length >= 8);
        Assert.Contains("Completions at step", File.ReadAllText(Path.Combine(config.OutputDir, "report.html")));
        Assert.Contains("num_generations: 4", File.ReadAllText(Path.Combine(config.OutputDir, "config.yaml")));
        using var saved = LanguageModel.Load(config.OutputDir, "cpu");
        Assert.Equal(lm.ParameterCount(), saved.ParameterCount());
    }

    [Fact]
    public async Task TheEnginesLogProbsMatchAFreshForwardOfThePolicy()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var examples = TinyLanguageModels.ArithmeticExamples(4, seed: 5);
        var runner = new RolloutRunner(lm, new CompositeReward(new DelegateReward("zero", _ => 0f)));
        var rollouts = await runner.RunAsync(examples, new RolloutOptions { NumSamples = 3, Sampling = new SamplingOptions { MaxNewTokens = 20, Temperature = 0.8, Seed = 4 } });
        var samples =
            rollouts.Select(r =>
            new GrpoSample(r.PromptIds, r.Generation.CompletionIds, 0, r.Generation.LogProbs,
            r.Generation.Truncated)).ToList();
        using var batch = GrpoSequences.Build(samples, CPU, maskTruncated: false, withOldLogProbs: true, weight: 1);
        using var _ = no_grad();
        var (fresh, _) = GrpoSequences.LogProbs(lm.Model, batch, 0.8, entropy: false);
        var difference = ((fresh - batch.OldLogProbs!).abs() * batch.CompletionMask).max().item<float>();
        Assert.True(difference < 1e-4, $"engine vs fresh forward log-probs differ by {difference}");
    }

    [Fact]
    public void ResumingMidGenerationBatchReproducesTheLosses()
    {
        using var dir = TestEnvironment.NewTempDir();
        var examples = TinyLanguageModels.ArithmeticExamples(10, seed: 2);
        var config = Config(dir.File("a"), steps: 4) with { NumIterations = 2, Beta = 0.05, SaveStrategy = "steps", SaveSteps = 1, WriteReport = false };
        TrainingResult full;
        using (var lm = TinyLanguageModels.Create(dir)) full = GrpoTrainer.Run(lm, examples, null, config, Registry());
        TrainingResult resumed;
        using (var lm = TinyLanguageModels.Create(dir))
            resumed = GrpoTrainer.Run(lm, examples, null, config with { OutputDir = dir.File("b"), ResumeFromCheckpoint = Path.Combine(dir.File("a"), "checkpoint-3") }, Registry());
        Assert.Equal(4, resumed.GlobalStep);
        var expected = full.Losses.TakeLast(1).ToList();
        var actual = resumed.Losses.TakeLast(1).ToList();
        Assert.Equal(expected[0], actual[0], 6);
        Assert.Contains(Metrics(dir.File("a")), m => m.ContainsKey("kl"));
    }

    [Fact]
    public void WithLoraTheReferenceIsTheBaseWithAdaptersOffAndNoCopyIsMade()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var before = lm.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var examples = TinyLanguageModels.ArithmeticExamples(10, seed: 2);
        var config = Config(dir.File("lora"), steps: 3) with { UsePeft = true, Beta = 0.1, LearningRate = 5e-2, LoraTargetModules = ["q_proj", "v_proj"] };
        GrpoTrainer.Run(lm, examples, null, config, Registry());
        var after = lm.Model.state_dict();
        foreach (var (name, tensor) in before)
            Assert.True(tensor.eq(after[name]).all().item<bool>(), $"base weight {name} changed");
        Assert.Contains(after.Keys, k => k.Contains("lora_A"));
        var kl =
            Metrics(config.OutputDir).Where(m => m.ContainsKey("kl")).Select(m => m["kl"]!.GetValue<double>()).ToList();
        Assert.Equal(3, kl.Count);
        Assert.Equal(0, kl[0], 6);
        Assert.True(kl[^1] > 0, "after the adapters moved, the policy should differ from the base reference");
        Assert.True(File.Exists(Path.Combine(config.OutputDir, "adapter_model.safetensors")));
    }

    [Fact]
    public void DynamicSamplingDropsTiedGroupsAndRefills()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var examples = TinyLanguageModels.ArithmeticExamples(30, seed: 9);
        Assert.Contains(examples, e => e.Prompt.Any(m => m.Content.Contains('7')));
        var config = Config(dir.File("dyn"), steps: 2) with { RewardFuncs = ["tied_on_7"], RewardWeights = null, DynamicSampling = true };
        GrpoTrainer.Run(lm, examples, null, config, Registry());
        var train = Metrics(config.OutputDir).Where(m => m.ContainsKey("loss")).ToList();
        Assert.True(train.Sum(m => m["dynamic_sampling/dropped_groups"]!.GetValue<double>()) > 0);
        Assert.All(train, m => Assert.Equal(0, m["frac_reward_zero_std"]!.GetValue<double>()));
    }

    [Fact]
    public void BadConfigNamesTheOption()
    {
        var config = Config("x") with { NumGenerations = 3 };
        Assert.Contains("num_generations", Assert.Throws<ReasonSharpException>(() => config.Validate()).Message);
        Assert.Contains("reward_weights",
            Assert.Throws<ReasonSharpException>(() => (Config("x") with { RewardWeights = [1.0] }).Validate()).Message);
    }
}
