using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace ReasonSharp.Rewards.Sandbox;

/// <summary>Options of <see cref="PythonSandbox"/>.</summary>
public sealed record PythonSandboxOptions
{
    /// <summary>The interpreter: a name looked up on a standard PATH, or a path.</summary>
    public string PythonExecutable { get; init; } = "python3";
    public SandboxLimits Limits { get; init; } = new();
    /// <summary>Runs at once; more wait.</summary>
    public int MaxConcurrency { get; init; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>Force an isolation level instead of the strongest available one.</summary>
    public SandboxIsolation? Isolation { get; init; }
    /// <summary>Lowest user id of the sandbox users (isolated mode); each concurrent run takes the lowest free id from here.</summary>
    public int FirstUserId { get; init; } = 61000;
}

/// <summary>
/// Runs untrusted Python programs in separate processes. Each run gets a fresh work directory as cwd and HOME, a
/// scrubbed environment (no variable of this process is passed), wall and CPU time, memory, file-size, descriptor
/// and output limits, and its whole process tree is killed at the end. As root on Linux it also runs in new mount,
/// network and PID namespaces (no network, a private /tmp, the tree dies with its PID 1) as an unprivileged user
/// with a process-count limit; elsewhere it falls back to <see cref="SandboxIsolation.ProcessLimits"/>.
/// </summary>
public sealed class PythonSandbox
{
    const string SandboxPath = "/usr/local/bin:/usr/bin:/bin";
    readonly PythonSandboxOptions _options;
    readonly SemaphoreSlim _slots;
    readonly Lazy<Task<(SandboxIsolation Isolation, string Description, string Python)>> _setup;

    public PythonSandbox(PythonSandboxOptions? options = null)
    {
        _options = options ?? new PythonSandboxOptions();
        if (_options.MaxConcurrency < 1) throw new ReasonSharpException($"sandbox max concurrency must be at least 1, got {_options.MaxConcurrency}");
        _slots = new SemaphoreSlim(_options.MaxConcurrency);
        _setup = new Lazy<Task<(SandboxIsolation, string, string)>>(SetUpAsync);
    }

    public PythonSandboxOptions Options => _options;

    /// <summary>The isolation in use and why (detected once, on first use).</summary>
    public async Task<string> DescribeIsolationAsync() => (await _setup.Value).Description;

    public async Task<SandboxIsolation> GetIsolationAsync() => (await _setup.Value).Isolation;

    /// <summary>Runs <paramref name="code"/> with <paramref name="stdin"/> as its standard input.</summary>
    /// <exception cref="ReasonSharpException">Python is not installed or cannot be run.</exception>
    public async Task<SandboxResult> RunAsync(string code, string? stdin = null, CancellationToken cancellationToken = default)
    {
        var (isolation, description, python) = await _setup.Value;
        await _slots.WaitAsync(cancellationToken);
        var uid = TakeUserId(_options.FirstUserId);
        try
        {
            return await RunOnceAsync(isolation, description, python, uid, code, stdin, _options.Limits, cancellationToken);
        }
        finally
        {
            ReleaseUserId(uid);
            _slots.Release();
        }
    }

    // Concurrent runs of every sandbox in this process get distinct user ids, so each has its own RLIMIT_NPROC budget.
    static readonly HashSet<int> UserIdsInUse = [];

    static int TakeUserId(int first)
    {
        lock (UserIdsInUse)
        {
            var uid = first;
            while (!UserIdsInUse.Add(uid)) uid++;
            return uid;
        }
    }

    static void ReleaseUserId(int uid)
    {
        lock (UserIdsInUse) UserIdsInUse.Remove(uid);
    }

    // ---- set-up ------------------------------------------------------------------------------------------

    static readonly ConcurrentDictionary<string, Task<(SandboxIsolation, string, string)>> SetupCache = new();

    Task<(SandboxIsolation Isolation, string Description, string Python)> SetUpAsync() =>
        SetupCache.GetOrAdd($"{_options.PythonExecutable}|{_options.Isolation}|{_options.FirstUserId}", _ => DetectAsync());

