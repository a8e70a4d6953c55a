using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Training;
using ReasonSharp.Training.Dpo;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training.Dpo;

/// <summary>DPO on the shared loop: the reference log-probs, the three kinds of reference, metrics, resume.</summary>
[Collection("Serial")]
public class DpoTrainerTests
{
    /// <summary>Arithmetic prompts with the teacher's completion as chosen and a wrong answer as rejected.</summary>
    public static List<PreferencePair> Pairs(int count, int seed) =>
        TinyLanguageModels.ArithmeticExamples(count, seed).Select(e => new PreferencePair(e.Prompt,
            [ChatMessage.FromAssistant(e.Completion!)],
            [ChatMessage.FromAssistant($"<answer>\n{e.GoldAnswer}1\n</answer>")], e.Source)).ToList();

    static DpoConfig Config(string outputDir, int steps = 4) => new()
    {
        OutputDir = outputDir, ModelNameOrPath = "in-memory", DatasetName = "in-memory", Device = "cpu",
        LearningRate = 1e-2, MaxSteps = steps, PerDeviceTrainBatchSize = 4, LoggingSteps = 1, SaveStrategy = "no",
        GradientCheckpointing = false, DisableTqdm = true, WriteReport = false, MaxLength = 256,
    };

    static List<JsonObject> Metrics(string folder) =>
        File.ReadAllLines(Path.Combine(folder, MetricsLogger.MetricsFile)).Select(l => JsonNode.Parse(l)!.AsObject())
            .ToList();

