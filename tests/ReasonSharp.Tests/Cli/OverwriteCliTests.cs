using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Recipes;
using ReasonSharp.Tests.Training;

namespace ReasonSharp.Tests.Cli;

/// <summary>Commands that write a folder refuse one holding another run, and name --overwrite and --resume.</summary>
[Collection("Console")]
public class OverwriteCliTests
{
    /// <summary>arith.jsonl (40 problems), a tokenizer in tok/ and a nano model in model/.</summary>
    internal static async Task MakeDataTokenizerAndModel(TempDir dir)
    {
        var data = dir.File("arith.jsonl");
        Assert.Equal(0, (await CliHarness.Run("data", "generate", "--task", "arithmetic", "--n", "40", "--out", data,
            "--test-fraction", "0")).Code);
        Assert.Equal(0, (await CliHarness.Run("tokenizer", "train", "--input", data, "--field", "prompt",
            "--field", "completion", "--vocab-size", "300", "--out", dir.File("tok"))).Code);
        Assert.Equal(0, (await CliHarness.Run("init-model", "--size", "nano", "--tokenizer", dir.File("tok"),
            "--out", dir.File("model"))).Code);
    }

    /// <summary>`reason sft` on arith.jsonl: 4 rows a step, a checkpoint a step (newest 4 kept), no report.</summary>
    internal static string[] Sft(TempDir dir, string output, int steps, params string[] extra) =>
    [
        "sft", "--set", $"model_name_or_path={dir.File("model")}", "--set", $"dataset_name={dir.File("arith.jsonl")}",
        "--set", $"output_dir={output}", "--set", "device=cpu", "--set", $"max_steps={steps}",
        "--set", "per_device_train_batch_size=4", "--set", "logging_steps=1", "--set", "save_steps=1",
        "--set", "save_total_limit=4", "--set", "write_report=false", "--set", "disable_tqdm=true", .. extra,
    ];

    [Fact]
    public async Task RerunningSftIntoAFinishedRunIsRefusedUntilResumeOrOverwrite()
    {
        using var dir = TestEnvironment.NewTempDir();
        var data = dir.File("arith.jsonl");
        await MakeDataTokenizerAndModel(dir);

        var run = dir.File("run");
        var (code, output) = await CliHarness.Run(Sft(dir, run, 6));
        Assert.True(code == 0, output);
        // write_report: false writes no report, and the summary does not claim one.
        Assert.DoesNotContain("report.html", output);
        Assert.False(File.Exists(Path.Combine(run, "report.html")));
        var before = RunFolderTests.Snapshot(run);

        (code, output) = await CliHarness.Run(Sft(dir, run, 3));
        Assert.Equal(2, code);
        Assert.StartsWith($"error: output_dir '{run}' already holds a run (4 checkpoints (checkpoint-3 … checkpoint-6)",
            output.Trim());
        Assert.Contains("resume_from_checkpoint: latest", output);
        Assert.Contains("overwrite_output_dir: true (--overwrite)", output);
        Assert.Equal(before, RunFolderTests.Snapshot(run));

        (code, output) = await CliHarness.Run(Sft(dir, run, 3, "--overwrite"));
        Assert.True(code == 0, output);
        Assert.Contains($"deleted the previous run's files in {run}", output);
        Assert.Equal(["checkpoint-1", "checkpoint-2", "checkpoint-3"], RunFolderTests.CheckpointNames(run));
        Assert.Equal([1L, 2L, 3L], RunFolderTests.MetricSteps(run));

        (code, output) = await CliHarness.Run(Sft(dir, run, 3, "--resume"));
        Assert.True(code == 0, output);
        Assert.Contains("resumed from", output);
        Assert.Equal([1L, 2L, 3L], RunFolderTests.MetricSteps(run));

        // init-model over the trained run: refused, the trained model untouched; --overwrite replaces the whole run.
        var trained = File.ReadAllBytes(Path.Combine(run, ModelFolder.SingleFile));
        string[] init = ["init-model", "--size", "nano", "--tokenizer", dir.File("tok"), "--out", run];
        (code, output) = await CliHarness.Run(init);
        Assert.Equal(2, code);
        Assert.Contains($"error: --out '{run}' already holds a model or run", output);
        Assert.Contains("--overwrite", output);
        Assert.Equal(trained, File.ReadAllBytes(Path.Combine(run, ModelFolder.SingleFile)));
        (code, output) = await CliHarness.Run([.. init, "--overwrite"]);
        Assert.True(code == 0, output);
        Assert.Empty(RunFolderTests.CheckpointNames(run));
        Assert.False(File.Exists(Path.Combine(run, "metrics.jsonl")));
        Assert.NotEqual(trained, File.ReadAllBytes(Path.Combine(run, ModelFolder.SingleFile)));
    }

    [Fact]
    public async Task MergeRefusesAFolderHoldingAModelUnlessOverwrite()
    {
        using var dir = TestEnvironment.NewTempDir();
        using (var model = TrainingFixtures.Model())
        {
            ModelFolder.Save(model, dir.File("base"));
            ReasonSharp.Training.Lora.LoraAdapters.Apply(model, new ReasonSharp.Training.Lora.LoraConfig(), seed: 1)
                .Save(dir.File("adapter"));
        }
        string[] merge =
            ["merge", "--base", dir.File("base"), "--adapter", dir.File("adapter"), "--out", dir.File("adapter")];
        var (code, output) = await CliHarness.Run(merge);
        Assert.Equal(2, code);
        Assert.Contains($"error: --out '{dir.File("adapter")}' already holds a model or run (adapter_config.json, " +
                        "adapter_model.safetensors)", output);
        (code, output) = await CliHarness.Run([.. merge, "--overwrite"]);
        Assert.True(code == 0, output);
        Assert.False(File.Exists(Path.Combine(dir.File("adapter"), "adapter_config.json")));
        using var merged = ModelFolder.Load(dir.File("adapter"));
        Assert.True(merged.ParameterCount() > 0);
    }

    [Fact]
    public async Task QuickstartNamesOutWhenTheFolderHoldsSomethingElseOrADifferentRun()
    {
        // A folder holding an SFT run where the quickstart's sft stage would write.
        using var dir = TestEnvironment.NewTempDir();
        Directory.CreateDirectory(dir.File("sft"));
        File.WriteAllText(Path.Combine(dir.File("sft"), "metrics.jsonl"), "{\"step\":1}\n");
        var (code, output) = await CliHarness.Run("quickstart", "--quick", "--out", dir.Path);
        Assert.Equal(2, code);
        Assert.Contains($"error: --out '{dir.Path}' already holds sft but no pipeline_state.json", output);
        Assert.Contains("--overwrite", output);
        Assert.Equal(["sft"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));

        // A quickstart folder whose finished data stage was made with other settings.
        using var other = TestEnvironment.NewTempDir();
        var stale = new List<FinishedStage>
        {
            new("data", "data", "0123456789ABCDEF", new Dictionary<string, string>(),
                new Dictionary<string, double>(), 1),
        };
        File.WriteAllText(Path.Combine(other.Path, Pipeline.StateFile), JsonSerializer.Serialize(stale));
        (code, output) = await CliHarness.Run("quickstart", "--quick", "--out", other.Path);
        Assert.Equal(2, code);
        Assert.Contains("stage 'data' changed since it finished", output);
        Assert.Contains("--out for quickstart", output);
        Assert.Contains("--overwrite", output);
    }
}
