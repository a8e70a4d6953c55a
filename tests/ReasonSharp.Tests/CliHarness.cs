using System.CommandLine;
using ReasonSharp.Cli;
using ReasonSharp.Cli.Commands;

namespace ReasonSharp.Tests;

/// <summary>Runs `reason …` in-process, capturing its console output. Tests using it join the "Console" collection.</summary>
public static class CliHarness
{
    public static async Task<(int Code, string Output)> Run(params string[] args)
    {
        var root = CliRunner.CreateRoot();
        var (stdout, stderr) = (Console.Out, Console.Error);
        var captured = new StringWriter();
        Console.SetOut(captured);
        Console.SetError(captured);
        try { return (await CliRunner.InvokeAsync(root, args), captured.ToString()); }
        finally { Console.SetOut(stdout); Console.SetError(stderr); }
    }
}

[CollectionDefinition("Console", DisableParallelization = true)]
public sealed class ConsoleCollection;

/// <summary>Tests that measure process-wide memory or time run alone, after the parallel ones.</summary>
[CollectionDefinition("Serial", DisableParallelization = true)]
public sealed class SerialCollection;
