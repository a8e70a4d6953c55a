using System.CommandLine;

namespace ReasonSharp.Cli;

/// <summary>Runs a parsed command line and turns the library's user-facing errors into one clear line and exit code 2.</summary>
public static class CliRunner
{
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            return await root.Parse(args).InvokeAsync(config);
        }
        catch (Exception e) when (e is ReasonSharpException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or OperationCanceledException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
