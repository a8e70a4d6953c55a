using System.CommandLine;
using ReasonSharp.Jobs;

namespace ReasonSharp.Cli.Commands;

/// <summary>
/// Every `reason` sub-command: the hand-written ones (one line each, each in its own file), then a
/// <see cref="JobCommand"/> for every job of <see cref="JobRegistry"/> that has none.
/// </summary>
public static class CommandList
{
    /// <summary>The jobs whose command above is hand-written (flags of their own, sub-commands, or another
    /// name).</summary>
    public static readonly string[] JobsWithTheirOwnCommand =
    [
        "data", "tokenizer", "init", "sft", "grpo", "sample", "star", "eval", "merge", "merge-models", "export",
        "download", "upload", "serve", "distill", "prm-label", "prm-train",
    ];

    public static IEnumerable<Command> All() =>
    [
        QuickstartCommand.Create(),
        InfoCommand.Create(),
        InitModelCommand.Create(),
        GenerateCommand.Create(),
        ChatCommand.Create(),
        GrpoCommand.Create(),
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
        PrmCommand.Create(),
        .. JobRegistry.All.Where(j => !JobsWithTheirOwnCommand.Contains(j.Name)).Select(j => JobCommand.Create(j)),
    ];
}
