using ReasonSharp.Configuration;
using ReasonSharp.Evaluation;
using ReasonSharp.Hub;
using ReasonSharp.Modeling;

namespace ReasonSharp.Jobs;

/// <summary>Options of the sample job: the model and prompts, and every <see cref="RejectionSamplingOptions"/> key
/// beside them.</summary>
public sealed record SampleJobOptions
{
    /// <summary>Prompts: a .jsonl/.json/.parquet file or a Hugging Face dataset folder.</summary>
    public string Dataset { get; init; } = "";
    /// <summary>The model folder; null: the pipeline's current model.</summary>
    public string? Model { get; init; }
    /// <summary>cpu, cuda, cuda:N or auto; null: the pipeline's device (auto on the command line).</summary>
    public string? Device { get; init; }
    /// <summary>Chat template instead of the tokenizer's own.</summary>
    public string? ChatFormat { get; init; }
    /// <summary>SFT JSONL of kept completions (with pairs: preference pairs); null: kept.jsonl (pairs.jsonl) in the
    /// stage's folder.</summary>
    public string? OutputFile { get; init; }
    [Flatten] public RejectionSamplingOptions Sample { get; init; } = new();
}

/// <summary>`sample`: rejection sampling; the verified completions become SFT data (messages schema), or with pairs,
/// preference pairs (prompt/chosen/rejected) whose file is the `data` output.</summary>
public sealed class SampleJob : Job<SampleJobOptions>
{
    public override string Name => "sample";
    public override string Description =>
        "Rejection sampling: keep verified completions as SFT data, or pair them with failed ones (pairs).";

    public override SampleJobOptions Defaults(RunContext context) =>
        new() { Sample = new RejectionSamplingOptions { Seed = context.Seed ?? 0 } };

    public override void Validate(SampleJobOptions o) => Validation.Once(o.Sample, o.Sample.Validate);

    public override JobResult Run(SampleJobOptions o, RunContext context)
    {
        using var sampler = new RejectionSampler(o.Sample, context.Rewards);
        var examples = sampler.LoadExamples(o.Dataset);
        var folder = HubPaths.Model(context.RequireModel(o.Model));
        if (!Directory.Exists(folder)) throw new ReasonSharpException($"model {folder}: folder not found");
        var kept = o.OutputFile ?? Path.Combine(context.RequireOutputDir(null, "output_file"),
            o.Sample.Pairs ? "pairs.jsonl" : "kept.jsonl");
        if (Path.GetDirectoryName(kept) is { Length: > 0 } parent) Directory.CreateDirectory(parent);
        using var model = LanguageModel.Load(folder, o.Device ?? context.Device ?? "auto", o.ChatFormat,
            o.Sample.ChatTemplateKwargs);
        var summary = sampler.RunAsync(model, examples, kept, context.Log, context.Cancellation).GetAwaiter()
            .GetResult();
        var metrics = new Dictionary<string, double>
        {
            ["mean_pass_rate"] = summary.MeanPassRate, ["prompts"] = summary.Prompts,
        };
        if (o.Sample.Pairs)
        {
            metrics["pairs"] = summary.PairRows;
            metrics["prompts_without_pair"] = summary.PromptsWithoutPair;
        }
        else metrics["kept_rows"] = summary.KeptRows;
        return Result(new Dictionary<string, string> { ["data"] = kept }, metrics, summary);
    }
}
