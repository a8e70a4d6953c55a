using System.CommandLine;
using ReasonSharp.Configuration;
using ReasonSharp.Jobs;
using ReasonSharp.Reporting;

namespace ReasonSharp.Cli;

/// <summary>
/// What every `reason JOB` command shares: `--config` (a YAML recipe of the job's options record, where the command has
/// no flag of that name), `--set key=value`, `--print-config`, and running the job from <see cref="JobRegistry"/> with a
/// console <see cref="RunContext"/>. Options are bound in one order: the record's defaults, the recipe, the command's
/// own flags, then --set; then validated once.
/// </summary>
public sealed class JobCli(string name, bool recipe = true)
{
    public IJob Job { get; init; } = JobRegistry.Get(name, "reason");

    public Option<string?>? Config { get; } = recipe
        ? new("--config") { Description = $"YAML recipe of the {name} options (snake_case keys; --print-config lists them)." }
        : null;

    public Option<string[]> Set { get; } = new("--set")
    {
        Description = "Override one option: key=value, value in YAML syntax (repeatable), e.g. --set max_steps=50.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<bool> PrintConfig { get; } = new("--print-config")
    {
        Description = "Print every option as bound (YAML) and exit without running.",
    };

    public void AddTo(Command command)
    {
        if (Config is not null) command.Options.Add(Config);
        command.Options.Add(Set);
        command.Options.Add(PrintConfig);
    }

    /// <summary>The options: defaults, recipe, <paramref name="flags"/> (the command's own), --set; validated.</summary>
    public T Bind<T>(ParseResult parse, Func<T, T>? flags = null) where T : class
    {
        var options = (T)Job.Defaults(Context(parse));
        if (Config is not null && parse.GetValue(Config) is { } path) options = OptionsBinder.LoadFile(path, options);
        if (flags is not null) options = flags(options);
        options = OptionsBinder.ApplyOverrides(options, parse.GetValue(Set) ?? []);
        Job.Validate(options);
        return options;
    }

    /// <summary>Prints the options (--print-config) or runs the job; <paramref name="report"/> prints its result.</summary>
    public int Run<T>(ParseResult parse, T options, Action<JobResult>? report = null,
        CancellationToken cancellationToken = default) where T : class
    {
        if (parse.GetValue(PrintConfig))
        {
            Console.Write(OptionsBinder.ToYaml(options));
            return 0;
        }
        var context = Context(parse) with { Cancellation = cancellationToken };
        if (options is Training.TrainingOptions training)
            context = context with { Progress = ProgressDisplay.ForConsole(training.DisableTqdm) };
        var result = Job.Run(options, context);
        report?.Invoke(result);
        return 0;
    }

    RunContext Context(ParseResult parse) => new()
    {
        Name = Job.Name,
        Progress = ProgressDisplay.ForConsole(false),
        Log = Console.Error.WriteLine,
    };
}
