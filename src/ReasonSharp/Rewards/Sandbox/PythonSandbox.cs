using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace ReasonSharp.Rewards.Sandbox;

/// <summary>Options of <see cref="PythonSandbox"/>.</summary>
public sealed record PythonSandboxOptions
{
    /// <summary>The interpreter: a name looked up on a standard PATH, or a path.</summary>
    public string PythonExecutable { get; init; } = "python3";
    public SandboxLimits Limits { get; init; } = new();
    /// <summary>Runs at once; more wait.</summary>
    public int MaxConcurrency { get; init; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>Null: the strongest isolation this host offers, and an error when it offers none.
    /// <see cref="SandboxIsolation.Unsafe"/> must be asked for here; it is never chosen automatically.</summary>
    public SandboxIsolation? Isolation { get; init; }
    /// <summary>As root, each run takes the lowest free uid of FirstUserId … FirstUserId + UserIdCount − 1,
    /// reserved across processes by a lock file in /run/reasonsharp-sandbox.</summary>
    public int FirstUserId { get; init; } = 61000;
    public int UserIdCount { get; init; } = 1000;
}

/// <summary>One isolation mode tried on this host: whether it works and, if not, why.</summary>
public sealed record SandboxModeCheck(SandboxIsolation Mode, bool Works, string Detail);

/// <summary>
/// Runs untrusted Python programs in a kernel-enforced sandbox (see <see cref="SandboxIsolation"/> and the threat
/// model in docs/rewards.md). A trusted supervisor (sandbox_supervisor.py, embedded) builds the isolation with
/// namespaces, Landlock, seccomp, cgroups and rlimits, and kills the program when this process dies by any
/// signal. When the host offers no real isolation, the first run throws instead of running the code weakly.
/// </summary>
public sealed class PythonSandbox
{
    const string SandboxPath = "/usr/local/bin:/usr/bin:/bin";
    const string LockDir = "/run/reasonsharp-sandbox";
    static readonly TimeSpan SupervisorSetupAllowance = TimeSpan.FromSeconds(70);
    static readonly SandboxIsolation[] Strongest =
        [SandboxIsolation.Namespaces, SandboxIsolation.UserNamespaces, SandboxIsolation.Landlock];
    readonly PythonSandboxOptions _options;
    readonly SemaphoreSlim _slots;
    readonly Lazy<Task<Setup>> _setup;

    public PythonSandbox(PythonSandboxOptions? options = null)
    {
        _options = options ?? new PythonSandboxOptions();
        if (_options.MaxConcurrency < 1)
            throw new ReasonSharpException(
                $"python sandbox: max concurrency: {_options.MaxConcurrency} is out of range; expected at least 1");
        var (first, count) = (_options.FirstUserId, _options.UserIdCount);
        if (first < 1000 || count < 1 || (long)first + count > int.MaxValue)
            throw new ReasonSharpException($"python sandbox: user ids: {first} + {count} are out of range; " +
                "expected a first uid of at least 1000 and a count of at least 1");
        _options.Limits.Validate("python sandbox");
        _slots = new SemaphoreSlim(_options.MaxConcurrency);
        var key = $"{_options.PythonExecutable}|{_options.Isolation}";
        _setup = new Lazy<Task<Setup>>(() => SetupCache.GetOrAdd(key, _ => DetectAsync()));
    }

    public PythonSandboxOptions Options => _options;

    /// <summary>The isolation in use and what it gives (detected once per process, on first use).</summary>
    public async Task<string> DescribeIsolationAsync() => (await _setup.Value).Description;

    public async Task<SandboxIsolation> GetIsolationAsync() => (await _setup.Value).Mode;

