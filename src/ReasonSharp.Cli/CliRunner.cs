using System.CommandLine;
using ReasonSharp.Cli.Commands;
using ReasonSharp.Native;

namespace ReasonSharp.Cli;

/// <summary>
/// The `reason` entry point: builds the command tree, applies the thread policy and loads libtorch before any command
/// runs, and turns the library's user-facing errors into one clear line and exit code 2.
/// </summary>
public static class CliRunner
{
    public static readonly Option<int?> Threads = new("--threads")
    {
        Description = $"CPU threads for libtorch (default: 1 for small models, every core for larger ones; env {ThreadPolicy.ThreadsVariable}).",
        Recursive = true,
    };

    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("reason: train small language models to reason (SFT, GRPO, rejection sampling) on TorchSharp.");
        root.Options.Add(Threads);
        foreach (var command in CommandList.All()) root.Subcommands.Add(command);
        return root;
    }

    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            var parse = root.Parse(args);
            if (parse.Errors.Count == 0)
            {
                ThreadPolicy.Request(parse.GetValue(Threads));
                TorchNative.EnsureLoaded();
            }
            return await parse.InvokeAsync(config);
        }
        catch (Exception e) when (e is ReasonSharpException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or OperationCanceledException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
