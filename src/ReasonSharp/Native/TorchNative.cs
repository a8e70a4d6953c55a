using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ReasonSharp.Native;

/// <summary>
/// Makes TorchSharp's native library load on systems whose libstdc++ predates GLIBCXX_3.4.32 (Debian 12,
/// Ubuntu 22.04). TorchSharp-cpu 0.107.0 requires that version for one symbol it never calls; a copy of
/// libLibTorchSharp.so with that version marked weak loads and runs. Nothing is touched where the original loads.
/// </summary>
public static class TorchNative
{
    public const string MissingVersion = "GLIBCXX_3.4.32";
    const string LibraryFile = "libLibTorchSharp.so";
    static readonly object Gate = new();
    static bool _done;
    static IntPtr _patchedHandle;

    /// <summary>What happened on this machine: "not needed", "patched: PATH", or the reason it could not be
    /// applied.</summary>
    public static string Status { get; private set; } = "not checked";

    /// <summary>
    /// Call before the first TorchSharp operation: applies <see cref="ThreadPolicy"/> and <see cref="MemoryPolicy"/>,
    /// then loads libtorch (patched where needed). Idempotent and cheap after the first call.
    /// </summary>
    public static void EnsureLoaded()
    {
        if (_done) return;
        lock (Gate)
        {
            if (_done) return;
            ReasonSharpException? memoryError;
            try
            {
                ThreadPolicy.BeforeLoad();
                memoryError = MemoryPolicy.BeforeLoad();
                Prepare();
            }
            finally { _done = true; }
            ThreadPolicy.AfterLoad();
            // Reported once libtorch is usable, so that a caller who catches it can go on.
            if (memoryError is not null) throw memoryError;
        }
    }

    static void Prepare()
    {
        if (!OperatingSystem.IsLinux()) { Status = "not needed (not Linux)"; return; }
        var original = FindOriginal();
        if (original is null) { Status = $"not needed ({LibraryFile} not found next to the app; TorchSharp resolves it itself)"; return; }
        if (NativeLibrary.TryLoad(original, out var handle))
        {
            _ = handle;
            Status = "not needed (the original library loads)";
            return;
        }
        var bytes = File.ReadAllBytes(original);
        var required = ElfVersionPatcher.RequiredVersions(bytes);
        if (!required.Any(r => r.Version == MissingVersion))
        {
            Status = $"{original} does not load, and not because of {MissingVersion}; see the loader's message";
            return;
        }
        if (SystemHasVersion(MissingVersion))
        {
            Status = $"{original} does not load, although the system libstdc++ has {MissingVersion}";
            return;
        }
        string patched;
        try { patched = WritePatchedCopy(original, bytes); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"TorchSharp's {LibraryFile} needs {MissingVersion}, which this system's libstdc++ lacks, and the " +
                $"patched copy could not be written ({e.Message}). Set REASONSHARP_NATIVE_CACHE to a writable " +
                $"folder, or install a libstdc++ from GCC 13 or newer.", e);
        }
        PreloadDependencies(Path.GetDirectoryName(original)!);
        _patchedHandle = NativeLibrary.Load(patched);
        NativeLibrary.SetDllImportResolver(typeof(TorchSharp.torch).Assembly, Resolve);
        Status = $"patched: {patched} ({MissingVersion} marked weak)";
    }

    static IntPtr Resolve(string name, System.Reflection.Assembly assembly, DllImportSearchPath? path) =>
        name is "LibTorchSharp" or "libLibTorchSharp" or LibraryFile ? _patchedHandle : IntPtr.Zero;

    static string? FindOriginal()
    {
        var dirs = new List<string> { AppContext.BaseDirectory };
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirs)
            dirs.AddRange(searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        dirs.Add(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"));
        return dirs.Select(d => Path.Combine(d, LibraryFile)).FirstOrDefault(File.Exists);
    }

    /// <summary>libLibTorchSharp's RUNPATH is $ORIGIN; the copy lives elsewhere, so its dependencies are loaded first
    /// by full path.</summary>
    static void PreloadDependencies(string originalDir)
    {
        foreach (var dep in new[] { "libgomp-98b21ff3.so.1", "libc10.so", "libtorch_cpu.so", "libtorch.so" })
        {
            var p = Path.Combine(originalDir, dep);
            if (File.Exists(p)) NativeLibrary.Load(p);
        }
    }

    static string WritePatchedCopy(string original, byte[] bytes)
    {
        var hash = Convert.ToHexString(SHA256.HashData(bytes))[..16].ToLowerInvariant();
        var cacheRoot = Environment.GetEnvironmentVariable("REASONSHARP_NATIVE_CACHE")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData,
                Environment.SpecialFolderOption.Create) is { Length: > 0 } local
                ? local : Path.GetTempPath(), "reasonsharp", "native");
        var dir = Path.Combine(cacheRoot, hash);
        var target = Path.Combine(dir, LibraryFile);
        if (File.Exists(target) && IsPatched(File.ReadAllBytes(target))) return target;
        Directory.CreateDirectory(dir);
        var copy = (byte[])bytes.Clone();
        ElfVersionPatcher.MarkWeak(copy, MissingVersion);
        var tmp = target + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(tmp, copy);
        File.Move(tmp, target, overwrite: true);
        return target;
    }

    static bool IsPatched(byte[] elf) =>
        ElfVersionPatcher.RequiredVersions(elf).Where(r => r.Version == MissingVersion).All(r => r.Weak);

    /// <summary>Whether the libstdc++ the loader would pick defines the version (read from its version definitions'
    /// strings).</summary>
    public static bool SystemHasVersion(string version)
    {
        if (!NativeLibrary.TryLoad("libstdc++.so.6", out var h)) return false;
        try { return LibstdcxxPaths().Any(p => ContainsVersionString(p, version)); }
        finally { NativeLibrary.Free(h); }
    }

    static IEnumerable<string> LibstdcxxPaths()
    {
        if (File.Exists("/proc/self/maps"))
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash >= 0 && line.Contains("libstdc++.so")) { yield return line[slash..]; yield break; }
            }
    }

    static bool ContainsVersionString(string path, string version)
    {
        var needle = System.Text.Encoding.ASCII.GetBytes(version + "\0");
        return File.ReadAllBytes(path).AsSpan().IndexOf(needle) >= 0;
    }
}
