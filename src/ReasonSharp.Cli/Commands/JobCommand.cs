using System.CommandLine;
using System.Globalization;
using ReasonSharp.Jobs;
using ReasonSharp.Training;

namespace ReasonSharp.Cli.Commands;

/// <summary>
/// `reason JOB --config recipe.yaml [--set key=value …] [--print-config]` for a job that needs no flags of its own:
/// built from the job alone (training jobs also get --resume and --overwrite), so a new verb is its job file, its
/// options record and one line in <see cref="JobRegistry"/>.
/// </summary>
public static class JobCommand
{
    /// <param name="commandName">The command's name when it is not the job's (a sub-command such as `prm
    /// label`).</param>
    public static Command Create(IJob job, string? commandName = null)
    {
        var cli = new JobCli(job.Name);
        var command = new Command(commandName ?? job.Name, job.Description +
            " Every option can be set in the recipe or with --set; " +
            "--print-config lists them all with their values.");
        cli.AddTo(command);
        var folder = typeof(TrainingOptions).IsAssignableFrom(job.OptionsType) ? new RunFolderOptions() : null;
        folder?.AddTo(command);
        command.SetAction(parse =>
        {
            var options = cli.Bind<object>(parse,
                o => folder is not null && o is TrainingOptions training ? folder.Apply(training, parse) : o);
            return cli.Run(parse, options, Print);
        });
        return command;
    }

    /// <summary>The result's metrics and outputs, one line each.</summary>
    static void Print(JobResult result)
    {
        if (result.Metrics.Count > 0)
            Console.WriteLine(string.Join(", ", result.Metrics.Select(m =>
                $"{m.Key} {m.Value.ToString("0.####", CultureInfo.InvariantCulture)}")));
        foreach (var (name, value) in result.Outputs) Console.WriteLine($"{name}: {value}");
    }
}
