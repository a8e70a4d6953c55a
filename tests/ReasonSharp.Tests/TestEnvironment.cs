using System.Runtime.CompilerServices;
using ReasonSharp.Native;

namespace ReasonSharp.Tests;

/// <summary>Finds the repository and `../shared`, and makes TorchSharp load before any test touches it.</summary>
public static class TestEnvironment
{
    [ModuleInitializer]
    internal static void Init() => TorchNative.EnsureLoaded();

    public static string RepoRoot { get; } = FindRepoRoot();

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ReasonSharp.sln"))) return dir.FullName;
        throw new InvalidOperationException("ReasonSharp.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Path of a file under `../shared`; the test is skipped, saying why, when it is absent.</summary>
    public static string SharedFile(string relative)
    {
        var path = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", relative));
        Skip.IfNot(File.Exists(path), $"../shared/{relative} is absent (it ships beside developer checkouts and in " +
            $"CI, not in a user's clone)");
        return path;
    }

    /// <summary>A fresh temporary folder, deleted when the returned handle is disposed.</summary>
    public static TempDir NewTempDir() => new();
}

public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("reasonsharp-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
