using System.Text.Json;
using ReasonSharp.Recipes;
using ReasonSharp.Reporting;
using ReasonSharp.Tests.Training;
using ReasonSharp.Training;

namespace ReasonSharp.Tests.Recipes;

/// <summary>The pipeline's folder: resumed when it is its own, refused when not, cleared with Overwrite.</summary>
public class PipelineFolderTests
{
    const string Stages = """
        stages:
          - name: data
            type: data
            task: arithmetic
            n: 40
          - name: tokenizer
            type: tokenizer
            input: ["${data.train}"]
            vocab_size: 300
          - name: init
            type: init
            size: nano
            tokenizer: ${tokenizer.folder}
          - name: sft
            type: sft
            dataset_name: ${data.train}
            max_steps: 2
            per_device_train_batch_size: 4
            logging_steps: 1
            save_steps: 1
          - name: sft_again
            type: sft
            dataset_name: ${data.train}
            max_steps: 2
            per_device_train_batch_size: 4
            logging_steps: 1
            save_strategy: "no"
        """;

    static Pipeline Load(string output, string stages = Stages) =>
        Pipeline.Parse($"output_dir: {output}\ndevice: cpu\n{stages}", "p.yaml");

    [Fact]
    public void TrainingStagesKilledAfterTheyWroteFilesResumeOrStartOverInsteadOfBeingRefused()
    {
        using var dir = TestEnvironment.NewTempDir();
        var output = dir.File("out");
        Load(output).Run(TrainingFixtures.Quiet);

        // A kill after both SFT stages trained but before pipeline_state.json recorded them.
        var statePath = Path.Combine(output, Pipeline.StateFile);
        var state = JsonSerializer.Deserialize<List<FinishedStage>>(File.ReadAllText(statePath))!;
        File.WriteAllText(statePath, JsonSerializer.Serialize(state.Take(3)));

        var log = new StringWriter();
        var finished = Load(output).Run(new ProgressDisplay(log, interactive: false));
        Assert.Equal(5, finished.Count);
        Assert.Contains("resumed from", log.ToString());
        Assert.Contains($"deleted the previous run's files in {Path.Combine(output, "sft_again")}", log.ToString());
        Assert.Equal([1L, 2L], RunFolderTests.MetricSteps(Path.Combine(output, "sft")));
        Assert.Equal([1L, 2L], RunFolderTests.MetricSteps(Path.Combine(output, "sft_again")));
    }

    [Fact]
    public void AFolderThatIsNoPipelineRunIsRefusedAndOverwriteDeletesTheStageFolders()
    {
        using var dir = TestEnvironment.NewTempDir();
        const string dataOnly = "stages:\n  - name: data\n    type: data\n    task: arithmetic\n    n: 20\n";
        Directory.CreateDirectory(dir.File("data"));
        File.WriteAllText(Path.Combine(dir.File("data"), "old.jsonl"), "{}\n");
        File.WriteAllText(dir.File("notes.txt"), "mine");

        var error = Assert.Throws<ReasonSharpException>(() => Load(dir.Path, dataOnly).Run(TrainingFixtures.Quiet));
        Assert.Contains($"output_dir '{dir.Path}' already holds data but no pipeline_state.json", error.Message);
        Assert.Contains("--overwrite", error.Message);
        Assert.True(File.Exists(Path.Combine(dir.File("data"), "old.jsonl")));

        var pipeline = Load(dir.Path, dataOnly);
        pipeline.Overwrite = true;
        pipeline.Run(TrainingFixtures.Quiet);
        Assert.False(File.Exists(Path.Combine(dir.File("data"), "old.jsonl")));
        Assert.Equal("mine", File.ReadAllText(dir.File("notes.txt")));

        // Rerun with other settings: refused as a different run, naming --overwrite; with it, everything starts over.
        var changed = dataOnly.Replace("n: 20", "n: 30");
        error = Assert.Throws<ReasonSharpException>(() => Load(dir.Path, changed).Run(TrainingFixtures.Quiet));
        Assert.Contains("stage 'data' changed since it finished", error.Message);
        Assert.Contains("--overwrite", error.Message);
        pipeline = Load(dir.Path, changed);
        pipeline.Overwrite = true;
        Assert.Equal(30, pipeline.Run(TrainingFixtures.Quiet).Single().Metrics.Sum(m => m.Value));
    }
}
