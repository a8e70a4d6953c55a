using System.Globalization;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace ReasonSharp.Native;

/// <summary>
/// One CPU thread policy for the whole program, so that libtorch's OpenMP threads, our .NET decode kernels and other
/// processes do not fight over the cores:
/// - before libtorch loads, OpenMP's idle threads are told to sleep (OMP_WAIT_POLICY=PASSIVE) instead of spinning;
/// - libtorch gets one inter-op thread;
/// - the intra-op threads follow the model: one for small models, whose ops are too short to split, and the cores the
///   process may use for larger ones (see <see cref="ForModel"/>).
/// `--threads N` or REASONSHARP_THREADS=N fixes the intra-op count; an OMP_WAIT_POLICY the user set is kept.
/// </summary>
public static class ThreadPolicy
{
    public const string ThreadsVariable = "REASONSHARP_THREADS";
    public const string WaitPolicyVariable = "OMP_WAIT_POLICY";

    /// <summary>Below this many parameters a model's ops are too short to gain from a second thread
    /// (BENCHMARKS.md).</summary>
    public const long SingleThreadBelowParameters = 2_000_000;

    static int? _requested;
    static bool _loaded;
    static readonly object Gate = new();

    /// <summary>The intra-op thread count fixed by <see cref="Request"/> or REASONSHARP_THREADS, or null for the
    /// automatic choice.</summary>
    public static int? RequestedThreads
    {
        get
        {
            lock (Gate) return _requested ?? FromEnvironment();
        }
    }

    /// <summary>The cores this process may run on (affinity and cgroup limits included).</summary>
    public static int Cores => Environment.ProcessorCount;

    /// <summary>What the policy chose: wait policy and thread counts, for logs and reports.</summary>
    public static string Describe() =>
        $"{get_num_threads()} intra-op thread(s) ({(RequestedThreads is { } n ? $"fixed at {n}" : "automatic")}), " +
        $"{get_num_interop_threads()} inter-op, " +
        $"{WaitPolicyVariable}={NativeEnvironment(WaitPolicyVariable) ?? "unset"}, {Cores} core(s)";

    /// <summary>Fixes the intra-op thread count (the CLI's --threads); null returns to the automatic choice.</summary>
    public static void Request(int? threads)
    {
        if (threads is < 1) throw new ReasonSharpException($"--threads: expected an integer ≥ 1, got {threads}");
        lock (Gate)
        {
            _requested = threads;
            if (_loaded && threads is { } n) set_num_threads(n);
        }
    }

    /// <summary>Intra-op threads for a model of <paramref name="parameters"/> parameters on this machine.</summary>
    public static int ForModel(long parameters) => parameters < SingleThreadBelowParameters ? 1 : Cores;

    /// <summary>Sets the intra-op threads for a model about to run, unless the user fixed them.</summary>
    public static void UseForModel(long parameters)
    {
        lock (Gate)
        {
            if (!_loaded || RequestedThreads is not null) return;
            set_num_threads(ForModel(parameters));
        }
    }

    /// <summary>Runs before libtorch (and its OpenMP runtime) loads: OpenMP reads its wait policy only then.</summary>
    internal static void BeforeLoad()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        if (NativeEnvironment(WaitPolicyVariable) is null) SetNativeEnvironment(WaitPolicyVariable, "PASSIVE");
    }

    /// <summary>Runs once libtorch has loaded: one inter-op thread, and the requested (or all) intra-op
    /// threads.</summary>
    internal static void AfterLoad()
    {
        lock (Gate)
        {
            _loaded = true;
            try { set_num_interop_threads(1); }
            catch (Exception e) when (e is not OutOfMemoryException) { /* already started by an earlier TorchSharp call */ }
            set_num_threads(RequestedThreads ?? Cores);
        }
    }

    static int? FromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(ThreadsVariable);
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 1) return n;
        throw new ReasonSharpException($"{ThreadsVariable}={text}: expected an integer ≥ 1");
    }

    // .NET keeps its own copy of the environment on Unix; OpenMP reads the C library's, so both are set.
    static void SetNativeEnvironment(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        _ = setenv(name, value, 0);
    }

    static string? NativeEnvironment(string name)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return Environment.GetEnvironmentVariable(name);
        var pointer = getenv(name);
        return pointer == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(pointer);
    }

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    static extern IntPtr getenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