    async Task<(SandboxIsolation, string, string)> DetectAsync()
    {
        var python = ResolvePython(_options.PythonExecutable) ?? throw new ReasonSharpException(
            $"Python is not installed: '{_options.PythonExecutable}' was not found on {SandboxPath} or PATH. The code reward runs " +
            "Python programs; install python3 or set the python executable option to its path.");
        var probeLimits = new SandboxLimits { WallTime = TimeSpan.FromSeconds(20), CpuSeconds = 10 };
        string? namespaceProblem = null;
        if (_options.Isolation is null or SandboxIsolation.Namespaces)
        {
            namespaceProblem = NamespacePrerequisites();
            if (namespaceProblem == null)
            {
                var probeUid = TakeUserId(_options.FirstUserId);
                SandboxResult probe;
                try
                {
                    probe = await RunOnceAsync(SandboxIsolation.Namespaces, "probe", python, probeUid, "print(6 * 7)", null, probeLimits, CancellationToken.None);
                }
                finally
                {
                    ReleaseUserId(probeUid);
                }
                if (probe.Stdout.Trim() == "42")
                    return (SandboxIsolation.Namespaces, "namespaces: new mount/net/pid namespaces, private tmpfs /tmp, a distinct unprivileged " +
                            $"uid per concurrent run from {_options.FirstUserId}, rlimits (as, cpu, nproc, fsize, nofile), tree killed with its PID 1; python {python}", python);
                namespaceProblem = $"the namespace probe failed (exit {probe.ExitCode}): {probe.Stderr.Trim()}";
            }
            if (_options.Isolation == SandboxIsolation.Namespaces)
                throw new ReasonSharpException($"namespace isolation was requested but is unavailable: {namespaceProblem}");
        }
        var fallback = await RunOnceAsync(SandboxIsolation.ProcessLimits, "probe", python, -1, "print(6 * 7)", null, probeLimits, CancellationToken.None);
        if (fallback.Stdout.Trim() != "42")
            throw new ReasonSharpException($"Python at {python} cannot run programs (exit {fallback.ExitCode}): {fallback.Stderr.Trim()}");
        var why = namespaceProblem == null ? "requested" : $"namespaces unavailable: {namespaceProblem}";
        return (SandboxIsolation.ProcessLimits, $"process-limits fallback ({why}): rlimits (as, cpu, fsize, nofile), new session killed as a group, " +
                $"Python audit hook blocking sockets, subprocesses, writes outside the work dir and other processes' /proc; python {python}", python);
    }

    static string? NamespacePrerequisites()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (!Environment.IsPrivilegedProcess) return "not running as root";
        foreach (var tool in new[] { "unshare", "setpriv", "prlimit", "mount" })
            if (FindOnPath(tool, SandboxPath + ":/usr/sbin:/sbin") == null) return $"'{tool}' (util-linux) is missing";
        return null;
    }

    static string? ResolvePython(string executable)
    {
        if (executable.Contains('/')) return File.Exists(executable) ? Path.GetFullPath(executable) : null;
        return FindOnPath(executable, SandboxPath) ?? FindOnPath(executable, Environment.GetEnvironmentVariable("PATH") ?? "");
    }

    static string? FindOnPath(string name, string path) =>
        path.Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    // ---- one run -----------------------------------------------------------------------------------------

