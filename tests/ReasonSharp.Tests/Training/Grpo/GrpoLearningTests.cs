using System.Diagnostics;
using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Training.Grpo;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Training.Grpo;

/// <summary>
/// The SFT starting point the GRPO-family learning tests share, trained once: two-operand sums whose teacher shows
/// its working in 45% of the traces and writes only the answer in 55%. SFT imitates the majority and mostly answers
/// without working, which this tiny model cannot do.
/// </summary>
public sealed class SftStartFixture : SftPolicyFixture
{
    public SftStartFixture() : base("sft-model")
    {
        using var oneThread = LearningTasks.OneTorchThread();
        var clock = Stopwatch.StartNew();
        var split = LearningTasks.DistinctProblems(12_000, seed: 0).SplitTrainTest(0.05, seed: 0);
        var train = SyntheticDataset.WithAnswerOnlyTraces(split.Train, 0.55, seed: 0);
        using var lm = NanoModel(train);
        Train = LearningTasks.Examples(train);
        Test = LearningTasks.Examples(split.Test.Take(200));
        var sft = Config(2000) with
        {
            EvalStrategy = "steps",
            EvalSteps = 2000,
            EvalReward = "accuracy",
            EvalAccuracySamples = 200,
            PerDeviceEvalBatchSize = 200,
            EvalMaxNewTokens = 64,
        };
        Accuracy = FineTune(lm, sft, Train, Test).Accuracy[^1].Accuracy;
        Seconds = clock.Elapsed.TotalSeconds;
    }

    public List<Example> Train { get; }
    public List<Example> Test { get; }
    /// <summary>Held-out greedy accuracy after SFT.</summary>
    public double Accuracy { get; }
}

/// <summary>
/// GRPO, GSPO and RLOO each raise held-out accuracy over the shared SFT start: rewarded for verified answers, they
/// learn to work the sums out. Greedy accuracy on problems never trained on, verified by the reward library. The
/// quickstart's recipe is GRPO's, at full size.
/// </summary>
[Collection("Serial")]
public class GrpoLearningTests(SftStartFixture start, ITestOutputHelper output) : IClassFixture<SftStartFixture>
{
    static GrpoConfig Config(string outputDir) => new()
    {
        OutputDir = outputDir, ModelNameOrPath = "in-memory", DatasetName = "in-memory", Device = "cpu",
        RewardFuncs = ["accuracy", "format"], RewardWeights = [1.0, 0.1], NumGenerations = 8,
        PerDeviceTrainBatchSize = 64,
        MaxCompletionLength = 64, Sampling = new() { Temperature = 1.0 },
        LearningRate = 1e-4, LrSchedulerType = "constant",
        MaxSteps = 40,
        LoggingSteps = 10, SaveStrategy = "no", WriteReport = false, DisableTqdm = true, Seed = 42,
        EvalStrategy = "steps", EvalSteps = 40, EvalAccuracySamples = 200, PerDeviceEvalBatchSize = 200,
    };

    /// <summary>
    /// grpo: group-scaled advantages, token ratios, dapo. gspo: one ratio per completion with GSPO's clipping range
    /// (TRL's gspo.py: epsilon 3e-4, epsilon_high 4e-4, loss_type grpo), each generation batch of 16 prompts trained
    /// over two optimizer steps so that the second is off-policy and the sequence ratio and its clipping act. rloo:
    /// leave-one-out advantages without std scaling. All sample 64 completions per optimizer step.
    /// </summary>
    public static GrpoConfig Variant(string variant, GrpoConfig config) => variant switch
    {
        "grpo" => config,
        "gspo" => config with
        {
            ImportanceSamplingLevel = ImportanceSamplingLevel.Sequence,
            LossType = GrpoLossType.Grpo,
            Epsilon = 3e-4,
            EpsilonHigh = 4e-4,
            StepsPerGeneration = 2,
        },
        "rloo" => config with { AdvantageEstimator = AdvantageEstimator.Rloo },
        _ => throw new ArgumentException(variant),
    };

    [Theory]
    [InlineData("grpo")]
    [InlineData("gspo")]
    [InlineData("rloo")]
    public void RaisesHeldOutAccuracyOverSftFromATeacherThatOftenSkipsItsWorking(string variant)
    {
        using var oneThread = LearningTasks.OneTorchThread();
        var clock = Stopwatch.StartNew();
        using var lm = start.Load();
        var grpo = Variant(variant, Config(start.File(variant)));
        GrpoTrainer.Run(lm, start.Train, start.Test, grpo, progress: TrainingFixtures.Quiet);
        var lines = File.ReadAllLines(Path.Combine(grpo.OutputDir, "metrics.jsonl"))
            .Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var eval = lines.Last(m => m.ContainsKey("eval_rewards/accuracy"));
        double clipped = lines.Where(m => m.ContainsKey("clip_ratio/region_mean"))
            .Average(m => m["clip_ratio/region_mean"]!.GetValue<double>());
        double after = eval["eval_rewards/accuracy"]!.GetValue<double>();
        double thinkingTokens = eval["eval_completions/mean_length"]!.GetValue<double>();

        output.WriteLine($"{variant}: held-out greedy accuracy: SFT {start.Accuracy:P1} → {after:P1} (mean " +
            $"completion {thinkingTokens:F0} tokens, clipped {clipped:P1}); SFT {start.Seconds:F0} s (shared), " +
            $"{variant} " +
            $"{clock.Elapsed.TotalSeconds:F0} s; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        Assert.True(after >= start.Accuracy + 0.15,
            $"{variant} {after:P1} is not 15 points above SFT {start.Accuracy:P1}");
    }
}
