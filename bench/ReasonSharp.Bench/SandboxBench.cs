using System.Diagnostics;
using System.Globalization;
using ReasonSharp.Rewards.Sandbox;

namespace ReasonSharp.Bench;

/// <summary>
/// What one sandboxed Python run costs in each isolation mode this host offers: wall time per run one at a time and
/// N at once, and CPU per run of the supervisor and program processes (RUSAGE_CHILDREN), for `print(1)`.
/// </summary>
public static class SandboxBench
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var runs = int.Parse(Arg("--runs", "20"), CultureInfo.InvariantCulture);
        var parallel = int.Parse(Arg("--parallel", "4"), CultureInfo.InvariantCulture);
        Console.WriteLine($"{runs} runs of print(1) per mode; load average {LoadAverage()}");
        var modes = new[] { SandboxIsolation.Namespaces, SandboxIsolation.UserNamespaces, SandboxIsolation.Landlock };
        foreach (var mode in modes)
        {
            var sandbox = new PythonSandbox(new PythonSandboxOptions { Isolation = mode, MaxConcurrency = parallel });
            try
            {
                sandbox.RunAsync("print(1)").GetAwaiter().GetResult();
            }
            catch (ReasonSharpException e)
            {
                Console.WriteLine($"{mode,-15} unavailable: {e.Message}");
                continue;
            }
            var cpu = ChildrenCpuSeconds();
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < runs; i++) Check(sandbox.RunAsync("print(1)").GetAwaiter().GetResult());
            var serial = watch.Elapsed.TotalMilliseconds / runs;
            var cpuPerRun = (ChildrenCpuSeconds() - cpu) * 1000 / runs;
            watch.Restart();
            var all = Task.WhenAll(Enumerable.Range(0, runs).Select(_ => sandbox.RunAsync("print(1)")))
                .GetAwaiter().GetResult();
            foreach (var r in all) Check(r);
            var concurrent = watch.Elapsed.TotalMilliseconds / runs;
            Console.WriteLine($"{mode,-15} {serial,6:0} ms/run one at a time, " +
                              $"{concurrent,6:0} ms/run {parallel} at once, " +
                              $"{cpuPerRun,5:0} ms CPU/run (supervisor + program)");
        }
        Console.WriteLine($"load average at the end {LoadAverage()}");
        return 0;
    }

    static void Check(SandboxResult result)
    {
        if (result.Stdout != "1\n")
            throw new InvalidOperationException($"unexpected output: {result.Stdout} {result.Stderr}");
    }

    /// <summary>User + system seconds of waited-for children (fields 16 and 17 of /proc/self/stat, in clock
    /// ticks).</summary>
    static double ChildrenCpuSeconds()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        double Ticks(int i) => double.Parse(fields[i], CultureInfo.InvariantCulture);
        return (Ticks(13) + Ticks(14)) / 100.0;
    }

    static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
