using System.CommandLine;
using ReasonSharp.Training;

namespace ReasonSharp.Cli.Commands;

/// <summary>`--resume` and `--overwrite` of the training commands: what to do when output_dir holds a run.</summary>
public sealed class RunFolderOptions
{
    public readonly Option<bool> Resume = new("--resume")
    {
        Description = "Continue the run in output_dir from its latest checkpoint (resume_from_checkpoint: latest).",
    };

    public readonly Option<bool> Overwrite = new("--overwrite")
    {
        Description = "Delete the run already in output_dir (checkpoints, metrics, model) and start over " +
                      "(overwrite_output_dir: true).",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Resume);
        command.Options.Add(Overwrite);
    }

    /// <summary>The options with the flags applied (each sets its option; else the recipe's value stands).</summary>
    public T Apply<T>(T options, ParseResult parse) where T : TrainingOptions
    {
        if (parse.GetValue(Resume)) options = options with { ResumeFromCheckpoint = "latest" };
        if (parse.GetValue(Overwrite)) options = options with { OverwriteOutputDir = true };
        return options;
    }
}
