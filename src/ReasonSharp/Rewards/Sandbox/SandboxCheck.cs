using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ReasonSharp.Rewards.Sandbox;

/// <summary>One hostile program run in the sandbox, and whether its effect stayed inside.</summary>
public sealed record SandboxProbe(string Name, bool Contained, string Detail);

/// <summary>What `reason sandbox check` found: the host, every isolation mode, the one chosen (or why none
/// was), and the probes run in it.</summary>
public sealed record SandboxCheckReport(
    SandboxHostFacts Facts,
    PythonInstall Python,
    IReadOnlyList<SandboxModeCheck> Modes,
    SandboxIsolation? Isolation,
    string? Description,
    string? Refusal,
    IReadOnlyList<SandboxProbe> Probes)
{
    /// <summary>A real boundary is in use and every probe was contained.</summary>
    public bool Safe =>
        Isolation is { } mode && mode != SandboxIsolation.Unsafe && Probes.Count > 0 && Probes.All(p => p.Contained);
}

/// <summary>Tells what isolation this machine gives untrusted Python and runs escape attempts against it.</summary>
public static class SandboxCheck
{
    /// <summary>Limits of the probe runs: small, so the check takes seconds.</summary>
    public static readonly SandboxLimits ProbeLimits = new()
    {
        WallTime = TimeSpan.FromSeconds(15),
        CpuSeconds = 10,
        MemoryBytes = 128L << 20,
        MaxDiskBytes = 8L << 20,
        MaxFileBytes = 4L << 20,
        MaxProcesses = 16,
        MaxOutputBytes = 64 << 10,
    };

    public static async Task<SandboxCheckReport> RunAsync(PythonSandboxOptions options,
        CancellationToken cancellationToken = default)
    {
        var probeOptions = options with { Limits = ProbeLimits, MaxConcurrency = Math.Min(4, options.MaxConcurrency) };
        var sandbox = new PythonSandbox(probeOptions);
        var (facts, python, modes) = await sandbox.CheckHostAsync();
        SandboxIsolation isolation;
        string description;
        try
        {
            isolation = await sandbox.GetIsolationAsync();
            description = await sandbox.DescribeIsolationAsync();
        }
        catch (ReasonSharpException e)
        {
            return new SandboxCheckReport(facts, python, modes, null, null, e.Message, []);
        }
        var probes = await RunProbesAsync(sandbox, cancellationToken);
        return new SandboxCheckReport(facts, python, modes, isolation, description, null, probes);
    }

