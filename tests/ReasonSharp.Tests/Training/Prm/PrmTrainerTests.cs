using ReasonSharp.Data;
using ReasonSharp.Jobs;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Steps;
using ReasonSharp.Tests.Rewards;
using ReasonSharp.Training.Prm;

namespace ReasonSharp.Tests.Training.Prm;

/// <summary>`prm-train` from a stepwise file: the run's folder loads into process_lm as it is.</summary>
public class PrmTrainerTests(JudgeFixture fixture) : IClassFixture<JudgeFixture>
{
    [Fact]
    public async Task A_trained_folder_loads_into_process_lm_and_the_loss_falls()
    {
        using var dir = TestEnvironment.NewTempDir();
        var data = dir.File("labels.jsonl");
        var random = new Random(3);
        JsonlWriter.Write(data, Enumerable.Range(0, 32).Select(i =>
        {
            var sums = SumSteps.Generate(random, SumSteps.AllPairs, 2, wrongStep: i % 3 - 1);
            return new System.Text.Json.Nodes.JsonObject
            {
                ["prompt"] = SumSteps.Question,
                ["completions"] = new System.Text.Json.Nodes.JsonArray(sums.Steps.Select(s =>
                    (System.Text.Json.Nodes.JsonNode)s).ToArray()),
                ["labels"] = new System.Text.Json.Nodes.JsonArray(sums.Correct.Select(c =>
                    (System.Text.Json.Nodes.JsonNode)c).ToArray()),
            };
        }));
        var job = JobRegistry.Get("prm-train", "test");
        var options = (PrmConfig)job.Defaults(new RunContext()) with
        {
            ModelNameOrPath = fixture.RandomJudgeFolder,
            DatasetName = data,
            OutputDir = dir.File("prm"),
            Device = "cpu",
            LearningRate = 3e-3,
            MaxSteps = 12,
            PerDeviceTrainBatchSize = 8,
            LoggingSteps = 1,
            GradientCheckpointing = false,
            SaveStrategy = "no",
            WriteReport = false,
            DisableTqdm = true,
        };
        job.Validate(options);
        var result = job.Run(options, new RunContext { Progress = TrainingFixtures.Quiet });
        var training = ((PrmResult)result.Details!).Training;
        Assert.Equal(12, training.GlobalStep);
        Assert.True(training.Losses.TakeLast(3).Average() < training.Losses.Take(3).Average(),
            $"loss {string.Join(", ", training.Losses)}");
        Assert.True(File.Exists(Path.Combine(dir.File("prm"), LmStepScorerOptions.SettingsFile)));

        var reward = RewardRegistry.CreateDefault().Create("process_lm",
            new Dictionary<string, string> { ["model"] = dir.File("prm"), ["device"] = "cpu" });
        var scores = await reward.ScoreAsync([RewardInput.Create("3+4=7\n\n5+5=10", prompt: SumSteps.Prompt)]);
        Assert.InRange(scores[0]!.Value, 0f, 1f);

        var bad = options with { UsePeft = true };
        var e = Assert.Throws<ReasonSharpException>(() => job.Validate(bad));
        Assert.Contains("use_peft", e.Message);
        Assert.Contains("step_join", Assert.Throws<ReasonSharpException>(() =>
            job.Validate(options with { StepJoin = "" })).Message);

        // The policy's layout with the likelihood feature: the folder's settings carry both into process_lm.
        var likelihood = options with
        {
            OutputDir = dir.File("prm-likelihood"),
            StepJoin = ", ",
            LikelihoodFeature = true,
            MaxSteps = 4,
        };
        job.Validate(likelihood);
        var run = ((PrmResult)job.Run(likelihood, new RunContext { Progress = TrainingFixtures.Quiet }).Details!);
        Assert.Equal(4, run.Training.GlobalStep);
        Assert.All(run.Training.Losses, l => Assert.True(double.IsFinite(l)));
        Assert.Equal(new LmStepScorerOptions { StepJoin = ", ", LikelihoodFeature = true },
            LmStepScorerOptions.ForFolder(dir.File("prm-likelihood")));
    }
}
