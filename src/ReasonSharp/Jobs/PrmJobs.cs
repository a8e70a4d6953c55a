using ReasonSharp.Configuration;
using ReasonSharp.Evaluation;
using ReasonSharp.Hub;
using ReasonSharp.Modeling;
using ReasonSharp.Training.Prm;

namespace ReasonSharp.Jobs;

/// <summary>Options of the prm-label job: the policy model and problems, and every <see cref="PrmLabelOptions"/> key
/// beside them.</summary>
public sealed record PrmLabelJobOptions
{
    /// <summary>Problems with gold answers: a .jsonl/.json/.parquet file or a Hugging Face dataset folder.</summary>
    public string Dataset { get; init; } = "";
    /// <summary>The policy model folder that samples solutions and continuations; null: the pipeline's current
    /// model.</summary>
    public string? Model { get; init; }
    /// <summary>cpu, cuda, cuda:N or auto; null: the pipeline's device (auto on the command line).</summary>
    public string? Device { get; init; }
    /// <summary>Chat template instead of the tokenizer's own.</summary>
    public string? ChatFormat { get; init; }
    /// <summary>Stepwise-supervision JSONL to write; null: labels.jsonl in the stage's folder.</summary>
    public string? OutputFile { get; init; }
    [Flatten] public PrmLabelOptions Label { get; init; } = new();
}

/// <summary>`prm-label` (`reason prm label`): Math-Shepherd step labels from a policy's own solutions, checked by the
/// verifier through sampled continuations.</summary>
public sealed class PrmLabelJob : Job<PrmLabelJobOptions>
{
    public override string Name => "prm-label";
    public override string Description =>
        "Label solution steps the Math-Shepherd way (continuations from each step, checked by the verifier).";

    public override PrmLabelJobOptions Defaults(RunContext context) =>
        new() { Label = new PrmLabelOptions { Seed = context.Seed ?? 0 } };

    public override void Validate(PrmLabelJobOptions o) => Validation.Once(o.Label, o.Label.Validate);

    public override JobResult Run(PrmLabelJobOptions o, RunContext context)
    {
        var labeler = new PrmLabeler(o.Label, context.Rewards);
        var examples = labeler.LoadExamples(o.Dataset);
        var folder = HubPaths.Model(context.RequireModel(o.Model));
        if (!Directory.Exists(folder)) throw new ReasonSharpException($"model {folder}: folder not found");
        var output = o.OutputFile ?? Path.Combine(context.RequireOutputDir(null, "output_file"), "labels.jsonl");
        using var model = LanguageModel.Load(folder, o.Device ?? context.Device ?? "auto", o.ChatFormat,
            o.Label.ChatTemplateKwargs);
        var summary = labeler.RunAsync(model, examples, output, context.Log, context.Cancellation).GetAwaiter()
            .GetResult();
        return Result(new Dictionary<string, string> { ["data"] = summary.Files.Kept }, new Dictionary<string, double>
        {
            ["problems"] = summary.Problems, ["rows"] = summary.Rows, ["steps"] = summary.Steps,
            ["good_step_rate"] = summary.GoodStepRate, ["correct_solutions"] = summary.CorrectSolutions,
            ["continuations"] = summary.Continuations,
        }, summary);
    }
}

/// <summary>`prm-train` (`reason prm train`): trains the process_lm judge on stepwise-supervision rows.</summary>
public sealed class PrmTrainJob : Job<PrmConfig>
{
    public override string Name => "prm-train";
    public override string Description =>
        "Train a process reward model (the process_lm judge) on stepwise labels (prompt/completions/labels).";
    public override PrmConfig Defaults(RunContext context) => TrainingJob.WithContext(new PrmConfig(), context);
    public override void Validate(PrmConfig options) => Validation.Once(options, options.Validate);

    public override JobResult Run(PrmConfig config, RunContext context) => TrainingJob.Run(config, context,
        c => PrmTrainer.Run(c, context.Progress),
        result => TrainingJob.Metrics(result.Training, ("train_steps_labelled", result.TrainData.Steps)));
}