    /// <summary>Runs <paramref name="code"/> with <paramref name="stdin"/> as its standard input.</summary>
    /// <exception cref="ReasonSharpException">Python is missing, or the host cannot isolate the program.</exception>
    public async Task<SandboxResult> RunAsync(string code, string? stdin = null,
        CancellationToken cancellationToken = default)
    {
        var setup = await _setup.Value;
        await _slots.WaitAsync(cancellationToken);
        try
        {
            var run = await RunOnceAsync(setup, setup.Mode, code, stdin, _options.Limits, cancellationToken);
            if (run.SetupError != null)
                throw new ReasonSharpException(
                    $"python sandbox ({ModeName(setup.Mode)}) could not start the program: {run.SetupError}");
            return run.Result;
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>What this host offers (read once per process): credentials, Landlock, user namespaces,
    /// cgroups.</summary>
    public async Task<SandboxHostFacts> GetHostFactsAsync() => (await HostAsync()).Facts;

    /// <summary>Tries every isolation mode on this host (for `reason sandbox check`), strongest first.</summary>
    public async Task<(SandboxHostFacts Facts, PythonInstall Python, IReadOnlyList<SandboxModeCheck> Modes)>
        CheckHostAsync()
    {
        var (python, facts, cgroups) = await HostAsync();
        var checks = new List<SandboxModeCheck>();
        foreach (var mode in Strongest.Append(SandboxIsolation.Unsafe))
        {
            var problem = await TryModeAsync(mode, python, facts, cgroups);
            checks.Add(new SandboxModeCheck(mode, problem == null, problem ?? Describe(mode, python, facts, cgroups)));
        }
        return (facts, python, checks);
    }

    // ---- set-up ------------------------------------------------------------------------------------------

    sealed record Setup(SandboxIsolation Mode, string Description, PythonInstall Python, SandboxCgroups? Cgroups);

    static readonly ConcurrentDictionary<string, Task<Setup>> SetupCache = new();
    static readonly ConcurrentDictionary<string, Task<(PythonInstall, SandboxHostFacts, SandboxCgroups?)>> HostCache =
        new();
    static readonly Lazy<(SandboxCgroups? Groups, string Reason)> Cgroups = new(() =>
    {
        var groups = SandboxCgroups.Detect(out var reason);
        return (groups, reason);
    });

    Task<(PythonInstall Python, SandboxHostFacts Facts, SandboxCgroups? Cgroups)> HostAsync() =>
        HostCache.GetOrAdd(_options.PythonExecutable, _ => DetectHostAsync());

    async Task<(PythonInstall, SandboxHostFacts, SandboxCgroups?)> DetectHostAsync()
    {
        if (!OperatingSystem.IsLinux())
            throw new ReasonSharpException("the Python sandbox needs Linux (namespaces, Landlock, seccomp); this is " +
                $"{Environment.OSVersion}. Run code rewards on a Linux machine or in a Linux container.");
        var found = ResolvePython(_options.PythonExecutable) ?? throw new ReasonSharpException(
            $"Python is not installed: '{_options.PythonExecutable}' was not found on {SandboxPath} or PATH. " +
            "The code reward runs Python programs; install python3 or set the python executable option to its path.");
        var python = await SandboxSupervisor.DescribePythonAsync(found);
        var (groups, reason) = Cgroups.Value;
        var facts = await SandboxSupervisor.ReadFactsAsync(python.Executable, groups, reason);
        SweepLeftovers(groups);
        return (python, facts, groups);
    }

    async Task<Setup> DetectAsync()
    {
        var (python, facts, cgroups) = await HostAsync();
        var modes = _options.Isolation is { } requested ? [requested] : Strongest;
        var problems = new List<string>();
        foreach (var mode in modes)
        {
            var problem = await TryModeAsync(mode, python, facts, cgroups);
            if (problem == null) return new Setup(mode, Describe(mode, python, facts, cgroups), python, cgroups);
            problems.Add($"{ModeName(mode)}: {problem}");
        }
        if (_options.Isolation is { } only)
            throw new ReasonSharpException(
                $"python sandbox: isolation '{ModeName(only)}' was requested but does not work here: {problems[0]}");
        throw new ReasonSharpException(
            "python sandbox: this host offers no isolation for untrusted code, so the program was not run. " +
            string.Join("; ", problems) + ". To isolate, run as root with CAP_SYS_ADMIN (docker run " +
            "--cap-add SYS_ADMIN), allow unprivileged user namespaces, or use a kernel with Landlock enabled. To " +
            "accept the risk and run model code with rlimits and seccomp only, set the code reward option " +
            "isolation=unsafe " +
            "(PythonSandboxOptions.Isolation = SandboxIsolation.Unsafe). `reason sandbox check` shows what this " +
            "machine offers.");
    }

    static readonly ConcurrentDictionary<string, Task<string?>> ModeProbes = new();

    /// <summary>Null when <paramref name="mode"/> runs a probe program correctly here; otherwise why not (tried
    /// once per process and interpreter).</summary>
    Task<string?> TryModeAsync(SandboxIsolation mode, PythonInstall python, SandboxHostFacts facts,
        SandboxCgroups? cgroups) =>
        ModeProbes.GetOrAdd($"{python.Executable}|{mode}", _ => ProbeModeAsync(mode, python, facts, cgroups));

    async Task<string?> ProbeModeAsync(SandboxIsolation mode, PythonInstall python, SandboxHostFacts facts,
        SandboxCgroups? cgroups)
    {
        if (facts.Obstacle(mode) is { } obstacle) return obstacle;
        var limits = new SandboxLimits { WallTime = TimeSpan.FromSeconds(20), CpuSeconds = 10 };
        var setup = new Setup(mode, "probe", python, cgroups);
        try
        {
            var run = await RunOnceAsync(setup, mode, "print(6 * 7)\n", null, limits, CancellationToken.None);
            if (run.SetupError != null) return run.SetupError;
            if (run.Result.Stdout.Trim() == "42") return null;
            return $"the probe program failed (exit {run.Result.ExitCode}): {Short(run.Result.Stderr)}";
        }
        catch (ReasonSharpException e)
        {
            return e.Message;
        }
    }

    static string Describe(SandboxIsolation mode, PythonInstall python, SandboxHostFacts facts, SandboxCgroups? cgroups)
    {
        var who = facts.IsRoot ? "a distinct unprivileged uid per run" : $"uid {facts.Uid} (this user)";
        var single = "one process per program (threads allowed), so RLIMIT_AS bounds its memory";
        var groups = mode is SandboxIsolation.Landlock or SandboxIsolation.Unsafe
            ? single + (cgroups != null ? "; " + cgroups.Description : "")
            : cgroups?.Description ?? "no writable cgroup: " + single;
        var tail = $"; {groups}; rlimits (as, cpu, fsize, nofile); killed with this process; " +
                   $"python {python.Executable} {python.Version}";
        const string namespaces = "mount, PID, network, IPC and UTS namespaces";
        const string root = "a read-only root of system and interpreter directories, a size-limited tmpfs /tmp";
        return mode switch
        {
            SandboxIsolation.Namespaces =>
                $"namespaces (root with CAP_SYS_ADMIN): {namespaces}, {root}, {who}, seccomp" + tail,
            SandboxIsolation.UserNamespaces =>
                $"user namespaces: {namespaces} inside a user namespace, {root}, {who}, no capabilities, " +
                "seccomp" + tail,
            SandboxIsolation.Landlock => $"landlock (ABI {facts.LandlockAbi}) + seccomp, no namespaces: read-only " +
                "system and interpreter directories, no writable directory, no sockets, signals only to itself, " +
                $"no SysV/POSIX IPC, {who}" + tail,
            _ => "UNSAFE (explicitly requested): rlimits and seccomp only; the program can read and write whatever " +
                 $"{who} can" + tail,
        };
    }

    internal static string ModeName(SandboxIsolation mode) => mode switch
    {
        SandboxIsolation.Namespaces => "namespaces",
        SandboxIsolation.UserNamespaces => "user_namespaces",
        SandboxIsolation.Landlock => "landlock",
        _ => "unsafe",
    };

    static string? ResolvePython(string executable)
    {
        if (executable.Contains('/')) return File.Exists(executable) ? Path.GetFullPath(executable) : null;
        return FindOnPath(executable, SandboxPath)
               ?? FindOnPath(executable, Environment.GetEnvironmentVariable("PATH") ?? "");
    }

    static string? FindOnPath(string name, string path) =>
        path.Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);

    static string Short(string text) => text.Length <= 600 ? text.Trim() : text[..600].Trim() + " …";

    // ---- leftovers -----------------------------------------------------------------------------------------

    const string RunDirPrefix = "reasonsharp-sandbox-";
    static int _swept;

    /// <summary>Run folders and cgroups of reason processes that died without cleaning up (once per process).</summary>
    static void SweepLeftovers(SandboxCgroups? groups)
    {
        if (Interlocked.Exchange(ref _swept, 1) == 1) return;
        groups?.SweepLeftovers();
        foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), RunDirPrefix + "*"))
        {
            var name = Path.GetFileName(dir)[RunDirPrefix.Length..];
            // Folders of earlier versions had a random name only: remove them once they are an hour old.
            var stale = ProcessIdentity.NamesOwner(name)
                ? ProcessIdentity.OwnerIsGone(name)
                : Directory.GetLastWriteTimeUtc(dir) < DateTime.UtcNow.AddHours(-1);
            if (stale) DeleteRunDir(dir);
        }
    }

    static void DeleteRunDir(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    // ---- one run -----------------------------------------------------------------------------------------

    sealed record Run(SandboxResult Result, string? SetupError);

    async Task<Run> RunOnceAsync(Setup setup, SandboxIsolation mode, string code, string? stdin, SandboxLimits limits,
        CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("the Python sandbox needs Linux");
        var runDir = Path.Join(Path.GetTempPath(), $"{RunDirPrefix}{ProcessIdentity.Current}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(runDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        SandboxCgroups.RunCgroup? group = null;
        try
        {
            await File.WriteAllTextAsync(Path.Join(runDir, "main.py"), code, cancellationToken);
            group = setup.Cgroups?.Create(limits);
            var config = new
            {
                mode = ModeName(mode),
                parent_pid = Environment.ProcessId,
                run_dir = runDir,
                python = setup.Python.Executable,
                python_paths = setup.Python.Paths,
                limits = new
                {
                    wall_seconds = limits.WallTime.TotalSeconds,
                    cpu_seconds = limits.CpuSeconds,
                    memory_bytes = limits.MemoryBytes,
                    file_bytes = limits.MaxFileBytes,
                    open_files = limits.MaxOpenFiles,
                    disk_bytes = limits.MaxDiskBytes,
                },
                cgroup_procs = group?.ProcsFiles ?? [],
                first_uid = _options.FirstUserId,
                uid_count = _options.UserIdCount,
                lock_dir = LockDir,
            };
            var start = SandboxSupervisor.StartInfo(setup.Python.Executable, config);
            var result = await ExecuteAsync(start, stdin, limits, setup.Description, cancellationToken);
            var (timedOut, error) = ReadStatus(runDir);
            if (error != null) return new Run(result, error);
            if (group != null)
            {
                var (peak, hit) = group.MemoryUsage();
                result = result with { PeakMemoryBytes = peak, MemoryLimitHit = hit };
            }
            if (timedOut && !result.TimedOut) result = result with { TimedOut = true };
            return new Run(result, null);
        }
        finally
        {
            group?.Dispose();
            DeleteRunDir(runDir);
        }
    }

    static (bool TimedOut, string? Error) ReadStatus(string runDir)
    {
        var path = Path.Join(runDir, "status.json");
        if (!File.Exists(path)) return (false, null);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        var error = root.TryGetProperty("error", out var e) ? e.GetString() : null;
        return (root.TryGetProperty("timed_out", out var t) && t.GetBoolean(), error);
    }

    static async Task<SandboxResult> ExecuteAsync(ProcessStartInfo start, string? stdin, SandboxLimits limits,
        string isolation, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new ReasonSharpException($"cannot start the sandbox supervisor ('{start.FileName}'): {e.Message}");
        }
        // The supervisor enforces the wall time from the program's start; this is the backstop should it hang.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limits.WallTime + SupervisorSetupAllowance);
        var output = new BoundedOutput(limits.MaxOutputBytes);
        // Killing the supervisor is enough: its children die by their parent-death signal and the PID namespace.
        var kill = () => Kill(process);
        using var registration = timeout.Token.Register(kill);
        var stdout = output.PumpAsync(process.StandardOutput.BaseStream, isError: false, kill);
        var stderr = output.PumpAsync(process.StandardError.BaseStream, isError: true, kill);
        _ = FeedAsync(process.StandardInput, stdin);
        try
        {
            await process.WaitForExitAsync(CancellationToken.None);
            await Task.WhenAll(stdout, stderr);
        }
        finally
        {
            Kill(process);
        }
        cancellationToken.ThrowIfCancellationRequested();
        var timedOut = timeout.IsCancellationRequested && !output.Exceeded;
        return new SandboxResult(process.ExitCode, output.Text(isError: false), output.Text(isError: true), timedOut,
            output.Exceeded, watch.Elapsed, isolation);
    }

    static async Task FeedAsync(StreamWriter input, string? stdin)
    {
        try
        {
            if (!string.IsNullOrEmpty(stdin)) await input.WriteAsync(stdin);
            input.Close();
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }

    static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        catch (Win32Exception) { }
        catch (NotSupportedException) { }
    }

    /// <summary>Collects stdout and stderr up to a shared byte budget; past it, the run is killed.</summary>
    sealed class BoundedOutput(int maxBytes)
    {
        readonly MemoryStream _out = new();
        readonly MemoryStream _err = new();
        readonly Lock _lock = new();
        int _total;
        public bool Exceeded { get; private set; }

        public async Task PumpAsync(Stream stream, bool isError, Action kill)
        {
            var buffer = new byte[16384];
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer)) > 0)
                {
                    lock (_lock)
                    {
                        var keep = Math.Min(read, maxBytes - _total);
                        if (keep > 0) (isError ? _err : _out).Write(buffer, 0, keep);
                        _total += keep;
                        if (keep < read) Exceeded = true;
                    }
                    if (Exceeded)
                    {
                        kill();
                        return;
                    }
                }
            }
            catch (IOException) { }
            catch (ObjectDisposedException) { }
        }

        public string Text(bool isError)
        {
            lock (_lock) return Encoding.UTF8.GetString((isError ? _err : _out).ToArray());
        }
    }
}
