using ReasonSharp.Distillation;
using ReasonSharp.Evaluation;

namespace ReasonSharp.Jobs;

/// <summary>
/// `distill`: rejection sampling from an OpenAI-compatible teacher (a URL, or a model folder served by our engine for
/// the run); the verified traces become SFT data. Options: <see cref="DistillOptions"/>; in a pipeline the teacher
/// defaults to the current model and the output to traces.jsonl in the stage's folder.
/// </summary>
public sealed class DistillJob : Job<DistillOptions>
{
    public override string Name => "distill";
    public override string Description =>
        "Distil verified reasoning traces from an OpenAI-compatible teacher (URL or model folder) into SFT data.";

    public override DistillOptions Defaults(RunContext context) =>
        new() { Teacher = context.Model ?? "", Seed = context.Seed ?? 0, Device = context.Device };

    public override void Validate(DistillOptions options) => Validation.Once(options, options.Validate);

    public override JobResult Run(DistillOptions o, RunContext context) =>
        RunAsync(o, context).GetAwaiter().GetResult();

    /// <summary>Runs the job; <paramref name="handler"/> replaces the HTTP stack (tests count requests with
    /// it).</summary>
    public static async Task<JobResult> RunAsync(DistillOptions o, RunContext context,
        HttpMessageHandler? handler = null, Action<DistillPromptOutcome>? promptFinished = null)
    {
        var examples = DatasetLoading.Load(o.Dataset, o.DatasetSplit, o.DatasetConfig, o.Limit);
        var traces = o.OutputFile ?? Path.Combine(context.RequireOutputDir(null, "output_file"), "traces.jsonl");
        await using var teacher =
            await TeacherConnection.OpenAsync(o, o.Device ?? context.Device, context.Log, context.Cancellation,
                handler);
        var distiller = new Distiller(o, context.Rewards)
        {
            Log = context.Log, Progress = context.Progress, PromptFinished = promptFinished,
        };
        var s = await distiller.RunAsync(teacher.Client, teacher.ModelName, examples, traces, context.Cancellation);
        var metrics = new Dictionary<string, double>
        {
            ["prompts"] = s.Prompts, ["kept_rows"] = s.KeptRows, ["mean_pass_rate"] = s.MeanPassRate,
            ["requests_sent"] = s.RequestsSent, ["cache_hits"] = s.CacheHits, ["retries"] = s.Retries,
            ["prompt_tokens"] = s.Usage.PromptTokens, ["completion_tokens"] = s.Usage.CompletionTokens,
        };
        if (s.Cost is { } cost) metrics["cost"] = cost;
        return Result(new Dictionary<string, string> { ["data"] = traces, ["stats"] = s.Files.Stats }, metrics, s);
    }
}
