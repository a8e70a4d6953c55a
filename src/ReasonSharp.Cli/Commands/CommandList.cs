using System.CommandLine;

namespace ReasonSharp.Cli.Commands;

/// <summary>Every `reason` sub-command. One line per command; each lives in its own file.</summary>
public static class CommandList
{
    public static IEnumerable<Command> All() =>
    [
        QuickstartCommand.Create(),
        InfoCommand.Create(),
        InitModelCommand.Create(),
        GenerateCommand.Create(),
        ChatCommand.Create(),
        GrpoCommand.Create(),
        DpoCommand.Create(),
        StarCommand.Create(),
        PipelineCommand.Create(),
        TokenizerCommand.Create(),
        TokenizeCommand.Create(),
        TemplateCommand.Create(),
        DataCommand.Create(),
        ExportCommand.Create(),
        RewardCommand.Create(),
        VerifyCommand.Create(),
        MergeCommand.Create(),
        MergeModelsCommand.Create(),
        EvalCommand.Create(),
        SampleCommand.Create(),
        SftCommand.Create(),
        SandboxCommand.Create(),
        DownloadCommand.Create(),
        UploadCommand.Create(),
        ServeCommand.Create(),
        DistillCommand.Create(),
    ];
}
