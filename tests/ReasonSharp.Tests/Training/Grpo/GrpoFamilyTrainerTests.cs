using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Training;
using ReasonSharp.Training.Grpo;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training.Grpo;

/// <summary>The GRPO family options through the one trainer, on a tiny random model: generation batches split across
/// optimizer steps, GSPO, RLOO and REINFORCE++, the engine importance weights, evaluation samples and the chat
/// template kwargs.</summary>
public class GrpoFamilyTrainerTests
{
    static GrpoConfig Config(string output, int steps = 3) => GrpoTrainerTests.Config(output, steps);

    static (GrpoTask Task, TrainingContext Context) Task(LanguageModel lm, GrpoConfig config)
    {
        var task = new GrpoTask(lm, TinyLanguageModels.ArithmeticExamples(10, seed: 2), null,
            GrpoTrainer.CreateReward(config, GrpoTrainerTests.Registry()), config);
        var context = new TrainingContext { Model = lm.Model, Options = config, Random = new TrainingRandom(1) };
        task.Initialize(context);
        return (task, context);
    }

    static List<GrpoBatch> Step(GrpoTask task, TrainingContext context)
    {
        var batches = task.NextStep(context).MicroBatches.Cast<GrpoBatch>().ToList();
        context.GlobalStep++;
        return batches;
    }

    static double Tokens(GrpoBatch b) => b.CompletionMask.sum().item<float>();

