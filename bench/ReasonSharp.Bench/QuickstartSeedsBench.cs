using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ReasonSharp.Recipes;
using ReasonSharp.Reporting;
using ReasonSharp.Training;

namespace ReasonSharp.Bench;

/// <summary>
/// `reason quickstart` for several seeds, each in its own process (as a user's first command), and one table: each
/// stage's held-out accuracy and time per seed, GRPO's gain over SFT, the median and the minimum, and the machine.
/// </summary>
public static class QuickstartSeedsBench
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var work = Arg("--work", Path.Combine(Path.GetTempPath(), "reasonsharp-quickstart-seeds"));
        if (Arg("--worker", "") is { Length: > 0 } seedText)
        {
            var options = new QuickstartOptions
            {
                OutputDir = Arg("--out", ""), Seed = long.Parse(seedText, CultureInfo.InvariantCulture),
                Quick = args.Contains("--quick"),
                Minutes = double.Parse(Arg("--minutes", "10"), CultureInfo.InvariantCulture),
            };
            Quickstart.Run(options, ProgressDisplay.ForConsole(true));
            return 0;
        }

        var seeds =
            Arg("--seeds", "1,2,3,4,5").Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToList();
        var extra = new List<string>();
        if (args.Contains("--quick")) extra.Add("--quick");
        if (Arg("--minutes", "") is { Length: > 0 } minutes) extra.AddRange(["--minutes", minutes]);
        Console.WriteLine($"machine: {MachineInfo.Describe()}");
        Console.WriteLine($"quickstart {string.Join(" ", extra)} for seeds {string.Join(", ", seeds)}, each in its " +
            $"own process; work folder {work}");
        var runs = new List<(long Seed, IReadOnlyList<QuickstartRow>? Table, double Seconds)>();
        foreach (var seed in seeds)
        {
            var output = Path.Combine(work, $"seed-{seed}");
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
            var clock = Stopwatch.StartNew();
            int code = RunChild(seed, output, extra);
            var tablePath = Path.Combine(output, "quickstart.json");
            var table = code == 0 && File.Exists(tablePath)
                ? JsonSerializer.Deserialize<List<QuickstartRow>>(File.ReadAllText(tablePath))
                : null;
            runs.Add((seed, table, clock.Elapsed.TotalSeconds));
            Console.WriteLine($"seed {seed}: " +
                $"{(table is null ? $"failed (exit {code}, log {output}.log)" : "done")} in " +
                $"{clock.Elapsed.TotalMinutes:F1} min");
        }
        Console.WriteLine();
        Console.Write(Table(runs));
        Console.WriteLine();
        Console.WriteLine($"load average at the end: {MachineInfo.LoadAverage()}");
        return runs.All(r => r.Table is not null) ? 0 : 1;
    }

    static int RunChild(long seed, string output, IReadOnlyList<string> extra)
    {
        var info = BenchProcess.Self(new[] { "quickstart-seeds", "--worker", $"{seed}", "--out", output }.Concat(extra));
        info.RedirectStandardError = true;
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        using var log = new StreamWriter(output + ".log");
        using var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.WaitForExit();
        return process.ExitCode;
    }

    static string Table(List<(long Seed, IReadOnlyList<QuickstartRow>? Table, double Seconds)> runs)
    {
        var done = runs.Where(r => r.Table is not null).ToList();
        if (done.Count == 0) return "no run finished\n";
        // Accuracy of every trained stage; time of each training stage (the two dual-mode rows share one).
        var stages = done[0].Table!.Skip(1).Select(r => r.Stage).ToList();
        var timed = stages.Take(stages.Count - 1).ToList();
        var text = new System.Text.StringBuilder();
        text.AppendLine($"| seed | {string.Join(" | ", stages)} | GRPO − SFT (points) | " +
            $"{string.Join(" | ", timed.Select(s => s + " s"))} | total min |");
        text.AppendLine($"|---|{string.Concat(Enumerable.Repeat("---:|", stages.Count + timed.Count + 2))}");
        double Accuracy(IReadOnlyList<QuickstartRow> table, string stage) =>
            table.Single(r => r.Stage == stage).Accuracy;
        foreach (var (seed, table, seconds) in done)
        {
            var accuracies = stages.Select(s => Percent(Accuracy(table!, s)));
            var times =
                timed.Select(s =>
                table!.Single(r => r.Stage == s).Seconds.ToString("F0", CultureInfo.InvariantCulture));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {seed} | {string.Join(" | ", accuracies)} | {Gain(table!):+0.0;-0.0} | " +
                    $"{string.Join(" | ", times)} | {seconds / 60:F1} |");
        }
        foreach (var (label, pick) in new (string, Func<List<double>, double>)[] { ("median", Median), ("min", l => l.Min()) })
        {
            var columns = stages.Select(s => Percent(pick(done.Select(r => Accuracy(r.Table!, s)).ToList())));
            var gain = pick(done.Select(r => Gain(r.Table!)).ToList());
            var blanks = string.Concat(Enumerable.Repeat(" |", timed.Count));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| **{label}** | {string.Join(" | ", columns)} | {gain:+0.0;-0.0} |{blanks} " +
                    $"{pick(done.Select(r => r.Seconds / 60).ToList()):F1} |");
        }
        return text.ToString();
    }

    /// <summary>GRPO's held-out accuracy minus SFT's, in points.</summary>
    static double Gain(IReadOnlyList<QuickstartRow> table) =>
        100 * (table.Single(r => r.Stage == "GRPO").Accuracy - table.Single(r =>
            r.Stage.StartsWith("SFT", StringComparison.Ordinal)).Accuracy);

    static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2]
            : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    static string Percent(double value) => (100 * value).ToString("F1", CultureInfo.InvariantCulture);
}
