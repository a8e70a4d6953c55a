using System.Diagnostics;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;
using ReasonSharp.Training.Sft;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training.Sft;

/// <summary>
/// SFT teaches a randomly initialised model a task: greedy accuracy on held-out problems (never trained on), verified
/// by the reward library, goes from 0 to a clearly non-trivial level. Runs alone (it times itself) on one torch thread,
/// which is also the fastest setting for a model this small on a shared 2-core machine.
/// </summary>
[Collection("Serial")]
public class SftLearningTests(ITestOutputHelper output)
{
    [Fact]
    public void SftOfATinyModelOnTeacherTracesRaisesHeldOutAccuracy()
    {
        using var oneThread = LearningTasks.OneTorchThread();
        var clock = Stopwatch.StartNew();
        using var dir = TestEnvironment.NewTempDir();
        var split = LearningTasks.DistinctProblems(12_000, seed: 0).SplitTrainTest(0.05, seed: 0);
        using var lm = LearningTasks.NanoModel(dir, split.Train);
        var config = new SftConfig
        {
            OutputDir = dir.File("run"), Device = "cpu", MaxLength = 128,
            LearningRate = 3e-3, LrSchedulerType = "cosine", WarmupSteps = 10, MaxSteps = 2000,
            PerDeviceTrainBatchSize = 8,
            GradientCheckpointing = false, LoggingSteps = 100, SaveStrategy = "no", WriteReport = false,
            DisableTqdm = true,
            EvalStrategy = "steps", EvalSteps = 2000, EvalReward = "accuracy", EvalAccuracySamples = 200,
            PerDeviceEvalBatchSize = 200,
            EvalMaxNewTokens = 64,
        };
        var trainer = new SftTrainer(lm, config, new SftExamples(LearningTasks.Examples(split.Train), PromptCompletion: true, "arithmetic"), new SftExamples(LearningTasks.Examples(split.Test), PromptCompletion: true, "arithmetic")) { Progress = TrainingFixtures.Quiet };
        var before = trainer.Accuracy!.Measure();
        var prepared = clock.Elapsed;
        var result = trainer.Train();
        var after = result.Accuracy[^1];

        output.WriteLine($"held-out accuracy {before.Accuracy:P1} before, {after.Accuracy:P1} after " +
                         $"{result.Training.GlobalStep} steps ({after.Count} problems, mean reward " +
                         $"{after.MeanReward:0.###}); setup {prepared.TotalSeconds:F0} s, training " +
                         $"{result.Training.Seconds:F0} s, " +
                         $"total {clock.Elapsed.TotalSeconds:F0} s; load average " +
                         $"{File.ReadAllText("/proc/loadavg").Trim()}");
        foreach (var sample in after.Completions.Take(3)) output.WriteLine($"{sample.Prompt} → " +
            $"{sample.Completion.ReplaceLineEndings(" ")} ({sample.Reward})");
        Assert.True(before.Accuracy <= 0.02, $"an untrained model solved {before.Accuracy:P1}");
        Assert.True(after.Accuracy >= 0.5, $"held-out accuracy after SFT is only {after.Accuracy:P1}");
        Assert.True(result.Training.Losses[^1] < result.Training.Losses[0] / 10,
            $"loss {result.Training.Losses[0]} → {result.Training.Losses[^1]}");
    }
}
