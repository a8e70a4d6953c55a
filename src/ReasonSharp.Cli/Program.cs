using System.CommandLine;
using ReasonSharp.Cli.Commands;
using ReasonSharp.Cli;

var root = new RootCommand("reason: train small language models to reason (SFT, GRPO, rejection sampling) on TorchSharp.");
foreach (var command in CommandList.All())
    root.Subcommands.Add(command);
return await CliRunner.InvokeAsync(root, args);
