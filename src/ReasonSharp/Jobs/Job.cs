using ReasonSharp.Reporting;
using ReasonSharp.Rewards;

namespace ReasonSharp.Jobs;

/// <summary>
/// What a finished job produced: named outputs (model, train, test, data, results, file…), headline metrics, and the
/// library's own result (SftResult, StarResult, …) for callers that report more.
/// </summary>
public sealed record JobResult(IReadOnlyDictionary<string, string> Outputs, IReadOnlyDictionary<string, double> Metrics)
{
    public object? Details { get; init; }
}

/// <summary>
/// Everything a job gets besides its options: the reward registry, where progress and log lines go, cancellation, and
/// where it runs. In a pipeline: the stage's name and folder, the model of the previous model-making stage, the seed and
/// device; on the command line: the verb's name, and no folder or model (the options say them).
/// </summary>
public sealed record RunContext
{
    public string Name { get; init; } = "";
    /// <summary>The folder the job writes to when its options name none (a pipeline stage's folder).</summary>
    public string? OutputDir { get; init; }
    /// <summary>The model the job works on when its options name none (the pipeline's current model).</summary>
    public string? Model { get; init; }
    public long? Seed { get; init; }
    public string? Device { get; init; }
    public RewardRegistry Rewards { get; init; } = RewardRegistry.CreateDefault();
    public ProgressDisplay Progress { get; init; } = ProgressDisplay.ForConsole(false);
    /// <summary>Diagnostics that are no result (the CLI writes them to stderr).</summary>
    public Action<string> Log { get; init; } = Console.Error.WriteLine;
    public CancellationToken Cancellation { get; init; }

    /// <summary>The model to work on: the options' own, else the context's; an error naming the job when neither.</summary>
    public string RequireModel(string? own = null) =>
        own ?? Model ?? throw new ReasonSharpException(
            $"stage '{Name}' needs a model: give `model:` or put a stage that makes one (init, sft, grpo…) before it");

    /// <summary>The folder to write to: the options' own, else the context's.</summary>
    public string RequireOutputDir(string? own, string option) =>
        own ?? OutputDir ?? throw new ReasonSharpException($"{Name}: {option}: missing; expected a folder to write to");
}

/// <summary>
/// A verb of ReasonSharp (`reason NAME`, a pipeline stage of type NAME): one options record with TRL's snake_case keys
/// and one way to run it. The CLI and the pipeline both find jobs in <see cref="JobRegistry"/>.
/// </summary>
public interface IJob
{
    string Name { get; }
    string Description { get; }
    Type OptionsType { get; }
    /// <summary>The options before a recipe is applied: the record's defaults with what the context supplies.</summary>
    object Defaults(RunContext context);
    /// <summary>Checks bound options once, naming each key; runs before anything else.</summary>
    void Validate(object options);
    JobResult Run(object options, RunContext context);
}

/// <summary>A job with its options record <typeparamref name="TOptions"/>.</summary>
public abstract class Job<TOptions> : IJob where TOptions : class
{
    public abstract string Name { get; }
    public abstract string Description { get; }
    public Type OptionsType => typeof(TOptions);
    public abstract TOptions Defaults(RunContext context);
    public virtual void Validate(TOptions options) { }
    public abstract JobResult Run(TOptions options, RunContext context);

    object IJob.Defaults(RunContext context) => Defaults(context);
    void IJob.Validate(object options) => Validate((TOptions)options);
    JobResult IJob.Run(object options, RunContext context) => Run((TOptions)options, context);

    protected static JobResult Result(IReadOnlyDictionary<string, string> outputs,
        IReadOnlyDictionary<string, double>? metrics = null, object? details = null) =>
        new(outputs, metrics ?? new Dictionary<string, double>()) { Details = details };
}