    async Task<SandboxResult> RunOnceAsync(SandboxIsolation isolation, string description, string python, int uid,
        string code, string? stdin, SandboxLimits limits, CancellationToken cancellationToken)
    {
        var root = Directory.CreateTempSubdirectory("reasonsharp-sandbox-").FullName;
        try
        {
            var work = Directory.CreateDirectory(Path.Combine(root, "work")).FullName;
            Directory.CreateDirectory(Path.Combine(root, "tmp"));
            await File.WriteAllTextAsync(Path.Combine(work, "main.py"), code, cancellationToken);
            var start = isolation == SandboxIsolation.Namespaces
                ? NamespaceStart(root, python, uid, limits)
                : FallbackStart(root, work, python, limits);
            return await ExecuteAsync(start, stdin, limits, description, ownGroup: isolation == SandboxIsolation.ProcessLimits, cancellationToken);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    // Runs as root inside the new namespaces, then drops to the sandbox user. $1 root dir, $2 uid, then the command.
    const string NamespaceSetup = """
        set -e
        R="$1"; U="$2"; shift 2
        chown "$U:$U" "$R/work"
        chmod 700 "$R/work"
        mount --make-rprivate /
        mount -t tmpfs -o size=64m,mode=1777 tmpfs "$R/tmp"
        mkdir "$R/tmp/sandbox"
        mount --bind "$R/work" "$R/tmp/sandbox"
        mount --move "$R/tmp" /tmp
        for d in /var/tmp /dev/shm /run/lock; do if [ -d "$d" ]; then mount -t tmpfs -o size=16m,mode=1777 tmpfs "$d"; fi; done
        mount -t proc proc /proc
        cd /tmp/sandbox
        unset OLDPWD
        export PWD=/tmp/sandbox
        exec setpriv --reuid="$U" --regid="$U" --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all "$@"
        """;

    static ProcessStartInfo NamespaceStart(string root, string python, int uid, SandboxLimits limits)
    {
        var start = BaseStart("unshare", "/tmp/sandbox");
        start.WorkingDirectory = root;
        foreach (var a in new[] { "--mount", "--net", "--pid", "--fork", "--kill-child", "--", "/bin/sh", "-c", NamespaceSetup, "sandbox", root, uid.ToString() })
            start.ArgumentList.Add(a);
        AddLimits(start, limits, withProcessLimit: true);
        foreach (var a in new[] { "--", python, "-I", "-B", "main.py" }) start.ArgumentList.Add(a);
        return start;
    }

    static ProcessStartInfo FallbackStart(string root, string work, string python, SandboxLimits limits)
    {
        File.WriteAllText(Path.Combine(work, "guard.py"), FallbackGuard);
        var start = BaseStart("setsid", work);
        start.WorkingDirectory = work;
        start.ArgumentList.Add("--wait");
        start.ArgumentList.Add("prlimit");
        AddLimits(start, limits, withProcessLimit: false);
        foreach (var a in new[] { "--", python, "-I", "-B", "guard.py" }) start.ArgumentList.Add(a);
        return start;
    }

    static ProcessStartInfo BaseStart(string file, string home)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment.Clear();
        start.Environment["PATH"] = SandboxPath;
        start.Environment["HOME"] = home;
        start.Environment["TMPDIR"] = home;
        start.Environment["LANG"] = "C.UTF-8";
        start.Environment["PYTHONIOENCODING"] = "utf-8";
        return start;
    }

    static void AddLimits(ProcessStartInfo start, SandboxLimits limits, bool withProcessLimit)
    {
        if (start.FileName == "unshare") start.ArgumentList.Add("prlimit");
        start.ArgumentList.Add($"--as={limits.MemoryBytes}");
        start.ArgumentList.Add($"--cpu={Math.Max(1, limits.CpuSeconds)}");
        start.ArgumentList.Add($"--fsize={limits.MaxFileBytes}");
        start.ArgumentList.Add($"--nofile={limits.MaxOpenFiles}");
        start.ArgumentList.Add("--core=0");
        if (withProcessLimit) start.ArgumentList.Add($"--nproc={limits.MaxProcesses}");
    }

    static async Task<SandboxResult> ExecuteAsync(ProcessStartInfo start, string? stdin, SandboxLimits limits, string isolation, bool ownGroup, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new ReasonSharpException($"cannot start the sandbox ('{start.FileName}'): {e.Message}");
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limits.WallTime);
        var output = new BoundedOutput(limits.MaxOutputBytes);
        var kill = () => KillTree(process, ownGroup);
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
            KillTree(process, ownGroup);
        }
        cancellationToken.ThrowIfCancellationRequested();
        var timedOut = timeout.IsCancellationRequested && !output.Exceeded;
        return new SandboxResult(process.ExitCode, output.Text(isError: false), output.Text(isError: true), timedOut, output.Exceeded, watch.Elapsed, isolation);
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

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    /// <summary>SIGKILL to the child's process group (its own session in fallback mode) and to every descendant.
    /// In namespace mode the child is unshare, whose death kills the namespace's PID 1 and so the whole namespace.</summary>
    static void KillTree(Process process, bool ownGroup)
    {
        try
        {
            if (ownGroup && OperatingSystem.IsLinux()) kill(-process.Id, 9);
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
                    lock (this)
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
            lock (this) return Encoding.UTF8.GetString((isError ? _err : _out).ToArray());
        }
    }

    // Fallback guard: an audit hook (cannot be removed from Python code) that refuses network, new processes,
    // native code loading, writes outside the work directory and reads of other processes' /proc files; then runs main.py.
    const string FallbackGuard = """
        import os, sys
        _work = os.path.realpath(os.getcwd())
        _write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
        _blocked = {"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "os.system", "os.fork",
                    "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen", "pty.spawn",
                    "ctypes.dlopen", "ctypes.cdata", "ctypes.dlsym", "os.kill", "os.killpg", "signal.pthread_kill"}
        _path_events = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
                        "os.symlink", "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move"}
        def _inside(path):
            try:
                p = os.path.realpath(os.fsdecode(path) if not isinstance(path, int) else "/proc/self/fd/%d" % path)
            except Exception:
                return False
            return p == _work or p.startswith(_work + os.sep)
        def _hook(event, args):
            if event in _blocked:
                raise PermissionError("sandbox: %s is not allowed" % event)
            if event == "import" and args and args[0] in ("ctypes", "_ctypes"):
                raise PermissionError("sandbox: ctypes is not allowed")
            if event == "open" and args and isinstance(args[0], (str, bytes)):
                path, mode, flags = args[0], args[1], args[2] if len(args) > 2 else 0
                p = os.fsdecode(path)
                if p.startswith("/proc/") and not p.startswith("/proc/self/"):
                    raise PermissionError("sandbox: reading other processes is not allowed")
                writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (flags or 0) & _write_flags
                if writing and not _inside(path):
                    raise PermissionError("sandbox: writing outside the work directory is not allowed: %s" % p)
            if event in _path_events and args and isinstance(args[0], (str, bytes)) and not _inside(args[0]):
                raise PermissionError("sandbox: %s outside the work directory is not allowed" % event)
        sys.addaudithook(_hook)
        del _hook
        import runpy
        sys.argv = ["main.py"]
        runpy.run_path("main.py", run_name="__main__")
        """;
}