    [Fact]
    public void AGenerationBatchIsSplitAcrossOptimizerStepsAsTrlDoes()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        // 4 completions per micro-batch, 1 per step, 2 per generation batch: two steps per batch, the second
        // off-policy, dapo normalised by the whole generation batch's tokens.
        var config = Config(dir.File("run")) with { GradientAccumulationSteps = 1, StepsPerGeneration = 2 };
        Assert.Equal(8, config.CompletionsPerGeneration);
        Assert.True(config.OffPolicy);
        var (task, context) = Task(lm, config);
        var first = Step(task, context);
        var second = Step(task, context);
        Assert.Single(first);
        Assert.Single(second);
        Assert.Equal(4, first[0].CompletionMask.shape[0]);
        Assert.True(first[0].FreshPolicy);
        Assert.False(second[0].FreshPolicy);
        Assert.True(second[0].OffPolicy && second[0].OldLogProbs is not null);
        double generationTokens = Tokens(first[0]) + Tokens(second[0]);
        Assert.Equal(generationTokens, first[0].ActiveTokens, 3);
        Assert.Equal(generationTokens, second[0].ActiveTokens, 3);
        // The third step samples the next batch.
        var third = Step(task, context);
        Assert.True(third[0].FreshPolicy);
        foreach (var b in first.Concat(second).Concat(third)) b.Dispose();
    }

    [Fact]
    public void SeveralGenerationBatchesCanMakeOneStep()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        // One prompt's 4 completions per generation batch, two micro-batches per step: two batches per step,
        // on-policy, each micro-batch's dapo normaliser its own batch's tokens scaled to the step.
        var config = Config(dir.File("run")) with { StepsPerGeneration = 1 };
        Assert.False(config.OffPolicy);
        var (task, context) = Task(lm, config);
        var step = Step(task, context);
        Assert.Equal(2, step.Count);
        Assert.All(step, b => Assert.True(b.FreshPolicy && b.OldLogProbs is null));
        double a = Tokens(step[0]), b = Tokens(step[1]);
        Assert.Equal(a * a / (a + b), step[0].ActiveTokens, 3);
        Assert.Equal(b * b / (a + b), step[1].ActiveTokens, 3);
        foreach (var batch in step) batch.Dispose();

        // The default (steps_per_generation = gradient_accumulation_steps): each micro-batch its own tokens.
        var (plain, plainContext) = Task(lm, Config(dir.File("plain")));
        var plainStep = Step(plain, plainContext);
        Assert.All(plainStep, batch => Assert.Equal(Tokens(batch), batch.ActiveTokens, 3));
        foreach (var batch in plainStep) batch.Dispose();
    }

    [Fact]
    public void ResumingWithStepsPerGenerationReproducesTheLosses()
    {
        using var dir = TestEnvironment.NewTempDir();
        var examples = TinyLanguageModels.ArithmeticExamples(10, seed: 2);
        // 8 completions per generation batch, 2 micro-steps × 2 iterations: one batch every 4 optimizer steps;
        // GSPO, β, and the engine weights so that every stored field goes through the checkpoint.
        var config = Config(dir.File("a"), steps: 6) with
        {
            GradientAccumulationSteps = 1,
            StepsPerGeneration = 2,
            NumIterations = 2,
            Beta = 0.05,
            ImportanceSamplingLevel = ImportanceSamplingLevel.Sequence,
            EngineImportanceSamplingCorrection = true,
            EngineImportanceSamplingMode = EngineImportanceSamplingMode.TokenTruncate,
            SaveStrategy = "steps",
            SaveSteps = 1,
            WriteReport = false,
        };
        TrainingResult full;
        using (var lm = TinyLanguageModels.Create(dir))
            full = GrpoTrainer.Run(lm, examples, null, config, GrpoTrainerTests.Registry());
        TrainingResult resumed;
        using (var lm = TinyLanguageModels.Create(dir))
            resumed = GrpoTrainer.Run(lm, examples, null, config with
            {
                OutputDir = dir.File("b"),
                ResumeFromCheckpoint = Path.Combine(dir.File("a"), "checkpoint-3"),
            }, GrpoTrainerTests.Registry());
        Assert.Equal(6, resumed.GlobalStep);
        var expected = full.Losses.TakeLast(3).ToList();
        var actual = resumed.Losses.TakeLast(3).ToList();
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], actual[i], 6);

        var train = GrpoTrainerTests.Metrics(dir.File("a")).Where(m => m.ContainsKey("loss")).ToList();
        Assert.Equal([1L, 5L],
            train.Where(m => m.ContainsKey("time/generation")).Select(m => m["step"]!.GetValue<long>()));
        Assert.Equal([1.0, 1, 2, 2, 1, 1], train.Select(m => m["iteration"]!.GetValue<double>()));
        foreach (var m in train.Where(m => m.ContainsKey("time/generation")))
        {
            Assert.True(m[GrpoTask.LogProbGapMetric]!.GetValue<double>() < 1e-4, "the engine and trainer agree");
            Assert.True(m[GrpoTask.LogProbGapMaxMetric]!.GetValue<double>() < 1e-3);
            foreach (var stat in new[] { "min", "mean", "max" })
                Assert.Equal(1, m[$"{GrpoTask.ImportanceRatioMetric}/{stat}"]!.GetValue<double>(), 3);
        }
    }

    [Theory]
    [InlineData(AdvantageEstimator.Rloo)]
    [InlineData(AdvantageEstimator.ReinforcePlusPlus)]
    public void RlooAndReinforcePlusPlusTrainWithTheKlInTheReward(AdvantageEstimator estimator)
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var config = Config(dir.File("run"), steps: 3) with
        {
            AdvantageEstimator = estimator,
            Beta = 0.1,
            LearningRate = 2e-2,
            LogCompletions = true,
        };
        Assert.True(config.KlInRewardResolved);
        var result = GrpoTrainer.Run(lm, TinyLanguageModels.ArithmeticExamples(10, seed: 2), null, config,
            GrpoTrainerTests.Registry());
        Assert.All(result.Losses, l => Assert.True(double.IsFinite(l)));
        var kl = GrpoTrainerTests.Metrics(config.OutputDir).Where(m => m.ContainsKey("kl"))
            .Select(m => m["kl"]!.GetValue<double>()).ToList();
        Assert.Equal(3, kl.Count);
        Assert.True(Math.Abs(kl[0]) < 1e-4, $"the first batch is sampled by the reference itself: k1 {kl[0]}");
        Assert.True(Math.Abs(kl[^1]) > 1e-4, "after two steps at lr 2e-2 the policy has left the reference");
    }

    [Fact]
    public void NumGenerationsEvalSamplesThatManyCompletionsPerHeldOutPrompt()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        int scored = 0;
        var registry = GrpoTrainerTests.Registry();
        registry.Register(new DelegateReward("counted", _ => Interlocked.Increment(ref scored) % 2));
        var examples = TinyLanguageModels.ArithmeticExamples(10, seed: 2);
        var config = Config(dir.File("greedy"), steps: 1) with
        {
            RewardFuncs = ["counted"],
            RewardWeights = null,
            EvalStrategy = "steps",
            EvalSteps = 1,
        };
        GrpoTrainer.Run(lm, examples, examples.Take(2).ToList(), config, registry);
        Assert.Equal(8 + 2, scored); // one generation batch, then one greedy completion per held-out prompt
        scored = 0;
        GrpoTrainer.Run(lm, examples, examples.Take(2).ToList(),
            config with { OutputDir = dir.File("sampled"), NumGenerationsEval = 3 }, registry);
        Assert.Equal(8 + 2 * 3, scored);
        Assert.Contains(GrpoTrainerTests.Metrics(dir.File("sampled")), m => m.ContainsKey("eval_rewards/counted"));
    }

    [Fact]
    public void ChatTemplateKwargsReachThePromptsGrpoTrainsOn()
    {
        using var dir = TestEnvironment.NewTempDir();
        using (var tiny = TinyLanguageModels.Create(dir)) tiny.Save(dir.File("model"));
        File.WriteAllText(dir.File("template.jinja"),
            "{%- for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
            + "{%- if add_generation_prompt %}<|assistant|>[{{ greeting }}]{%- endif %}");
        var config = Config(dir.File("run")) with
        {
            ModelNameOrPath = dir.File("model"),
            ChatFormat = dir.File("template.jinja"),
            Device = "cpu",
            ChatTemplateKwargs = new Dictionary<string, object?> { ["greeting"] = "hello there" },
        };
        using var lm = ModelTrainerSetup.LoadModel(config);
        var (task, context) = Task(lm, config);
        var batch = Step(task, context)[0];
        var prompt = Enumerable.Range(0, batch.PromptLength)
            .Where(t => batch.AttentionMask[0, t].item<long>() == 1)
            .Select(t => (int)batch.InputIds[0, t].item<long>()).ToList();
        Assert.EndsWith("<|assistant|>[hello there]", lm.Decode(prompt, skipSpecialTokens: false));
        batch.Dispose();
    }

    [Fact]
    public void BadFamilyOptionsNameTheOption()
    {
        void Fails(GrpoConfig config, string option) =>
            Assert.Contains($"'{option}'", Assert.Throws<ReasonSharpException>(config.Validate).Message);
        var config = Config("x");
        Fails(config with { StepsPerGeneration = 2, GenerationBatchSize = 8 }, "steps_per_generation");
        Fails(config with { GenerationBatchSize = 6 }, "generation_batch_size");
        Fails(config with { StepsPerGeneration = 0 }, "steps_per_generation");
        Fails(config with { PerDeviceTrainBatchSize = 2, StepsPerGeneration = 1 }, "num_generations");
        Fails(config with { NumGenerationsEval = 0 }, "num_generations_eval");
        Fails(config with { NormalizeAdvantages = true }, "normalize_advantages");
        Fails(config with { EngineImportanceSamplingClipMax = 0 }, "engine_importance_sampling_clip_max");
        Fails(config with { EngineImportanceSamplingClipMin = 3, EngineImportanceSamplingClipMax = 2 },
            "engine_importance_sampling_clip_min");
        Assert.Equal(4, (config with { GenerationBatchSize = 16 }).MicroStepsPerGeneration);
        (config with { AdvantageEstimator = AdvantageEstimator.Rloo, NormalizeAdvantages = true }).Validate();
        Assert.False((config with { Beta = 0.1 }).KlInRewardResolved);
        Assert.False((config with { AdvantageEstimator = AdvantageEstimator.Rloo, KlInReward = false })
            .KlInRewardResolved);
        Assert.Contains("loss_type dapo", GrpoTrainer.SettingsNote(config with
        {
            ImportanceSamplingLevel = ImportanceSamplingLevel.Sequence,
        }));
        Assert.Null(GrpoTrainer.SettingsNote(config with
        {
            ImportanceSamplingLevel = ImportanceSamplingLevel.Sequence,
            LossType = GrpoLossType.Grpo,
        }));
    }
}
