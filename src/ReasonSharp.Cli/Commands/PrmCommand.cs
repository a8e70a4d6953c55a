using System.CommandLine;
using ReasonSharp.Jobs;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason prm label` and `reason prm train`: the prm-label and prm-train jobs as sub-commands (each with
/// --config, --set and --print-config; train also --resume and --overwrite).</summary>
public static class PrmCommand
{
    public static Command Create() => new("prm", "Process reward models: label steps the Math-Shepherd way, train " +
        "the process_lm judge.")
    {
        JobCommand.Create(new PrmLabelJob(), "label"),
        JobCommand.Create(new PrmTrainJob(), "train"),
    };
}
