using System.CommandLine;
using ReasonSharp.Native;

namespace ReasonSharp.Cli.Commands;

public static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Show the native TorchSharp status (model info comes with the Modeling layer).");
        command.SetAction(_ =>
        {
            TorchNative.EnsureLoaded();
            Console.WriteLine($"torch native: {TorchNative.Status}");
            return 0;
        });
        return command;
    }
}
