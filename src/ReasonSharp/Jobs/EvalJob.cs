using ReasonSharp.Configuration;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;

namespace ReasonSharp.Jobs;

/// <summary>Options of the eval job: the models and dataset, and every <see cref="EvalOptions"/> key beside
/// them.</summary>
public sealed record EvalJobOptions
{
    /// <summary>A .jsonl/.json/.parquet file or a Hugging Face dataset folder.</summary>
    public string Dataset { get; init; } = "";
    /// <summary>Model folders to compare; empty: the pipeline's current model.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];
    /// <summary>cpu, cuda, cuda:N or auto; null: the pipeline's device (auto on the command line).</summary>
    public string? Device { get; init; }
    /// <summary>Chat template instead of the tokenizer's own (chatml, dual-mode, a .jinja file or a model folder).</summary>
    public string? ChatFormat { get; init; }
    /// <summary>results.json to write (with results.examples.jsonl and results.md beside it); null: results.json in
    /// the stage's folder, or none on the command line.</summary>
    public string? OutputFile { get; init; }
    [Flatten] public EvalOptions Eval { get; init; } = new();
}

/// <summary>`eval`: pass@1, pass@k, maj@k, format, lengths and truncation per model and thinking mode.</summary>
public sealed class EvalJob : Job<EvalJobOptions>
{
    public override string Name => "eval";
    public override string Description => "Evaluate models on a dataset: pass@1, pass@k, maj@k, format and lengths.";

    public override EvalJobOptions Defaults(RunContext context) =>
        new() { Eval = new EvalOptions { Seed = context.Seed ?? 0 } };

    public override void Validate(EvalJobOptions o) => Validation.Once(o.Eval, o.Eval.Validate);

    public override JobResult Run(EvalJobOptions o, RunContext context)
    {
        using var evaluator = new Evaluator(o.Eval, context.Rewards);
        var examples = evaluator.LoadExamples(o.Dataset);
        var device = o.Device ?? context.Device ?? "auto";
        IReadOnlyList<EvalResult> results;
        string evaluated;
        if (o.Models.Count > 0)
        {
            context.Log($"evaluating {examples.Count} examples × {o.Eval.EffectiveK} samples in mode "
                        + string.Join(", ", o.Eval.Modes.Select(m => m.Name())));
            results = evaluator.EvaluateAsync(o.Models, examples, device, o.ChatFormat, context.Log,
                context.Cancellation).GetAwaiter().GetResult();
            evaluated = o.Models[^1];
        }
        else
        {
            // The pipeline's current model, named after the stage in the results.
            evaluated = context.RequireModel();
            using var model = LanguageModel.Load(evaluated, device, o.ChatFormat, o.Eval.ChatTemplateKwargs);
            results = evaluator.EvaluateAsync(model, context.Name, examples, context.Progress.WriteLine,
                context.Cancellation).GetAwaiter().GetResult();
        }
        var outputs = new Dictionary<string, string> { ["evaluated_model"] = evaluated };
        var json = o.OutputFile ?? (context.OutputDir is { } folder ? Path.Combine(folder, "results.json") : null);
        EvalReportFiles? files = null;
        if (json is not null)
        {
            files = EvalReport.Write(json, results, o.Eval, o.Dataset);
            outputs["results"] = json;
        }
        context.Progress.WriteLine(EvalReport.Table(results));
        var metrics = new Dictionary<string, double>();
        foreach (var r in results)
        {
            var mode = OptionsBinder.SnakeCase(r.Mode.ToString());
            metrics[$"{mode}/pass@1"] = r.Metrics.PassAt1;
            metrics[$"{mode}/pass@{r.Metrics.K}"] = r.Metrics.PassAtK;
            metrics[$"{mode}/maj@{r.Metrics.K}"] = r.Metrics.MajAtK;
            if (r.Metrics.BestOfK is { } best) metrics[$"{mode}/best_of_{r.Metrics.K}"] = best;
            if (r.Metrics.WeightedMajAtK is { } weighted) metrics[$"{mode}/weighted_maj@{r.Metrics.K}"] = weighted;
            metrics[$"{mode}/format_rate"] = r.Metrics.FormatRate;
            metrics[$"{mode}/mean_think_tokens"] = r.Metrics.ThinkTokens.Mean;
            metrics[$"{mode}/mean_completion_tokens"] = r.Metrics.CompletionTokens.Mean;
        }
        return Result(outputs, metrics, new EvalOutcome(results, files));
    }
}

/// <summary>The eval job's results, and the files written (null when none).</summary>
public sealed record EvalOutcome(IReadOnlyList<EvalResult> Results, EvalReportFiles? Files);
