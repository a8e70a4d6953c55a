using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Builtins;
using ReasonSharp.Rewards.Sandbox;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Rewards;

/// <summary>Real hostile programs against the Python sandbox in each isolation mode this host offers, with small
/// limits so each test runs in seconds. Hosts of other kinds are simulated in <see cref="SandboxHostTests"/>.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class SandboxTests(ITestOutputHelper output)
{
    internal static readonly SandboxLimits Small = new()
    {
        WallTime = TimeSpan.FromSeconds(4),
        CpuSeconds = 2,
        MemoryBytes = 128L * 1024 * 1024,
        MaxProcesses = 16,
        MaxOutputBytes = 64 * 1024,
        MaxDiskBytes = 8L * 1024 * 1024,
        MaxFileBytes = 4L * 1024 * 1024,
    };

    public static TheoryData<SandboxIsolation> Modes =>
        [SandboxIsolation.Namespaces, SandboxIsolation.UserNamespaces, SandboxIsolation.Landlock];

    static PythonSandbox Sandbox(SandboxIsolation? isolation, int concurrency = 8, int firstUid = 61000) =>
        new(new PythonSandboxOptions
        {
            Limits = Small,
            MaxConcurrency = concurrency,
            Isolation = isolation,
            FirstUserId = firstUid,
        });

    /// <summary>Skips only when the host's facts rule the mode out (not root, no Landlock …); a mode that should work
    /// here and does not fails the test.</summary>
    internal static async Task SkipUnlessHostOffersAsync(SandboxIsolation mode)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the Python sandbox needs Linux");
        var facts = await new PythonSandbox().GetHostFactsAsync();
        var obstacle = facts.Obstacle(mode);
        Skip.If(obstacle != null, $"{mode} is not offered by this host: {obstacle}");
    }

    [SkippableTheory]
    [MemberData(nameof(Modes))]
    public async Task Hostile_programs_are_contained_and_the_machine_is_unharmed(SandboxIsolation mode)
    {
        await SkipUnlessHostOffersAsync(mode);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var tag = Guid.NewGuid().ToString("N")[..12];
        var marker = $"reasonsharp-test-{tag}";
        var escapes = new[] { "/tmp", "/var/tmp", "/dev/shm" }.Select(d => $"{d}/reasonsharp-escape-{tag}").ToArray();
        var hostTemp = Path.GetTempPath().TrimEnd('/');
        var canary = Path.Join(hostTemp, $"reasonsharp-canary-{tag}.txt");
        await File.WriteAllTextAsync(canary, $"secret-content-{tag}");
        File.SetUnixFileMode(canary, (UnixFileMode)0b110_100_100);
        var readme = Path.Join(TestEnvironment.RepoRoot, "README.md");
        var readmeLine = File.ReadLines(readme).First(l => l.Trim().Length > 20).Trim();
        var shared = Path.GetFullPath(Path.Join(TestEnvironment.RepoRoot, "..", "shared"));
        var shmKey = 0x52540000 + Random.Shared.Next(0x10000);
        var hostile = new Dictionary<string, string>
        {
            ["infinite loop"] = "while True:\n    pass\n",
            ["fork bomb"] = Py("""
                import os, time
                while True:
                    try:
                        os.fork()
                    except OSError:
                        time.sleep(0.01)
                """),
            ["allocate 10 GB"] = "x = bytearray(10 * 1024 ** 3)\nprint(len(x))\n",
            ["write outside"] = Py($$"""
                import os
                for p in {{Quote(escapes)}} + ['../escape-{{tag}}']:
                    try:
                        open(p, 'w').write('x')
                        print('wrote', p)
                    except Exception as e:
                        print('blocked', p, e)
                for d in ['/tmp', '..', '/var/tmp']:
                    try:
                        fd = os.open(d, os.O_RDONLY)
                        os.close(os.open('reasonsharp-escape-{{tag}}', os.O_CREAT | os.O_WRONLY, dir_fd=fd))
                        print('created in', d)
                    except Exception as e:
                        print('blocked dir_fd', d, e)
                try:
                    os.rename('main.py', '/tmp/reasonsharp-renamed-{{tag}}')
                except Exception as e:
                    print('blocked rename', e)
                """),
            ["open a socket"] = Py($$"""
                import socket
                for host, port in [('127.0.0.1', {{port}}), ('1.1.1.1', 53)]:
                    try:
                        socket.create_connection((host, port), timeout=1)
                        print('connected', host)
                    except Exception as e:
                        print('no network', e)
                """),
            ["print 1 GB"] =
                "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n",
            ["start processes"] = Py($$"""
                import os, subprocess, sys
                connect = "import socket, time\ntry:\n    socket.create_connection(('127.0.0.1', {{port}}), 1)\n"
                connect += "except Exception:\n    pass\ntime.sleep(300)"
                for how in range(4):
                    try:
                        if how == 0:
                            subprocess.Popen(['setsid', sys.executable, '-c', connect, '{{marker}}'])
                        elif how == 1:
                            os.posix_spawn(sys.executable, [sys.executable, '-c', connect, '{{marker}}'], {})
                        elif how == 2:
                            shell = 'echo pwned > /tmp/reasonsharp-pwned-{{tag}}'
                            print('status', os.system(shell + '; ' + shell.replace('/tmp/', '/var/tmp/')))
                        else:
                            if os.fork() == 0:
                                os.setsid()
                                os.execv(sys.executable, [sys.executable, '-c', connect, '{{marker}}'])
                        print('started', how)
                    except Exception as e:
                        print('refused', how, type(e).__name__)
                """),
            ["read secrets"] = Py("""
                import os
                pp = os.getppid()
                pids = {pp, 1}
                try:
                    pids.update(int(d) for d in os.listdir('/proc') if d.isdigit())
                except Exception:
                    pass
                pids.discard(os.getpid())
                readable = []
                for pid in sorted(pids):
                    for path in ('/proc/%d/environ' % pid, '//proc/%d/environ' % pid, '/proc/self/../%d/environ' % pid):
                        try:
                            print(path, open(path, 'rb').read())
                            readable.append(path)
                        except Exception:
                            pass
                print('READABLE', len(readable))
                print('KEYS', ','.join(sorted(os.environ)))
                """),
            ["read host files"] = Py($$"""
                import os
                for p in {{Quote([readme, canary, TestEnvironment.RepoRoot, shared])}}:
                    try:
                        if os.path.isdir(p):
                            print('LISTED', p, os.listdir(p))
                        else:
                            print('READ', p, open(p).read())
                    except Exception as e:
                        print('denied', p, type(e).__name__)
                """),
            ["fill the disk"] = Py("""
                total = 0
                try:
                    for i in range(64):
                        with open('fill%d' % i, 'wb') as f:
                            for _ in range(4):
                                f.write(b'x' * (1 << 20))
                                total += 1 << 20
                except Exception as e:
                    print('stopped', type(e).__name__)
                print('WROTE', total)
                """),
            ["SysV shared memory"] = Py($$"""
                import ctypes
                libc = ctypes.CDLL(None, use_errno=True)
                for i in range(3):
                    print('shmget', libc.shmget({{shmKey}} + i, 4 << 20, 0o1000 | 0o666), ctypes.get_errno())
                """),
            ["memory in forks"] = Py("""
                import os
                kids = []
                for i in range(5):
                    try:
                        pid = os.fork()
                    except OSError as e:
                        print('NO-FORK', e)
                        break
                    if pid == 0:
                        try:
                            b = bytearray(100 << 20)
                        except MemoryError:
                            os._exit(3)
                        os._exit(0)
                    kids.append(pid)
                print('FORKED', len(kids), [os.waitpid(k, 0)[1] for k in kids])
                """),
            ["signals and identity"] = Py("""
                import os
                try:
                    os.kill(-1, 0)
                    print('CAN-SIGNAL')
                except Exception as e:
                    print('NO-SIGNAL', type(e).__name__)
                print('UID', os.getuid())
                """),
        };
        var sandbox = Sandbox(mode, concurrency: 6);
        output.WriteLine(await sandbox.DescribeIsolationAsync());
        Assert.Equal(mode, await sandbox.GetIsolationAsync());
        var watch = Stopwatch.StartNew();
        var names = hostile.Keys.ToList();
        var results = await Task.WhenAll(names.Select(n => sandbox.RunAsync(hostile[n], "3\n")));
        watch.Stop();
        var byName = names.Zip(results).ToDictionary(p => p.First, p => p.Second);
        foreach (var (name, r) in byName)
            output.WriteLine($"{name}: exit {r.ExitCode}, timed out {r.TimedOut}, output cap " +
                             $"{r.OutputLimitExceeded}, peak {r.PeakMemoryBytes}, {r.Elapsed.TotalSeconds:0.00}s, " +
                             $"stdout {r.Stdout.Length} chars: {Short(r.Stdout)} | stderr: {Short(r.Stderr)}");
        output.WriteLine($"all {names.Count} in {watch.Elapsed.TotalSeconds:0.0}s");
        try
        {
            Assert.False(byName["infinite loop"].Succeeded);
            Assert.True(byName["fork bomb"].TimedOut);
            Assert.Contains("MemoryError", byName["allocate 10 GB"].Stderr);
            if (mode == SandboxIsolation.Landlock) Assert.DoesNotContain("wrote", byName["write outside"].Stdout);
            Assert.Equal(2, CountOccurrences(byName["open a socket"].Stdout, "no network"));
            Assert.True(byName["print 1 GB"].OutputLimitExceeded);
            var flood = byName["print 1 GB"];
            Assert.True(flood.Stdout.Length + flood.Stderr.Length <= Small.MaxOutputBytes);
            var secrets = byName["read secrets"];
            Assert.Contains("READABLE 0", secrets.Stdout);
            Assert.DoesNotContain(TestEnvironment.RepoRoot, secrets.Stdout);
            var keys = Field(secrets.Stdout, "KEYS").Split(',', StringSplitOptions.RemoveEmptyEntries);
            var allowed = new HashSet<string> { "PATH", "HOME", "LANG", "PYTHONIOENCODING", "TMPDIR", "LC_CTYPE" };
            Assert.Subset(allowed, keys.ToHashSet());
            var files = byName["read host files"];
            Assert.DoesNotContain(readmeLine, files.Stdout);
            Assert.DoesNotContain($"secret-content-{tag}", files.Stdout);
            Assert.DoesNotContain("LISTED", files.Stdout);
            var wrote = long.Parse(Field(byName["fill the disk"].Stdout, "WROTE"), CultureInfo.InvariantCulture);
            Assert.InRange(wrote, 0, Small.MaxDiskBytes);
            var forks = byName["memory in forks"];
            if (!forks.Stdout.Contains("FORKED 0"))
                Assert.True(forks.PeakMemoryBytes is { } peak && peak <= Small.MemoryBytes,
                    $"forks used {forks.PeakMemoryBytes} of {Small.MemoryBytes}");
            Assert.Contains("NO-SIGNAL", byName["signals and identity"].Stdout);
            Assert.DoesNotContain("UID 0\n", byName["signals and identity"].Stdout);

            // The machine is unharmed: no file outside the sandbox, nobody connected, no process or IPC segment left.
            string[] created = [$"/tmp/reasonsharp-pwned-{tag}", $"/var/tmp/reasonsharp-pwned-{tag}",
                $"/tmp/reasonsharp-renamed-{tag}", $"/tmp/reasonsharp-escape-{tag}",
                $"/var/tmp/reasonsharp-escape-{tag}"];
            foreach (var path in escapes.Concat(created))
                Assert.False(File.Exists(path), $"{path} was created on the host");
            Assert.False(listener.Pending(), "the sandbox reached a port on the host's loopback");
            Assert.Equal(0, SandboxCheck.ProcessesWithArgument(marker));
            Assert.Equal(0, SandboxCheck.SharedMemorySegments(shmKey, 3));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(40), $"containment took {watch.Elapsed}");
        }
        finally
        {
            File.Delete(canary);
            foreach (var path in escapes) if (File.Exists(path)) File.Delete(path);
        }
    }

    internal static string Py(string text) => text.ReplaceLineEndings("\n") + "\n";

    static string Quote(IEnumerable<string> items) =>
        "[" + string.Join(", ", items.Select(i => "'" + i.Replace("'", "\\'") + "'")) + "]";

    static int CountOccurrences(string text, string word) =>
        (text.Length - text.Replace(word, "").Length) / word.Length;

    static string Field(string output, string key)
    {
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(key + " ", StringComparison.Ordinal))
                   ?? throw new Xunit.Sdk.XunitException($"no {key} in: {output}");
        return line[(key.Length + 1)..].Split(' ')[0];
    }

    internal static string Short(string text)
    {
        var oneLine = text.Replace('\n', ' ');
        return oneLine.Length <= 200 ? oneLine : oneLine[..197] + "...";
    }

    // user_namespaces runs the same programs as namespaces; the hostile test and the simulated hosts cover it.
    [SkippableTheory]
    [InlineData(SandboxIsolation.Namespaces)]
    [InlineData(SandboxIsolation.Landlock)]
    public async Task Code_reward_scores_correct_partial_and_hostile_solutions(SandboxIsolation mode)
    {
        await SkipUnlessHostOffersAsync(mode);
        var reward = new CodeReward("code", new RewardOptions(new Dictionary<string, string>
        {
            ["timeout_seconds"] = "2",
            ["memory_mb"] = "256",
            ["max_output_kb"] = "64",
            ["concurrency"] = "8",
            ["isolation"] = PythonSandbox.ModeName(mode),
        }), binary: false);
        var cases = new[] { ("3", "6"), ("5", "10"), ("0", "0") }
            .Select(c => new { input = c.Item1 + "\n", output = c.Item2 + "\n" }).ToArray();
        var tests = new { verification_info = new { language = "python", test_cases = cases } };
        RewardInput Solution(string code) => RewardInput.Create($"Here you go:\n```python\n{code}```\nDone.", tests);
        var batch = new[]
        {
            Solution("n = int(input())\nprint(n * 2)\n"),
            Solution("n = int(input())\nprint(n * 2 if n != 5 else 11)\n"),
            Solution("while True:\n    pass\n"),
            Solution("import os\nwhile True:\n    os.fork()\n"),
            Solution("import os\nos.system('echo 6')\nprint(6)\n"),
            RewardInput.Create("no code at all", tests),
            RewardInput.Create("```python\nprint(1)\n```", new { unrelated = 1 }),
        };
        var scores = await reward.ScoreAsync(batch);
        output.WriteLine(string.Join(", ",
            scores.Select(s => s?.ToString("0.###", CultureInfo.InvariantCulture) ?? "null")));
        var metadata = await reward.GetMetadataAsync();
        output.WriteLine(metadata["python_isolation"]);
        Assert.Equal(1f, scores[0]);
        Assert.Equal(2f / 3, scores[1]!.Value, 5);
        Assert.Equal(0f, scores[2]);
        Assert.Equal(0f, scores[3]);
        Assert.True(scores[4] <= 1f / 3 + 1e-5, $"os.system program scored {scores[4]}");
        Assert.Equal(0f, scores[5]);
        Assert.Null(scores[6]);
        Assert.StartsWith(mode switch
        {
            SandboxIsolation.Namespaces => "namespaces",
            SandboxIsolation.UserNamespaces => "user namespaces",
            _ => "landlock",
        }, metadata["python_isolation"]);
        var binary = new CodeReward("binary_code", new RewardOptions(new Dictionary<string, string>
        {
            ["timeout_seconds"] = "2",
            ["isolation"] = PythonSandbox.ModeName(mode),
        }), binary: true);
        Assert.Equal([1f, 0f], await binary.ScoreAsync(batch[..2]));
    }

    [SkippableFact]
    public async Task Runs_in_parallel_up_to_the_configured_concurrency()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the Python sandbox needs Linux");
        var sandbox = Sandbox(null, concurrency: 3);
        const string code = "import time\nstart = time.time()\ntime.sleep(0.4)\nprint(start, time.time())\n";
        var results = await Task.WhenAll(Enumerable.Range(0, 9).Select(_ => sandbox.RunAsync(code)));
        Assert.All(results, r => Assert.True(r.Succeeded, r.Stderr));
        var spans = results
            .Select(r => r.Stdout.Split(' ').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray())
            .ToList();
        var maxOverlap = spans.Max(s => spans.Count(o => o[0] <= s[0] && s[0] < o[1]));
        output.WriteLine($"max programs running at once: {maxOverlap}");
        Assert.InRange(maxOverlap, 2, 3);
    }

    /// <summary>Issue 19.8: runs get distinct uids (also across processes, through lock files) and their own process
    /// budget, so one program using every thread it may does not starve another.</summary>
    [SkippableFact]
    public async Task Concurrent_runs_have_their_own_identity_and_process_budget()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "distinct uids per run need root");
        const int firstUid = 62400;
        // Another process holds the first uid: this process must skip it.
        Directory.CreateDirectory("/run/reasonsharp-sandbox", (UnixFileMode)0b111_000_000);
        using var held = new FileStream($"/run/reasonsharp-sandbox/uid-{firstUid}.lock", FileMode.OpenOrCreate,
            FileAccess.ReadWrite, FileShare.None);
        var hog = Sandbox(null, firstUid: firstUid);
        var other = Sandbox(null, firstUid: firstUid);
        var greedy = Py("""
            import threading, time, os
            event = threading.Event()
            n = 0
            try:
                while True:
                    threading.Thread(target=event.wait, daemon=True).start()
                    n += 1
            except Exception as e:
                print('threads', n, type(e).__name__)
            print('UID', os.getuid(), flush=True)
            time.sleep(1.5)
            """);
        // Each run holds its uid for 1.5 s more, so the three overlap even when a busy host starts them apart; a
        // uid is only unique among runs alive at the same time (a finished run's uid is free again).
        var correct = Py("""
            import threading, os, time
            out = []
            ts = [threading.Thread(target=out.append, args=(i,)) for i in range(8)]
            for t in ts: t.start()
            for t in ts: t.join()
            print('UID', os.getuid())
            print(sum(out), flush=True)
            time.sleep(1.5)
            """);
        var greedyRun = hog.RunAsync(greedy);
        await Task.Delay(700);
        var correctRuns = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => other.RunAsync(correct)));
        var greedyResult = await greedyRun;
        output.WriteLine($"greedy: {Short(greedyResult.Stdout)} {Short(greedyResult.Stderr)}");
        foreach (var r in correctRuns) output.WriteLine($"correct: {Short(r.Stdout)} {Short(r.Stderr)}");
        Assert.All(correctRuns, r => Assert.True(r.Succeeded && r.Stdout.Contains("\n28\n"), r.Stderr));
        var uids = correctRuns.Append(greedyResult).Select(r => Field(r.Stdout, "UID")).ToList();
        Assert.Equal(uids.Count, uids.Distinct().Count());
        Assert.DoesNotContain(firstUid.ToString(CultureInfo.InvariantCulture), uids);
    }

    [Fact]
    public async Task A_missing_python_is_reported_once_and_clearly()
    {
        var sandbox = new PythonSandbox(new PythonSandboxOptions { PythonExecutable = "python3-not-installed-here" });
        var first = await Assert.ThrowsAsync<ReasonSharpException>(() => sandbox.RunAsync("print(1)"));
        Assert.StartsWith(OperatingSystem.IsLinux()
            ? "Python is not installed: 'python3-not-installed-here' was not found"
            : "the Python sandbox needs Linux", first.Message);
        var watch = Stopwatch.StartNew();
        var again = new PythonSandbox(new PythonSandboxOptions { PythonExecutable = "python3-not-installed-here" });
        var second = await Assert.ThrowsAsync<ReasonSharpException>(() => again.RunAsync("print(1)"));
        Assert.Same(first, second);
        Assert.True(watch.ElapsedMilliseconds < 1000);
    }

    /// <summary>Issue 19.17: bad limits are errors naming the option and the range, at construction.</summary>
    [Theory]
    [InlineData("timeout_seconds", "-5", "option 'timeout_seconds': -5 is out of range")]
    [InlineData("timeout_seconds", "0", "option 'timeout_seconds': 0 is out of range")]
    [InlineData("memory_mb", "0", "option 'memory_mb': 0 is out of range")]
    [InlineData("memory_mb", "8", "memory: 8 MB is out of range; expected 32 MB to 1 TB")]
    [InlineData("max_output_kb", "-1", "option 'max_output_kb': -1 is out of range")]
    [InlineData("disk_mb", "0", "option 'disk_mb': 0 is out of range")]
    [InlineData("max_processes", "0", "option 'max_processes': 0 is out of range")]
    [InlineData("concurrency", "-2", "option 'concurrency': -2 is out of range")]
    [InlineData("timeout_seconds", "abc", "option 'timeout_seconds': expected a number, got 'abc'")]
    [InlineData("isolation", "process_limits", "'process_limits' was removed")]
    [InlineData("isolation", "weak", "isolation: 'weak' is not a mode; expected auto, namespaces, user_namespaces")]
    public void Code_reward_options_are_validated_with_clear_errors(string key, string value, string expected)
    {
        var e = Assert.Throws<ReasonSharpException>(() =>
            new CodeReward("code", new RewardOptions(new Dictionary<string, string> { [key] = value }), binary: false));
        Assert.Contains(expected, e.Message);
        var negative = new SandboxLimits { WallTime = TimeSpan.FromSeconds(-5) };
        Assert.Throws<ReasonSharpException>(() => negative.Validate("test"));
        Assert.Throws<ReasonSharpException>(() => new JavaScriptSandbox(new SandboxLimits { MaxOutputBytes = -1024 }));
        var noMemory = new PythonSandboxOptions { Limits = new SandboxLimits { MemoryBytes = 0 } };
        Assert.Throws<ReasonSharpException>(() => new PythonSandbox(noMemory));
    }
}