    /// <summary>Summed completion log-probs, written out plainly: one sequence at a time, full logits.</summary>
    static float Recompute(CausalLM model, TokenSequence sequence)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(sequence.InputIds, [1, sequence.InputIds.Length]);
        var logProbs = model.Logits(model.Model.Forward(ids)).log_softmax(-1);
        double sum = 0;
        for (int t = 1; t < sequence.InputIds.Length; t++)
            if (sequence.LossMask![t]) sum += logProbs[0, t - 1, sequence.InputIds[t]].item<float>();
        return (float)sum;
    }

    [Fact]
    public void PrecomputedReferenceLogProbsMatchARecomputationOfTheStartingModel()
    {
        using var dir = TestEnvironment.NewTempDir();
        var pairs = Pairs(10, seed: 3);
        var config = Config(dir.File("dpo")) with { PrecomputeRefLogProbs = true };
        DpoTrainer trainer;
        using (var lm = TinyLanguageModels.Create(dir))
        {
            trainer = new DpoTrainer(lm, config, pairs) { Progress = TrainingFixtures.Quiet };
            trainer.Train();
            Assert.Null(trainer.Task!.ReferenceModel);
        }
        using var fresh = TinyLanguageModels.Create(dir);
        var encoded = PreferenceData.Encode(pairs, fresh.Chat, config).Pairs;
        var references = trainer.Task!.PrecomputedReferences!;
        for (int i = 0; i < encoded.Count; i++)
        {
            Assert.Equal(Recompute(fresh.Model, encoded[i].Chosen), references[i].Chosen, 3);
            Assert.Equal(Recompute(fresh.Model, encoded[i].Rejected), references[i].Rejected, 3);
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void EveryReferenceStartsAtThePolicyAndLogsTrlsMetrics(bool lora, bool precompute)
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var config = Config(dir.File("dpo"), steps: 6) with
        {
            UsePeft = lora,
            PrecomputeRefLogProbs = precompute,
        };
        var trainer = new DpoTrainer(lm, config, Pairs(12, seed: 4)) { Progress = TrainingFixtures.Quiet };
        trainer.Train();
        Assert.Equal(!lora && !precompute, trainer.Task!.ReferenceModel is not null);
        var lines = Metrics(config.OutputDir).Where(m => m.ContainsKey("rewards/chosen")).ToList();
        Assert.Equal(6, lines.Count);
        foreach (var name in new[] { "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen",
            "logps/rejected" })
            Assert.True(lines[0].ContainsKey(name), name);
        // Step 1 is computed before any update, so the policy is the reference and every implicit reward is 0.
        Assert.Equal(0, lines[0]["rewards/chosen"]!.GetValue<double>(), 4);
        Assert.Equal(0, lines[0]["rewards/margins"]!.GetValue<double>(), 4);
        Assert.True(lines[^1]["rewards/margins"]!.GetValue<double>() > 0.01,
            $"margins did not grow: {lines[^1]["rewards/margins"]}");
    }

    [Fact]
    public void ResumingFromACheckpointReproducesTheLosses()
    {
        using var dir = TestEnvironment.NewTempDir();
        var pairs = Pairs(12, seed: 5);
        var config = Config(dir.File("a")) with { SaveStrategy = "steps", SaveSteps = 1, RpoAlpha = 0.5 };
        TrainingResult full;
        using (var lm = TinyLanguageModels.Create(dir))
            full = new DpoTrainer(lm, config, pairs) { Progress = TrainingFixtures.Quiet }.Train().Training;
        TrainingResult resumed;
        using (var lm = TinyLanguageModels.Create(dir))
            resumed = new DpoTrainer(lm, config with
            {
                OutputDir = dir.File("b"),
                ResumeFromCheckpoint = Path.Combine(dir.File("a"), "checkpoint-2"),
            }, pairs)
            { Progress = TrainingFixtures.Quiet }.Train().Training;
        Assert.Equal(4, resumed.GlobalStep);
        Assert.Equal(full.Losses[^1], resumed.Losses[^1], 5);
        Assert.Contains(Metrics(dir.File("a")), m => m.ContainsKey("nll_loss"));
    }

    [Fact]
    public void HeldOutPairsAreEvaluated()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var config = Config(dir.File("dpo")) with { EvalStrategy = "steps", EvalSteps = 4 };
        new DpoTrainer(lm, config, Pairs(12, seed: 6), Pairs(5, seed: 7)) { Progress = TrainingFixtures.Quiet }
            .Train();
        var eval = Assert.Single(Metrics(config.OutputDir), m => m.ContainsKey("eval_loss"));
        Assert.InRange(eval["eval_rewards/accuracies"]!.GetValue<double>(), 0, 1);
        Assert.True(eval.ContainsKey("eval_rewards/margins"));
    }

    [Fact]
    public void BadOptionsNameTheOption()
    {
        var config = Config("unused");
        Assert.Contains("'beta'", Assert.Throws<ReasonSharpException>(() => (config with { Beta = 0 }).Validate())
            .Message);
        Assert.Contains("'label_smoothing'", Assert.Throws<ReasonSharpException>(() =>
            (config with { LabelSmoothing = 0.1, LossType = DpoLossType.Ipo }).Validate()).Message);
        Assert.Contains("'truncation_mode'", Assert.Throws<ReasonSharpException>(() =>
            (config with { TruncationMode = "middle" }).Validate()).Message);
    }

    [Fact]
    public void TheJobReadsAPairsFileAndWritesAModel()
    {
        using var dir = TestEnvironment.NewTempDir();
        using (var lm = TinyLanguageModels.Create(dir)) lm.Save(dir.File("base"));
        var data = dir.File("pairs.jsonl");
        File.WriteAllLines(data, Pairs(8, seed: 8).Select(p => new JsonObject
        {
            ["prompt"] = JsonValue.Create(p.Prompt.Single(m => m.Role == ChatMessage.User).Content),
            ["chosen"] = new JsonArray(new JsonObject { ["role"] = "assistant", ["content"] = p.Chosen[0].Content }),
            ["rejected"] = p.Rejected[0].Content,
        }.ToJsonString()));
        var result = (DpoResult)Jobs.JobRegistry.Get("dpo", "test").Run(Config(dir.File("out"), steps: 2) with
        {
            ModelNameOrPath = dir.File("base"),
            DatasetName = data,
        }, new Jobs.RunContext { Progress = TrainingFixtures.Quiet }).Details!;
        Assert.Equal(8, result.TrainData.Pairs);
        Assert.True(File.Exists(Path.Combine(dir.File("out"), ModelFolder.ConfigFile)));
    }
}
