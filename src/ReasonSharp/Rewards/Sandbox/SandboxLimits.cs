namespace ReasonSharp.Rewards.Sandbox;

/// <summary>Limits of one sandboxed run.</summary>
public sealed record SandboxLimits
{
    /// <summary>Wall-clock time before the whole process tree is killed.</summary>
    public TimeSpan WallTime { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>CPU seconds (RLIMIT_CPU) for Python; JavaScript uses <see cref="WallTime"/> only.</summary>
    public int CpuSeconds { get; init; } = 5;

    /// <summary>Address-space limit (RLIMIT_AS) for Python; Jint's allocation limit for JavaScript.</summary>
    public long MemoryBytes { get; init; } = 512L * 1024 * 1024;

    /// <summary>Processes and threads of the sandbox user (RLIMIT_NPROC, isolated mode only).</summary>
    public int MaxProcesses { get; init; } = 32;

    /// <summary>Bytes of stdout plus stderr kept; more kills the run.</summary>
    public int MaxOutputBytes { get; init; } = 1024 * 1024;

    /// <summary>Largest file the program may write (RLIMIT_FSIZE).</summary>
    public long MaxFileBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>Open file descriptors (RLIMIT_NOFILE).</summary>
    public int MaxOpenFiles { get; init; } = 64;

    /// <summary>JavaScript call depth.</summary>
    public int MaxRecursion { get; init; } = 256;
}

/// <summary>How a Python run was isolated; the code reward reports it in its metadata.</summary>
public enum SandboxIsolation
{
    /// <summary>Root only: new mount, network and PID namespaces, a private tmpfs /tmp, an unprivileged user per slot, rlimits.</summary>
    Namespaces,
    /// <summary>Fallback: rlimits, a new session killed as a group, and a Python audit hook that blocks sockets,
    /// process creation, writes outside the work directory and reads of other processes' /proc entries.</summary>
    ProcessLimits,
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
}
