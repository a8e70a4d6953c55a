using ReasonSharp.Data;

namespace ReasonSharp.Jobs;

/// <summary>Options of the data job: a synthetic verifiable task with a train/test split that shares no
/// problem.</summary>
public sealed record DataJobOptions
{
    public string Task { get; init; } = "arithmetic";
    public int N { get; init; } = 5000;
    public int Difficulty { get; init; } = 1;
    public double TestFraction { get; init; } = 0.1;
    /// <summary>Share of training problems whose trace is only the answer (an empty think block); the test split is
    /// never changed.</summary>
    public double AnswerOnlyFraction { get; init; }
    /// <summary>null: the pipeline's seed (0 on the command line).</summary>
    public int? Seed { get; init; }
    /// <summary>FILE.jsonl: FILE.train.jsonl and FILE.test.jsonl are written (one file when test_fraction is 0), and
    /// FILE.traces.jsonl, the training rows with worked traces, when some are answer-only; null: TASK.jsonl in the
    /// stage's folder.</summary>
    public string? OutputFile { get; init; }
}

/// <summary>`data`: writes a synthetic task's problems with teacher traces (prompt, completion, gold) as
/// JSONL.</summary>
public sealed class DataJob : Job<DataJobOptions>
{
    public override string Name => "data";
    public override string Description => "Generate a synthetic verifiable task with teacher traces as JSONL.";
    public override DataJobOptions Defaults(RunContext context) => new();

    /// <summary>Called with (problems found, problems drawn) while generating.</summary>
    public Action<int, long>? GenerationProgress { get; init; }

    public override JobResult Run(DataJobOptions o, RunContext context)
    {
        var task = SyntheticTasks.ByName(o.Task);
        int seed = (int)(o.Seed ?? context.Seed ?? 0);
        var split = SyntheticDataset.GenerateSplit(task, o.N, o.Difficulty, seed, o.TestFraction, GenerationProgress);
        var trainProblems = SyntheticDataset.WithAnswerOnlyTraces(split.Train, o.AnswerOnlyFraction, seed);
        var file = o.OutputFile ?? Path.Combine(context.RequireOutputDir(null, "output_file"), $"{task.Name}.jsonl");
        var metrics = new Dictionary<string, double> { ["train"] = split.Train.Count, ["test"] = split.Test.Count };
        if (o.OutputFile is not null && o.TestFraction == 0)
        {
            SyntheticDataset.WriteJsonl(file, trainProblems);
            context.Progress.WriteLine($"wrote {split.Train.Count} {task.Name} problems to {file}");
            return Result(new Dictionary<string, string> { ["train"] = file, ["reward"] = task.RewardName }, metrics);
        }
        if (Path.GetDirectoryName(file) is { Length: > 0 } folder) Directory.CreateDirectory(folder);
        var (train, test) = SyntheticDataset.SplitPaths(file);
        SyntheticDataset.WriteJsonl(train, trainProblems);
        SyntheticDataset.WriteJsonl(test, split.Test);
        int answerOnly = trainProblems.Count(p => p.AnswerOnly);
        var outputs =
            new Dictionary<string, string> { ["train"] = train, ["test"] = test, ["reward"] = task.RewardName };
        if (answerOnly > 0)
        {
            // The worked traces alone, for a curriculum that learns the working before the teacher's shortcuts.
            outputs["traces"] = SyntheticDataset.TracesPath(file);
            SyntheticDataset.WriteJsonl(outputs["traces"], trainProblems.Where(p => !p.AnswerOnly).ToList());
        }
        context.Progress.WriteLine(o.OutputFile is null
            ? $"{task.Name} (difficulty {o.Difficulty}): {split.Train.Count} train, {split.Test.Count} test problems"
              + (answerOnly > 0
                  ? $"; the teacher shows its working in {split.Train.Count - answerOnly} training traces "
                    + $"and only the answer in {answerOnly}"
                  : "")
            : $"wrote {split.Train.Count} train problems to {train} and {split.Test.Count} test problems to {test} "
              + "(no problem in both)");
        return Result(outputs, metrics);
    }
}
