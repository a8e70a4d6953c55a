using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Training;
using ReasonSharp.Training.Grpo;
using ReasonSharp.Training.Star;

namespace ReasonSharp.Tests.Training;

/// <summary>A run never writes over another run's files: it is refused, resumes that run, or deletes it.</summary>
public class RunFolderTests
{
    static readonly List<TokenSequence> Data = TrainingFixtures.RandomSequences(10, 6, 14);

    static TrainingResult Train(TrainingOptions options)
    {
        using var model = TrainingFixtures.Model();
        return TrainingFixtures.NewTrainer(model, new LanguageModelingTask(Data), options).Train();
    }

    /// <summary>Every file under the folder with the SHA-256 of its bytes.</summary>
    public static SortedDictionary<string, string> Snapshot(string folder) =>
        new(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f),
                f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))));

    public static List<string> CheckpointNames(string folder) =>
        Checkpoints.List(folder).Select(c => Path.GetFileName(c.Path)).ToList();

    public static List<long> MetricSteps(string folder) =>
        File.ReadLines(Path.Combine(folder, MetricsLogger.MetricsFile))
            .Select(l => JsonNode.Parse(l)!["step"]!.GetValue<long>()).ToList();

    [Fact]
    public void ARunIntoAFolderHoldingAnotherRunIsRefusedAndChangesNothing()
    {
        using var dir = TestEnvironment.NewTempDir();
        var first = TrainingFixtures.Options(dir.Path) with { MaxSteps = 8, SaveSteps = 2, SaveTotalLimit = 3 };
        Train(first);
        var before = Snapshot(dir.Path);

        var error = Assert.Throws<ReasonSharpException>(() => Train(first with { MaxSteps = 3, SaveSteps = 1 }));
        Assert.Contains($"output_dir '{dir.Path}' already holds a run", error.Message);
        Assert.Contains("checkpoint-8", error.Message);
        Assert.Contains("metrics.jsonl", error.Message);
        Assert.Contains("resume_from_checkpoint: latest", error.Message);
        Assert.Contains("overwrite_output_dir: true", error.Message);
        Assert.Equal(before, Snapshot(dir.Path));

        // A run killed before its first checkpoint: resuming is not offered.
        using var early = TestEnvironment.NewTempDir();
        Train(first with { OutputDir = early.Path, SaveStrategy = "no" });
        error = Assert.Throws<ReasonSharpException>(() => Train(first with { OutputDir = early.Path }));
        Assert.EndsWith("start over (it has no checkpoint to resume from), or a new output_dir", error.Message);
        Assert.DoesNotContain("resume_from_checkpoint", error.Message);
    }

    [Fact]
    public void OverwriteOutputDirDeletesTheOldRunFirstSoCheckpointsAndMetricsDoNotMix()
    {
        using var dir = TestEnvironment.NewTempDir();
        var first = TrainingFixtures.Options(dir.Path) with { MaxSteps = 8, SaveSteps = 2, SaveTotalLimit = 3 };
        Train(first);
        Assert.Equal(["checkpoint-4", "checkpoint-6", "checkpoint-8"], CheckpointNames(dir.Path));
        File.WriteAllText(dir.File("notes.txt"), "mine");

        // Without the deletion save_total_limit 3 would keep the old run's 4, 6, 8 and delete the new run's 1, 2, 3.
        Train(first with { MaxSteps = 3, SaveSteps = 1, OverwriteOutputDir = true });
        Assert.Equal(["checkpoint-1", "checkpoint-2", "checkpoint-3"], CheckpointNames(dir.Path));
        Assert.Equal([1L, 2L, 3L], MetricSteps(dir.Path));
        Assert.Single(Directory.GetFiles(dir.File(MetricsLogger.TensorBoardFolder)));
        var args = JsonNode.Parse(File.ReadAllText(dir.File(Trainer.OptionsFile)))!;
        Assert.Equal(3, args["max_steps"]!.GetValue<long>());
        Assert.True(args["overwrite_output_dir"]!.GetValue<bool>());
        Assert.Equal("mine", File.ReadAllText(dir.File("notes.txt")));
    }

    [Fact]
    public void ResumingContinuesTheRunButNotFromAnOlderCheckpointWithLaterOnesNorFromAnotherRun()
    {
        using var a = TestEnvironment.NewTempDir();
        using var b = TestEnvironment.NewTempDir();
        var options = TrainingFixtures.Options(a.Path) with { MaxSteps = 6, SaveSteps = 2 };
        Train(options);
        Assert.Equal(6, Train(options with { ResumeFromCheckpoint = "latest" }).GlobalStep);

        var older = Path.Combine(a.Path, "checkpoint-2");
        var before = Snapshot(a.Path);
        var error = Assert.Throws<ReasonSharpException>(() => Train(options with { ResumeFromCheckpoint = older }));
        Assert.Contains("later checkpoints (checkpoint-4, checkpoint-6)", error.Message);
        Assert.Contains("overwrite_output_dir: true", error.Message);
        Assert.Equal(before, Snapshot(a.Path));

        // With overwrite_output_dir the checkpoint resumed from stays and the rest of the old run goes.
        var resumed = Train(options with { ResumeFromCheckpoint = older, OverwriteOutputDir = true });
        Assert.Equal(6, resumed.GlobalStep);
        Assert.Equal(["checkpoint-2", "checkpoint-4", "checkpoint-6"], CheckpointNames(a.Path));
        Assert.Equal([1L, 2L, 3L, 4L, 5L, 6L], MetricSteps(a.Path));

        Train(options with { OutputDir = b.Path, MaxSteps = 2 });
        error = Assert.Throws<ReasonSharpException>(() =>
            Train(options with { OutputDir = b.Path, ResumeFromCheckpoint = older }));
        Assert.Contains($"is outside output_dir '{b.Path}', which already holds another run", error.Message);
    }

    [Fact]
    public void FilesNoRunWritesAreNeitherARunNorDeleted()
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("README.md"), "notes");
        Directory.CreateDirectory(dir.File("data"));
        Assert.Empty(RunFolder.RunEntries(dir.Path));
        Assert.Equal(8, Train(TrainingFixtures.Options(dir.Path)).GlobalStep);
        Assert.True(File.Exists(dir.File("README.md")));
        Assert.True(Directory.Exists(dir.File("data")));
    }

    static GrpoConfig Grpo(string output) => new()
    {
        OutputDir = output,
        ModelNameOrPath = "in-memory",
        DatasetName = "in-memory",
        MaxSteps = 2,
        LearningRate = 1e-3,
        PerDeviceTrainBatchSize = 4,
        NumGenerations = 4,
        MaxCompletionLength = 8,
        RewardFuncs = ["format"],
        LoggingSteps = 1,
        LogCompletions = true,
        SaveStrategy = "no",
        WriteReport = false,
        DisableTqdm = true,
        Seed = 3,
    };

    [Fact]
    public void GrpoInheritsTheCheckBeforeItWritesItsConfigOrCompletions()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var examples = TinyLanguageModels.ArithmeticExamples(8, seed: 2);
        var config = Grpo(dir.File("run"));
        GrpoTrainer.Run(lm, examples, null, config, progress: TrainingFixtures.Quiet);
        var before = Snapshot(config.OutputDir);
        Assert.Contains("completions.jsonl", before.Keys);

        var error = Assert.Throws<ReasonSharpException>(() =>
            GrpoTrainer.Run(lm, examples, null, config with { MaxSteps = 1 }, progress: TrainingFixtures.Quiet));
        Assert.Contains("overwrite_output_dir", error.Message);
        Assert.Equal(before, Snapshot(config.OutputDir));

        GrpoTrainer.Run(lm, examples, null, config with { MaxSteps = 1, OverwriteOutputDir = true },
            progress: TrainingFixtures.Quiet);
        var steps = File.ReadLines(Path.Combine(config.OutputDir, "completions.jsonl"))
            .Select(l => JsonNode.Parse(l)!["step"]!.GetValue<long>());
        Assert.All(steps, s => Assert.Equal(1, s));
        Assert.Equal([1L], MetricSteps(config.OutputDir));
        Assert.Contains("max_steps: 1", File.ReadAllText(Path.Combine(config.OutputDir, "config.yaml")));
    }

    [Fact]
    public void StarResumesOnlyWhenAskedAndRefusesAnotherRunOtherwise()
    {
        using var dir = TestEnvironment.NewTempDir();
        var data = dir.File("problems.jsonl");
        ReasonSharp.Data.SyntheticDataset.WriteJsonl(data,
            ReasonSharp.Data.SyntheticDataset.Generate(new ReasonSharp.Data.ArithmeticTask(), 4, 1, seed: 0));
        var output = dir.File("star");
        var model = Path.Combine(output, "iteration-1", "model");
        Directory.CreateDirectory(model);
        var rationales = Path.Combine(output, "iteration-1", "rationales.jsonl");
        var finished = new List<StarIteration> { new(1, 4, 2, 0, 2, rationales, model, 0.5, 1) };
        File.WriteAllText(Path.Combine(output, StarTrainer.StateFile), JsonSerializer.Serialize(finished));
        var config = new StarConfig
        {
            OutputDir = output,
            ModelNameOrPath = dir.File("base"),
            DatasetName = data,
            Iterations = 1,
            DisableTqdm = true,
            WriteReport = false,
        };
        var before = Snapshot(output);

        var error = Assert.Throws<ReasonSharpException>(() => StarTrainer.Run(config, TrainingFixtures.Quiet));
        Assert.Contains("star_state.json", error.Message);
        Assert.Contains("resume_from_checkpoint: latest", error.Message);
        Assert.Equal(before, Snapshot(output));

        // Resumed, the one finished iteration is all there is to do.
        var result = StarTrainer.Run(config with { ResumeFromCheckpoint = "latest" }, TrainingFixtures.Quiet);
        Assert.Equal(model, result.FinalModel);
        Assert.Single(result.Iterations);

        using var empty = TestEnvironment.NewTempDir();
        error = Assert.Throws<ReasonSharpException>(() =>
            StarTrainer.Run(config with { OutputDir = empty.Path, ResumeFromCheckpoint = "latest" },
                TrainingFixtures.Quiet));
        Assert.Contains("holds no finished STaR iteration", error.Message);
    }

    [Fact]
    public void InitModelIntoAFolderHoldingAModelIsRefusedUnlessOverwrite()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var folder = dir.File("m");
        lm.Save(folder);
        Directory.CreateDirectory(Path.Combine(folder, "checkpoint-3"));
        var error = Assert.Throws<ReasonSharpException>(() =>
            RunFolder.Claim(folder, overwrite: false, "--out", "--overwrite"));
        Assert.Contains($"--out '{folder}' already holds a model or run (checkpoint-3, config.json, model.safetensors)",
            error.Message);
        Assert.Contains("--overwrite", error.Message);
        Assert.True(File.Exists(Path.Combine(folder, ModelFolder.SingleFile)));

        Assert.NotNull(RunFolder.Claim(folder, overwrite: true, "--out", "--overwrite"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
    }
}