    static async Task<IReadOnlyList<SandboxProbe>> RunProbesAsync(PythonSandbox sandbox,
        CancellationToken cancellationToken)
    {
        var tag = Guid.NewGuid().ToString("N")[..12];
        var hostTemp = Path.GetTempPath().TrimEnd('/');
        var canaryDir = Directory.CreateDirectory(Path.Join(hostTemp, $"reasonsharp-canary-{tag}")).FullName;
        var canaryFile = Path.Join(canaryDir, "secret.txt");
        File.WriteAllText(canaryFile, $"canary-{tag}");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(canaryDir, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(canaryFile, (UnixFileMode)0b110_100_100);
        }
        var escapes = new[] { "escape", "escape2", "escape3" }
            .Select(n => Path.Join(hostTemp, $"reasonsharp-{n}-{tag}")).ToArray();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var shmKey = 0x52530000 + Random.Shared.Next(0x10000);
        var limits = ProbeLimits;
        try
        {
            async Task<SandboxProbe> Probe(string name, string code, Func<SandboxResult, (bool, string)> judge)
            {
                var result = await sandbox.RunAsync(code, null, cancellationToken);
                var (contained, detail) = judge(result);
                return new SandboxProbe(name, contained, detail);
            }
            var probes = new[]
            {
                Probe("other processes' environment", EnvironProbe, r =>
                {
                    var count = Field(r.Stdout, "READABLE");
                    return count == "0"
                        ? (true, "no other process's /proc/PID/environ is readable (also via //proc and /proc/self/..)")
                        : (false, $"readable: {Line(r.Stdout, "READABLE")} {Short(r.Stderr)}");
                }),
                Probe("host files", $"""
                    import os
                    for p in [{Py(canaryFile)}, {Py(canaryDir)}]:
                        try:
                            if os.path.isdir(p):
                                print('LISTED', p, os.listdir(p))
                            else:
                                print('READ', p, open(p).read())
                        except Exception as e:
                            print('DENIED', p, type(e).__name__)
                    """, r =>
                {
                    var leaked = r.Stdout.Contains("LISTED") || r.Stdout.Contains("READ ");
                    return leaked ? (false, "a world-readable host file was read: " + Short(r.Stdout))
                        : (true, "a world-readable file in the host's temp folder is invisible");
                }),
                Probe("writes outside the sandbox", $"""
                    import os
                    for attempt in range(3):
                        try:
                            if attempt == 0:
                                open({Py(escapes[0])}, 'w').write('x')
                            elif attempt == 1:
                                d = os.open({Py(hostTemp)}, os.O_RDONLY)
                                name = {Py(Path.GetFileName(escapes[1]))}
                                os.close(os.open(name, os.O_CREAT | os.O_WRONLY, dir_fd=d))
                            else:
                                os.rename('main.py', {Py(escapes[2])})
                            print('WROTE', attempt)
                        except Exception as e:
                            print('DENIED', attempt, type(e).__name__)
                    """, r =>
                {
                    var written = escapes.Where(File.Exists).ToList();
                    return written.Count == 0
                        ? (true, "open, os.open(dir_fd=…) and os.rename into the host's temp folder left nothing there")
                        : (false, "created on the host: " + string.Join(", ", written));
                }),
                Probe("network", $"""
                    import socket
                    try:
                        socket.create_connection(('127.0.0.1', {port}), timeout=2).close()
                        print('CONNECTED')
                    except Exception as e:
                        print('NO-CONNECT', type(e).__name__, e)
                    """, r =>
                {
                    var reached = listener.Pending() || r.Stdout.Contains("CONNECTED\n");
                    return reached ? (false, "reached a port on the host's loopback")
                        : (true, "no connection to a port the host listens on (127.0.0.1)");
                }),
                Probe("processes outliving the run", $"""
                    import os, subprocess, sys
                    try:
                        argv = [sys.executable, '-c', 'import time; time.sleep(300)', 'reasonsharp-probe-{tag}']
                        subprocess.Popen(argv, start_new_session=True)
                        print('SPAWNED')
                    except Exception as e:
                        print('NO-SPAWN', type(e).__name__, e)
                    """, r =>
                {
                    var left = ProcessesWithArgument($"reasonsharp-probe-{tag}");
                    if (left > 0) return (false, $"{left} process(es) still running after the run");
                    return (true, r.Stdout.Contains("SPAWNED") ? "a detached child (new session) died with the run"
                        : "process creation is refused (" + Short(r.Stdout) + ")");
                }),
                Probe("SysV shared memory", $"""
                    import ctypes
                    libc = ctypes.CDLL(None, use_errno=True)
                    for i in range(3):
                        print('SHM', libc.shmget({shmKey} + i, 4 << 20, 0o1000 | 0o666), ctypes.get_errno())
                    """, r =>
                {
                    var left = SharedMemorySegments(shmKey, 3);
                    if (left > 0) return (false, $"{left} segment(s) outlived the run");
                    return (true, r.Stdout.Contains("SHM -1") ? "shmget is refused"
                        : "segments died with the run's IPC namespace");
                }),
                Probe("disk quota", """
                    import os
                    total = 0
                    try:
                        for i in range(64):
                            with open('fill%d' % i, 'wb') as f:
                                for _ in range(4):
                                    f.write(b'x' * (1 << 20))
                                    total += 1 << 20
                    except Exception as e:
                        print('STOPPED', type(e).__name__)
                    print('WROTE', total)
                    """, r =>
                {
                    var wrote = long.TryParse(Field(r.Stdout, "WROTE"), out var w) ? w : -1;
                    var detail = $"wrote {wrote / 1048576.0:0.#} MB of a {limits.MaxDiskBytes >> 20} MB quota";
                    if (wrote < 0) detail += ": " + Short(r.Stderr);
                    return (wrote >= 0 && wrote <= limits.MaxDiskBytes, detail);
                }),
                Probe("memory of the whole program", $"""
                    import os
                    kids = []
                    for i in range(4):
                        try:
                            pid = os.fork()
                        except OSError as e:
                            print('NO-FORK', e)
                            break
                        if pid == 0:
                            try:
                                b = bytearray({limits.MemoryBytes / 2})
                            except MemoryError:
                                os._exit(3)
                            os._exit(0)
                        kids.append(pid)
                    print('FORKED', len(kids), [os.waitpid(k, 0)[1] for k in kids])
                    """, r =>
                {
                    var forked = int.TryParse(Field(r.Stdout, "FORKED"), out var f) ? f : 0;
                    if (forked == 0)
                        return (true, "process creation is refused, so RLIMIT_AS bounds the single process");
                    var peak = r.PeakMemoryBytes ?? -1;
                    return (peak >= 0 && peak <= limits.MemoryBytes,
                        $"{forked} children of {limits.MemoryBytes >> 21} MB each: peak {peak / 1048576.0:0} MB of a " +
                        $"{limits.MemoryBytes >> 20} MB limit" + (r.MemoryLimitHit ? ", the cgroup killed some" : ""));
                }),
                Probe("identity", "import os\nprint('UID', os.getuid(), os.geteuid())\n", r =>
                {
                    var uid = Field(r.Stdout, "UID");
                    return (uid != "0" && uid != "", $"runs as uid {uid}");
                }),
                Probe("signals to other processes", """
                    import os
                    try:
                        os.kill(-1, 0)
                        print('CAN-SIGNAL')
                    except Exception as e:
                        print('NO-SIGNAL', type(e).__name__)
                    """, r => r.Stdout.Contains("NO-SIGNAL") ? (true, "kill(-1, 0) reaches no process")
                    : (false, "kill(-1, 0) reaches other processes: " + Short(r.Stdout + r.Stderr))),
            };
            return await Task.WhenAll(probes);
        }
        finally
        {
            listener.Stop();
            foreach (var e in escapes) TryDelete(e);
            try { Directory.Delete(canaryDir, recursive: true); } catch (IOException) { }
        }
    }

