using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Builtins;
using ReasonSharp.Rewards.Sandbox;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Rewards;

/// <summary>Real hostile programs against the sandboxes, with small limits so the whole class runs in seconds.</summary>
public class SandboxTests(ITestOutputHelper output)
{
    static readonly SandboxLimits Small = new()
    {
        WallTime = TimeSpan.FromSeconds(3),
        CpuSeconds = 1,
        MemoryBytes = 256L * 1024 * 1024,
        MaxProcesses = 16,
        MaxOutputBytes = 64 * 1024,
    };

    const string Secret = "s3cr3t-value-that-must-not-leak-7f1c";
    const int FirstUserId = 61200;

    static PythonSandbox Sandbox(SandboxIsolation isolation, int concurrency = 8) =>
        new(new PythonSandboxOptions { Limits = Small, MaxConcurrency = concurrency, Isolation = isolation, FirstUserId = FirstUserId });

    public static TheoryData<SandboxIsolation> Isolations => [SandboxIsolation.Namespaces, SandboxIsolation.ProcessLimits];

    static void SkipUnlessAvailable(SandboxIsolation isolation)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the Python sandbox tests need Linux");
        if (isolation == SandboxIsolation.Namespaces)
            Skip.IfNot(Environment.IsPrivilegedProcess && File.Exists("/usr/bin/unshare"), "namespace isolation needs root and util-linux");
    }

    [SkippableTheory]
    [MemberData(nameof(Isolations))]
    public async Task Hostile_programs_are_contained_and_the_machine_is_unharmed(SandboxIsolation isolation)
    {
        SkipUnlessAvailable(isolation);
        Environment.SetEnvironmentVariable("REASONSHARP_TEST_SECRET", Secret);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var tag = Guid.NewGuid().ToString("N")[..12];
        string[] escapes = [$"/tmp/reasonsharp-escape-{tag}", $"/var/tmp/reasonsharp-escape-{tag}", $"/dev/shm/reasonsharp-escape-{tag}"];
        var hostile = new Dictionary<string, string>
        {
            ["infinite loop"] = "while True:\n    pass\n",
            ["fork bomb"] = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n",
            ["allocate 10 GB"] = "x = bytearray(10 * 1024 ** 3)\nprint(len(x))\n",
            ["write outside"] = string.Join("", escapes.Select(p => $"try:\n    open('{p}', 'w').write('x')\n    print('wrote {p}')\nexcept Exception as e:\n    print('blocked', e)\n"))
                                + $"try:\n    open('../escape-{tag}', 'w').write('x')\nexcept Exception as e:\n    print('blocked', e)\n",
            ["open a socket"] = $"import socket\nfor host, port in [('127.0.0.1', {port}), ('1.1.1.1', 53)]:\n    try:\n        socket.create_connection((host, port), timeout=1)\n        print('connected', host)\n    except Exception as e:\n        print('no network', e)\n",
            ["print 1 GB"] = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n",
            ["os.system"] = $"import os\nprint('status', os.system('echo pwned > /tmp/reasonsharp-pwned-{tag}; echo pwned > /var/tmp/reasonsharp-pwned-{tag}'))\n",
            ["read secrets"] = "import os, glob\nprint(dict(os.environ))\nfor p in glob.glob('/proc/*/environ'):\n    try:\n        print(p, open(p, 'rb').read())\n    except Exception as e:\n        print(p, 'blocked', e)\n",
        };
        var sandbox = Sandbox(isolation);
        output.WriteLine(await sandbox.DescribeIsolationAsync());
        Assert.Equal(isolation, await sandbox.GetIsolationAsync());
        var watch = Stopwatch.StartNew();
        var names = hostile.Keys.ToList();
        var results = await Task.WhenAll(names.Select(n => sandbox.RunAsync(hostile[n], "3\n")));
        watch.Stop();
        var byName = names.Zip(results).ToDictionary(p => p.First, p => p.Second);
        foreach (var (name, r) in byName)
            output.WriteLine($"{name}: exit {r.ExitCode}, timed out {r.TimedOut}, output cap {r.OutputLimitExceeded}, {r.Elapsed.TotalSeconds:0.00}s, " +
                             $"stdout {r.Stdout.Length} chars: {Short(r.Stdout)} | stderr: {Short(r.Stderr)}");
        output.WriteLine($"all {names.Count} in {watch.Elapsed.TotalSeconds:0.0}s");

        Assert.False(byName["infinite loop"].Succeeded);
        Assert.False(byName["fork bomb"].Succeeded);
        Assert.True(byName["fork bomb"].TimedOut);
        Assert.False(byName["allocate 10 GB"].Succeeded);
        Assert.Contains("MemoryError", byName["allocate 10 GB"].Stderr);
        // In namespace mode a write to /tmp, /var/tmp or /dev/shm lands in the run's private tmpfs; the host check below proves it.
        if (isolation == SandboxIsolation.ProcessLimits) Assert.DoesNotContain("wrote", byName["write outside"].Stdout);
        Assert.DoesNotContain("connected", byName["open a socket"].Stdout);
        Assert.Equal(2, CountOccurrences(byName["open a socket"].Stdout, "no network"));
        Assert.True(byName["print 1 GB"].OutputLimitExceeded);
        Assert.True(byName["print 1 GB"].Stdout.Length + byName["print 1 GB"].Stderr.Length <= Small.MaxOutputBytes);
        Assert.DoesNotContain(Secret, byName["read secrets"].Stdout + byName["read secrets"].Stderr);
        Assert.DoesNotContain("REASONSHARP_TEST_SECRET", byName["read secrets"].Stdout);
        Assert.DoesNotContain(Environment.CurrentDirectory, byName["read secrets"].Stdout);

        // The machine is unharmed: no file outside the sandbox, nobody connected, no sandbox process left, processes still start.
        foreach (var path in escapes.Concat([$"/tmp/reasonsharp-pwned-{tag}", $"/var/tmp/reasonsharp-pwned-{tag}"]))
            Assert.False(File.Exists(path), $"{path} was created on the host");
        Assert.False(listener.Pending(), "the sandbox reached a port on the host's loopback");
        Assert.Equal(0, await SandboxProcessesLeftAsync());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"containment took {watch.Elapsed}");
        using var probe = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await probe.WaitForExitAsync();
        Assert.Equal(0, probe.ExitCode);
    }

    static int CountOccurrences(string text, string word) => (text.Length - text.Replace(word, "").Length) / word.Length;

    static string Short(string text)
    {
        var oneLine = text.Replace('\n', ' ');
        return oneLine.Length <= 160 ? oneLine : oneLine[..157] + "...";
    }

    /// <summary>Processes whose real uid is one of the sandbox users; waits briefly for the kernel to reap a killed namespace.</summary>
    static async Task<int> SandboxProcessesLeftAsync()
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
                    var uidLine = File.ReadLines(Path.Combine(dir, "status")).FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
                    var uid = int.Parse(uidLine!.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                    if (uid is >= FirstUserId and < FirstUserId + 64) count++;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or NullReferenceException or FormatException) { }
            }
            if (count == 0) return 0;
            await Task.Delay(50);
        }
        return count;
    }

    [SkippableTheory]
    [MemberData(nameof(Isolations))]
    public async Task Code_reward_scores_correct_partial_and_hostile_solutions(SandboxIsolation isolation)
    {
        SkipUnlessAvailable(isolation);
        var reward = new CodeReward("code", new RewardOptions(new Dictionary<string, string>
        {
            ["timeout_seconds"] = "2", ["memory_mb"] = "256", ["max_output_kb"] = "64", ["concurrency"] = "8",
            ["isolation"] = isolation == SandboxIsolation.Namespaces ? "namespaces" : "process_limits",
        }), binary: false);
        var tests = new { verification_info = new { language = "python", test_cases = new[] { new { input = "3\n", output = "6\n" }, new { input = "5\n", output = "10\n" }, new { input = "0\n", output = "0\n" } } } };
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
        output.WriteLine(string.Join(", ", scores.Select(s => s?.ToString("0.###", CultureInfo.InvariantCulture) ?? "null")));
        var metadata = await reward.GetMetadataAsync();
        output.WriteLine(metadata["python_isolation"]);
        Assert.Equal(1f, scores[0]);
        Assert.Equal(2f / 3, scores[1]!.Value, 5);
        Assert.Equal(0f, scores[2]);
        Assert.Equal(0f, scores[3]);
        Assert.True(scores[4] <= 1f / 3 + 1e-5, $"os.system program scored {scores[4]}");
        Assert.Equal(0f, scores[5]);
        Assert.Null(scores[6]);
        Assert.StartsWith(isolation == SandboxIsolation.Namespaces ? "namespaces" : "process-limits", metadata["python_isolation"]);
        var binary = new CodeReward("binary_code", new RewardOptions(new Dictionary<string, string> { ["timeout_seconds"] = "2" }), binary: true);
        Assert.Equal([1f, 0f], await binary.ScoreAsync(batch[..2]));
    }

    [SkippableFact]
    public async Task Runs_in_parallel_up_to_the_configured_concurrency()
    {
        SkipUnlessAvailable(SandboxIsolation.ProcessLimits);
        var sandbox = new PythonSandbox(new PythonSandboxOptions { Limits = Small, MaxConcurrency = 3, Isolation = SandboxIsolation.ProcessLimits });
        const string code = "import time\nstart = time.time()\ntime.sleep(0.4)\nprint(start, time.time())\n";
        var results = await Task.WhenAll(Enumerable.Range(0, 9).Select(_ => sandbox.RunAsync(code)));
        var spans = results.Select(r => r.Stdout.Split(' ').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray()).ToList();
        var maxOverlap = spans.Max(s => spans.Count(o => o[0] <= s[0] && s[0] < o[1]));
        output.WriteLine($"max programs running at once: {maxOverlap}");
        Assert.All(results, r => Assert.True(r.Succeeded, r.Stderr));
        Assert.InRange(maxOverlap, 2, 3);
    }

    [Fact]
    public async Task A_missing_python_is_reported_once_and_clearly()
    {
        var sandbox = new PythonSandbox(new PythonSandboxOptions { PythonExecutable = "python3-not-installed-here" });
        var first = await Assert.ThrowsAsync<ReasonSharpException>(() => sandbox.RunAsync("print(1)"));
        Assert.StartsWith("Python is not installed: 'python3-not-installed-here' was not found", first.Message);
        var watch = Stopwatch.StartNew();
        var second = await Assert.ThrowsAsync<ReasonSharpException>(() => new PythonSandbox(new PythonSandboxOptions { PythonExecutable = "python3-not-installed-here" }).RunAsync("print(1)"));
        Assert.Same(first, second);
        Assert.True(watch.ElapsedMilliseconds < 1000);
    }

    [Fact]
    public async Task JavaScript_runs_in_jint_with_limits_and_no_host_access()
    {
        var js = new JavaScriptSandbox(new SandboxLimits { WallTime = TimeSpan.FromSeconds(1), MemoryBytes = 32L * 1024 * 1024, MaxOutputBytes = 16 * 1024, MaxRecursion = 64 });
        var echo = await js.RunAsync("var n = parseInt(readline()); console.log(n * 2); print('sum', 1 + 2);", "21\n");
        Assert.True(echo.Succeeded, echo.Stderr);
        Assert.Equal("42\nsum 3\n", echo.Stdout);

        var watch = Stopwatch.StartNew();
        var loop = await js.RunAsync("while (true) {}");
        Assert.True(loop.TimedOut);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        var memory = await js.RunAsync("var a = []; while (true) a.push(new Array(100000).fill(1.5));");
        Assert.Contains("memory limit", memory.Stderr);
        var recursion = await js.RunAsync("function f(n) { return f(n + 1) + 1; } f(0);");
        Assert.Contains("recursion", recursion.Stderr);
        var flood = await js.RunAsync("while (true) print('x'.repeat(1000));");
        Assert.True(flood.OutputLimitExceeded);
        Assert.True(flood.Stdout.Length <= 16 * 1024);
        var host = await js.RunAsync("print(typeof System, typeof require, typeof process, typeof importNamespace);");
        Assert.Equal("undefined undefined undefined undefined\n", host.Stdout);
        foreach (var r in new[] { loop, memory, recursion, flood }) Assert.False(r.Succeeded);
    }

    [Fact]
    public async Task Code_reward_runs_javascript_solutions()
    {
        var reward = new CodeReward("code", new RewardOptions(new Dictionary<string, string> { ["timeout_seconds"] = "1" }), binary: false);
        var tests = new { language = "javascript", test_cases = new[] { new { input = "2", output = "4" }, new { input = "7", output = "14" } } };
        var scores = await reward.ScoreAsync(
        [
            RewardInput.Create("```javascript\nprint(parseInt(input) * 2)\n```", tests),
            RewardInput.Create("```js\nwhile(true){}\n```", tests),
        ]);
        Assert.Equal([1f, 0f], scores);
    }
}
