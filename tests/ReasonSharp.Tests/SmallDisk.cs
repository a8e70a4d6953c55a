using System.Diagnostics;

namespace ReasonSharp.Tests;

/// <summary>
/// A small tmpfs mounted on a fresh temporary folder, to run real code paths into a disk that fills up. The test is
/// skipped, saying why, where mounting is not permitted (not root, no Linux).
/// </summary>
public sealed class SmallDisk : IDisposable
{
    public string Path { get; }

    public SmallDisk(long bytes)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a tmpfs needs Linux");
        Path = Directory.CreateTempSubdirectory("reasonsharp-full-").FullName;
        var (code, error) = Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", Path);
        if (code == 0) return;
        Directory.Delete(Path);
        Skip.If(true, $"cannot mount a {bytes}-byte tmpfs to fill ({error.Trim()}); it needs root or CAP_SYS_ADMIN");
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    static (int Code, string Error) Run(string program, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var arg in args) start.ArgumentList.Add(arg);
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, error);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }

    public void Dispose()
    {
        Run("umount", Path);
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