    const string EnvironProbe = """
        import os
        pids = {os.getppid(), 1}
        try:
            pids.update(int(d) for d in os.listdir('/proc') if d.isdigit())
        except Exception:
            pass
        pids.discard(os.getpid())
        readable = []
        for pid in sorted(pids):
            for path in ('/proc/%d/environ' % pid, '//proc/%d/environ' % pid, '/proc/self/../%d/environ' % pid):
                try:
                    readable.append('%s (%d bytes)' % (path, len(open(path, 'rb').read())))
                    break
                except Exception:
                    pass
        print('READABLE', len(readable), '; '.join(readable[:5]))
        """;

    static string Py(string text) => "'" + text.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    static string Line(string output, string key) =>
        output.Split('\n').FirstOrDefault(l => l.StartsWith(key + " ", StringComparison.Ordinal)) ?? "";

    static string Field(string output, string key)
    {
        var line = Line(output, key);
        return line.Length == 0 ? "" : line[(key.Length + 1)..].Split(' ')[0];
    }

    static string Short(string text)
    {
        var one = text.Replace('\n', ' ').Trim();
        return one.Length <= 200 ? one : one[..200] + "…";
    }

    static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Processes whose command line holds <paramref name="argument"/>, after giving a killed tree 2 s to
    /// go.</summary>
    internal static int ProcessesWithArgument(string argument)
    {
        var count = 0;
        for (var attempt = 0; attempt < 40; attempt++)
        {
            count = 0;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out _)) continue;
                try
                {
                    if (File.ReadAllText(Path.Join(dir, "cmdline")).Split('\0').Contains(argument)) count++;
                }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
            if (count == 0) return 0;
            Thread.Sleep(50);
        }
        return count;
    }

    /// <summary>SysV shared memory segments on the host with keys first … first + count − 1.</summary>
    internal static int SharedMemorySegments(int firstKey, int count)
    {
        if (!File.Exists("/proc/sysvipc/shm")) return 0;
        return File.ReadLines("/proc/sysvipc/shm").Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(f => f.Length > 0 && long.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture,
                out var key) && key >= firstKey && key < firstKey + count);
    }
}
