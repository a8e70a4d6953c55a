using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using ReasonSharp.Rewards.Sandbox;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Rewards;

/// <summary>
/// The sandbox as the `reason` process uses it, in a child `reason` process: on simulated kinds of host (root without
/// CAP_SYS_ADMIN, a default Docker container, a non-root user, with and without user namespaces, a host with nothing),
/// and when that process is killed. Simulation runs `reason` under a small Python launcher that drops CAP_SYS_ADMIN,
/// enters a user namespace whose user.max_user_namespaces is 0, blocks Landlock with seccomp, or switches uid.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class SandboxHostTests(ITestOutputHelper output)
{
    const int OtherUid = 1234;

    // The launcher: {no_userns, drop_sys_admin, no_landlock, uid} then the command line.
    const string Simulator = """
        import ctypes, json, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        opts, cmd = json.loads(sys.argv[1]), sys.argv[2:]
        if opts.get('no_userns'):
            # A user namespace mapping uids 0-65535 to themselves, in which no further user namespace may be made.
            r, w = os.pipe()
            parent = os.getpid()
            child = os.fork()
            if child == 0:
                os.read(r, 1)
                for name in ('uid_map', 'gid_map'):
                    with open('/proc/%d/%s' % (parent, name), 'w') as f:
                        f.write('0 0 65536')
                os._exit(0)
            if libc.unshare(0x10000000) != 0:
                sys.exit('unshare: ' + os.strerror(ctypes.get_errno()))
            os.write(w, b'x')
            os.waitpid(child, 0)
            with open('/proc/sys/user/max_user_namespaces', 'w') as f:
                f.write('0')
        if opts.get('drop_sys_admin'):
            libc.prctl(24, 21, 0, 0, 0)  # PR_CAPBSET_DROP CAP_SYS_ADMIN: gone after exec
        if opts.get('no_landlock'):
            class F(ctypes.Structure):
                _fields_ = [('code', ctypes.c_ushort), ('jt', ctypes.c_ubyte), ('jf', ctypes.c_ubyte),
                            ('k', ctypes.c_uint32)]
            class P(ctypes.Structure):
                _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.POINTER(F))]
            prog = [(0x20, 0, 0, 0), (0x15, 0, 1, 444), (0x06, 0, 0, 0x00050000 | 38), (0x06, 0, 0, 0x7FFF0000)]
            fp = P(len(prog), (F * len(prog))(*[F(*p) for p in prog]))
            libc.prctl(38, 1, 0, 0, 0)
            if libc.prctl(22, 2, ctypes.cast(ctypes.pointer(fp), ctypes.c_void_p).value, 0, 0) != 0:
                sys.exit('seccomp: ' + os.strerror(ctypes.get_errno()))
        if 'uid' in opts:
            os.setgroups([])
            os.setresgid(opts['uid'], opts['uid'], opts['uid'])
            os.setresuid(opts['uid'], opts['uid'], opts['uid'])
        os.execvp(cmd[0], cmd)
        """;

    static string ReasonDll => Path.Join(AppContext.BaseDirectory, "reason.dll");

    static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : Environment.ProcessPath is { } p && Path.GetFileName(p) == "dotnet" ? p : "dotnet";

    static void SkipUnlessSimulationWorks(bool otherUid)
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess,
            "simulating other kinds of host needs root on Linux");
        Skip.IfNot(File.Exists("/usr/bin/python3"), "the host simulator needs /usr/bin/python3");
        Skip.IfNot(RuntimeInformation.OSArchitecture == Architecture.X64, "the simulator's filter is for x86_64");
        if (!otherUid) return;
        // Another uid must be able to run dotnet and read the test's output folder.
        foreach (var path in new[] { ReasonDll, Path.GetFullPath(DotnetHost) })
            for (var dir = Path.GetDirectoryName(path); dir is { Length: > 1 }; dir = Path.GetDirectoryName(dir))
                Skip.If((File.GetUnixFileMode(dir) & UnixFileMode.OtherExecute) == 0,
                    $"uid {OtherUid} cannot enter {dir}");
    }

    internal static ProcessStartInfo Reason(string? simulation, params string[] args)
    {
        var start = new ProcessStartInfo(simulation == null ? DotnetHost : "/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/tmp",
        };
        if (simulation != null)
            foreach (var a in new[] { "-I", "-c", Simulator, simulation, DotnetHost }) start.ArgumentList.Add(a);
        start.ArgumentList.Add(ReasonDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["HOME"] = "/tmp";
        start.Environment["DOTNET_CLI_HOME"] = "/tmp";
        start.Environment["DOTNET_NOLOGO"] = "1";
        return start;
    }

    internal static async Task<(int Code, string Stdout, string Stderr)> RunAsync(ProcessStartInfo start,
        TimeSpan timeout)
    {
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            var command = string.Join(' ', start.ArgumentList);
            throw new Xunit.Sdk.XunitException($"reason {command} did not finish within {timeout}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    public static TheoryData<string, string, string> Hosts => new()
    {
        { "root without CAP_SYS_ADMIN", """{"drop_sys_admin": true}""", "UserNamespaces" },
        {
            "root without CAP_SYS_ADMIN or user namespaces (a default Docker container)",
            """{"no_userns": true, "drop_sys_admin": true}""", "Landlock"
        },
        { "a non-root user", $$"""{"uid": {{OtherUid}}}""", "UserNamespaces" },
        { "a non-root user without user namespaces", $$"""{"no_userns": true, "uid": {{OtherUid}}}""", "Landlock" },
    };

    /// <summary>Issues 19.1–19.3, 19.5–19.7, 19.10 on each kind of host: `reason sandbox check` picks a real boundary
    /// and every escape attempt (parent's environment, host files, writes, network, processes, IPC, disk, memory,
    /// uid 0, signals) is contained.</summary>
    [SkippableTheory]
    [MemberData(nameof(Hosts))]
    public async Task Each_kind_of_host_gets_a_real_boundary(string host, string simulation, string expected)
    {
        SkipUnlessSimulationWorks(otherUid: simulation.Contains("uid"));
        var check = Reason(simulation, "sandbox", "check", "--json");
        var (code, stdout, stderr) = await RunAsync(check, TimeSpan.FromMinutes(3));
        output.WriteLine($"{host}: exit {code}\n{stdout}\n{stderr}");
        using var report = JsonDocument.Parse(stdout);
        var root = report.RootElement;
        Assert.Equal(expected, root.GetProperty("Isolation").GetString());
        foreach (var probe in root.GetProperty("Probes").EnumerateArray())
            Assert.True(probe.GetProperty("Contained").GetBoolean(),
                $"{probe.GetProperty("Name")}: {probe.GetProperty("Detail")}");
        Assert.Equal(10, root.GetProperty("Probes").GetArrayLength());
        Assert.True(root.GetProperty("Safe").GetBoolean());
        Assert.Equal(0, code);
        var facts = root.GetProperty("Facts");
        Assert.False(facts.GetProperty("CapSysAdmin").GetBoolean());
    }

    /// <summary>Issue 19.3: with no boundary available the code is refused, loudly, naming what is missing and the
    /// option that accepts the risk; with that option it runs, marked UNSAFE.</summary>
    [SkippableFact]
    public async Task A_host_without_any_boundary_refuses_unless_unsafe_is_chosen()
    {
        SkipUnlessSimulationWorks(otherUid: false);
        const string nothing = """{"no_userns": true, "drop_sys_admin": true, "no_landlock": true}""";
        var (code, stdout, _) = await RunAsync(Reason(nothing, "sandbox", "check"), TimeSpan.FromMinutes(2));
        output.WriteLine(stdout);
        Assert.Equal(1, code);
        Assert.Contains("REFUSED", stdout);
        Assert.Contains("CAP_SYS_ADMIN", stdout);
        Assert.Contains("user.max_user_namespaces = 0", stdout);
        Assert.Contains("Landlock is unavailable", stdout);
        Assert.Contains("isolation=unsafe", stdout);

        using var dir = TestEnvironment.NewTempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);
        await File.WriteAllTextAsync(dir.File("main.py"), "print('ran', 6 * 7)\n");
        var refused = await RunAsync(Reason(nothing, "sandbox", "run", dir.File("main.py")), TimeSpan.FromMinutes(2));
        output.WriteLine(refused.Stderr);
        Assert.Equal(2, refused.Code);
        Assert.StartsWith("error: python sandbox: this host offers no isolation", refused.Stderr);
        Assert.DoesNotContain("ran 42", refused.Stdout);
        var unsafeStart = Reason(nothing, "sandbox", "run", "--isolation", "unsafe", dir.File("main.py"));
        var unsafeRun = await RunAsync(unsafeStart, TimeSpan.FromMinutes(2));
        Assert.Equal(0, unsafeRun.Code);
        Assert.Equal("ran 42\n", unsafeRun.Stdout);
        Assert.Contains("UNSAFE", unsafeRun.Stderr);
    }

    public static TheoryData<string, string> Kills => new()
    {
        { "namespaces", "KILL" },
        { "namespaces", "TERM" },
        { "user_namespaces", "KILL" },
        { "landlock", "KILL" },
    };

    /// <summary>Issue 19.4: after kill -9 or kill -TERM of `reason`, its sandboxed programs (and their detached
    /// children) are gone within a second and its run folder and cgroup are removed.</summary>
    [SkippableTheory]
    [MemberData(nameof(Kills))]
    public async Task Sandboxed_programs_die_with_the_reason_process(string isolation, string signal)
    {
        SkipUnlessSimulationWorks(otherUid: false);
        var mode = isolation switch
        {
            "namespaces" => SandboxIsolation.Namespaces,
            "user_namespaces" => SandboxIsolation.UserNamespaces,
            _ => SandboxIsolation.Landlock,
        };
        await SandboxTests.SkipUnlessHostOffersAsync(mode);
        var tag = $"reasonsharp-orphan-{Guid.NewGuid():N}"[..32];
        using var dir = TestEnvironment.NewTempDir();
        await File.WriteAllTextAsync(dir.File("main.py"), SandboxTests.Py($$"""
            import subprocess, sys, time
            try:
                argv = [sys.executable, '-c', 'import time; time.sleep(300)', '{{tag}}']
                subprocess.Popen(argv, start_new_session=True)
            except Exception as e:
                print('no child', e)
            time.sleep(300)
            """));
        var start = Reason(null, "sandbox", "run", "--timeout", "120", "--isolation", isolation, dir.File("main.py"));
        using var reason = Process.Start(start)!;
        var programs = await SteadyProgramsAsync(reason.Id);
        Assert.True(programs.Count > 0, "the sandboxed program did not start");
        var runDirs = Directory.GetDirectories(Path.GetTempPath(), $"reasonsharp-sandbox-{reason.Id}-*");
        output.WriteLine($"program processes {string.Join(",", programs)}; run folders {string.Join(",", runDirs)}");
        Assert.Single(runDirs);
        var watch = Stopwatch.StartNew();
        Assert.Equal(0, kill(reason.Id, signal == "KILL" ? 9 : 15));
        bool Gone() => programs.All(p => !Alive(p)) && SandboxCheck.ProcessesWithArgument(tag) == 0;
        var gone = await WaitForAsync(Gone, TimeSpan.FromSeconds(10));
        output.WriteLine($"gone after {watch.Elapsed.TotalSeconds:0.00}s");
        Assert.True(gone, $"still running: {string.Join(",", programs.Where(Alive))}");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
        Assert.True(await WaitForAsync(() => !Directory.Exists(runDirs[0]), TimeSpan.FromSeconds(5)),
            $"{runDirs[0]} was left behind");
        await reason.WaitForExitAsync();
    }

    /// <summary>Issue 19.4: when the whole process group dies at once (the supervisor too), the programs still die,
    /// and the next start removes what was left: the run folder and the cgroup.</summary>
    [SkippableFact]
    public async Task Leftovers_of_a_killed_process_group_are_removed_at_the_next_start()
    {
        SkipUnlessSimulationWorks(otherUid: false);
        using var dir = TestEnvironment.NewTempDir();
        await File.WriteAllTextAsync(dir.File("main.py"), "import time\nprint('ready', flush=True)\ntime.sleep(300)\n");
        await File.WriteAllTextAsync(dir.File("quick.py"), "print(6 * 7)\n");
        var start = Reason(null, "sandbox", "run", "--timeout", "120", dir.File("main.py"));
        // setsid: a process group of its own, so kill(-pgid) hits reason and the supervisor together.
        start.ArgumentList.Insert(0, start.FileName);
        start.FileName = "setsid";
        using var launcher = Process.Start(start)!;
        int reasonPid = 0;
        Assert.True(await WaitForAsync(() => (reasonPid = FindReason(dir.File("main.py"))) > 0,
            TimeSpan.FromSeconds(30)),
            "reason did not start");
        var programs = await SteadyProgramsAsync(reasonPid);
        Assert.True(programs.Count > 0, "the program did not start");
        var cgroups = CgroupsOf(reasonPid);
        output.WriteLine($"reason {reasonPid}; programs {string.Join(",", programs)}; " +
                         $"cgroups {string.Join(",", cgroups)}");
        Assert.Equal(0, kill(-reasonPid, 9));
        Assert.True(await WaitForAsync(() => programs.All(p => !Alive(p)), TimeSpan.FromSeconds(5)),
            "programs outlived their process group");
        var leftovers = Directory.GetDirectories(Path.GetTempPath(), $"reasonsharp-sandbox-{reasonPid}-*");
        output.WriteLine($"left: {string.Join(",", leftovers.Concat(cgroups.Where(Directory.Exists)))}");

        var next = await RunAsync(Reason(null, "sandbox", "run", dir.File("quick.py")), TimeSpan.FromMinutes(2));
        Assert.Equal("42\n", next.Stdout);
        Assert.Empty(Directory.GetDirectories(Path.GetTempPath(), $"reasonsharp-sandbox-{reasonPid}-*"));
        Assert.All(cgroups, c => Assert.False(Directory.Exists(c), $"{c} was left behind"));
    }

    /// <summary>Issue 19.1: the program cannot read the environment `reason` was started with, by any path.</summary>
    [SkippableTheory]
    [InlineData("auto")]
    [InlineData("landlock")]
    public async Task The_reason_process_environment_does_not_leak(string isolation)
    {
        SkipUnlessSimulationWorks(otherUid: false);
        const string secret = "s3cr3t-value-that-must-not-leak-7f1c";
        using var dir = TestEnvironment.NewTempDir();
        await File.WriteAllTextAsync(dir.File("main.py"), SandboxTests.Py("""
            import os
            def parent(pid):
                try:
                    return int(open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[1])
                except Exception:
                    return os.getppid() if pid == os.getpid() else 0
            seen = set()
            pid = os.getpid()
            for _ in range(10):
                pid = parent(pid)
                if pid <= 0 or pid in seen:
                    break
                seen.add(pid)
                for path in ('/proc/%d/environ' % pid, '//proc/%d/environ' % pid, '/proc/self/../%d/environ' % pid):
                    try:
                        print(path, open(path, 'rb').read())
                    except Exception as e:
                        print(path, 'denied', type(e).__name__)
            print(dict(os.environ))
            """));
        var start = Reason(null, "sandbox", "run", "--isolation", isolation, dir.File("main.py"));
        start.Environment["REASONSHARP_TEST_SECRET"] = secret;
        var (code, stdout, stderr) = await RunAsync(start, TimeSpan.FromMinutes(2));
        output.WriteLine(stdout + stderr);
        Assert.Equal(0, code);
        Assert.DoesNotContain(secret, stdout + stderr);
        Assert.DoesNotContain("REASONSHARP_TEST_SECRET", stdout);
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    static bool Alive(int pid)
    {
        try { return !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z "); }
        catch (IOException) { return false; }
    }

    static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (condition()) return true;
            await Task.Delay(50);
        }
        return condition();
    }

    /// <summary>Program processes under <paramref name="root"/> that run for a second (the isolation probe's short
    /// `print(6 * 7)` runs do not count).</summary>
    static async Task<List<int>> SteadyProgramsAsync(int root)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(40))
        {
            var first = ProgramProcesses(root);
            await Task.Delay(1000);
            var steady = ProgramProcesses(root).Intersect(first).ToList();
            if (steady.Count > 0) return steady;
        }
        return [];
    }

    /// <summary>Descendants of <paramref name="root"/> running the program (`python -I -B main.py`).</summary>
    static List<int> ProgramProcesses(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Join(dir, "stat"));
                parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
            }
            catch (IOException) { }
        }
        bool Under(int pid)
        {
            for (var i = 0; i < 64 && parents.TryGetValue(pid, out var parent); i++, pid = parent)
                if (parent == root) return true;
            return false;
        }
        return parents.Keys.Where(p => Under(p) && CommandLine(p).EndsWith("main.py", StringComparison.Ordinal))
            .ToList();
    }

    static string CommandLine(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim(); }
        catch (IOException) { return ""; }
    }

    static int FindReason(string argument)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            var line = CommandLine(pid);
            if (line.Contains("reason.dll sandbox run") && line.EndsWith(argument, StringComparison.Ordinal)
                && !line.StartsWith("setsid", StringComparison.Ordinal))
                return pid;
        }
        return 0;
    }

    /// <summary>The sandbox cgroups named after <paramref name="owner"/> (its pid and start time).</summary>
    static List<string> CgroupsOf(int owner) => (SandboxCgroups.Detect(out _)?.Bases ?? [])
        .SelectMany(b => Directory.EnumerateDirectories(b, $"{owner}-*")).ToList();
}
