using System.Globalization;

namespace ReasonSharp.Rewards.Sandbox;

/// <summary>Limits of one sandboxed run.</summary>
public sealed record SandboxLimits
{
    /// <summary>Wall-clock time before the whole process tree is killed.</summary>
    public TimeSpan WallTime { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>CPU seconds (RLIMIT_CPU) for Python; JavaScript uses <see cref="WallTime"/> only.</summary>
    public int CpuSeconds { get; init; } = 5;

    /// <summary>Memory of the whole Python program (a memory cgroup, or RLIMIT_AS of its single process where
    /// there is no cgroup) and of each of its processes (RLIMIT_AS); Jint's allocation limit for JavaScript.</summary>
    public long MemoryBytes { get; init; } = 512L * 1024 * 1024;

    /// <summary>Processes and threads of one Python program (pids cgroup). Without a cgroup the program cannot
    /// create processes at all, and its threads are bounded by <see cref="MemoryBytes"/>.</summary>
    public int MaxProcesses { get; init; } = 32;

    /// <summary>Bytes of stdout plus stderr kept; more kills the run.</summary>
    public int MaxOutputBytes { get; init; } = 1024 * 1024;

    /// <summary>Largest file the program may write (RLIMIT_FSIZE).</summary>
    public long MaxFileBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>Size of the program's writable tmpfs (/tmp, holding its work directory /tmp/sandbox) in the
    /// namespace modes; the Landlock mode gives it no writable directory at all.</summary>
    public long MaxDiskBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Open file descriptors (RLIMIT_NOFILE).</summary>
    public int MaxOpenFiles { get; init; } = 64;

    /// <summary>JavaScript call depth; also the depth of nested data the guarded built-ins walk.</summary>
    public int MaxRecursion { get; init; } = 256;

    /// <summary>Throws a <see cref="ReasonSharpException"/> naming the first limit out of range.</summary>
    public void Validate(string owner)
    {
        static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
        static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        void Require(bool ok, string field, string expected, string got)
        {
            if (!ok) throw new ReasonSharpException($"{owner}: {field}: {got} is out of range; expected {expected}");
        }
        Require(WallTime > TimeSpan.Zero && WallTime <= TimeSpan.FromHours(1), "timeout",
            "more than 0 and at most 3600 seconds", F(WallTime.TotalSeconds) + " s");
        Require(CpuSeconds is >= 1 and <= 3600, "cpu seconds", "1 to 3600", I(CpuSeconds));
        Require(MemoryBytes >= 32L << 20 && MemoryBytes <= 1L << 40, "memory", "32 MB to 1 TB",
            F(MemoryBytes / 1048576.0) + " MB");
        Require(MaxProcesses is >= 1 and <= 4096, "max processes", "1 to 4096", I(MaxProcesses));
        Require(MaxOutputBytes is >= 1024 and <= 1 << 30, "max output", "1 KB to 1 GB",
            F(MaxOutputBytes / 1024.0) + " KB");
        Require(MaxFileBytes is >= 0 and <= 1L << 40, "max file size", "0 to 1 TB", I(MaxFileBytes));
        Require(MaxDiskBytes >= 1L << 20 && MaxDiskBytes <= 1L << 40, "disk", "1 MB to 1 TB",
            F(MaxDiskBytes / 1048576.0) + " MB");
        Require(MaxOpenFiles is >= 16 and <= 65536, "max open files", "16 to 65536", I(MaxOpenFiles));
        Require(MaxRecursion is >= 16 and <= 10_000, "max recursion", "16 to 10000", I(MaxRecursion));
    }
}

/// <summary>How a Python run is isolated; the code reward reports it in its metadata. All but
/// <see cref="Unsafe"/> are kernel-enforced boundaries; docs/rewards.md states what each guarantees.</summary>
public enum SandboxIsolation
{
    /// <summary>Root with CAP_SYS_ADMIN: new mount, PID, network, IPC and UTS namespaces, a minimal read-only
    /// root, a size-limited tmpfs /tmp, a distinct unprivileged uid per run, seccomp, rlimits, cgroups where
    /// writable.</summary>
    Namespaces,
    /// <summary>The same inside an unprivileged user namespace (non-root users, or root without CAP_SYS_ADMIN
    /// where the kernel allows user namespaces); as root it first switches to a distinct uid per run.</summary>
    UserNamespaces,
    /// <summary>No namespaces: Landlock (read-only access to system and interpreter directories, no writes),
    /// a seccomp filter (no sockets, no signals to other processes, no process creation without a memory
    /// cgroup), rlimits, a distinct uid per run when root.</summary>
    Landlock,
    /// <summary>Explicit opt-in only: rlimits and the seccomp filter, but the program can read (and write) what
    /// the user running it can. Never chosen automatically.</summary>
    Unsafe,
}

/// <summary>The outcome of one sandboxed run.</summary>
public sealed record SandboxResult(
    int ExitCode,
    string Stdout,
    string Stderr,
    bool TimedOut,
    bool OutputLimitExceeded,
    TimeSpan Elapsed,
    string Isolation)
{
    /// <summary>Ran to completion, exit code 0, within every limit.</summary>
    public bool Succeeded => ExitCode == 0 && !TimedOut && !OutputLimitExceeded;

    /// <summary>Peak memory of the whole program, where a memory cgroup measured it.</summary>
    public long? PeakMemoryBytes { get; init; }

    /// <summary>The program hit its memory cgroup's limit (where there is one).</summary>
    public bool MemoryLimitHit { get; init; }
}
