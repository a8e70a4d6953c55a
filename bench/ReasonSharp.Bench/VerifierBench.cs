using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Rewards.Verification;

namespace ReasonSharp.Bench;

/// <summary>
/// Time per <see cref="MathVerifier.Verify(string, string, MathVerifyOptions?, CancellationToken)"/> call (both texts
/// extracted, parsed and compared, as `reason verify` does): p50/p99/max over GSM8K golds in several prediction
/// styles and over math-verify's MATH-style cases, then the worst case at each input cap on adversarial texts filled
/// to the cap, checked against the deadline.
/// </summary>
public static class VerifierBench
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var gsm8k = Arg("--gsm8k", "../shared/data/gsm8k/test.jsonl");
        var cases = Arg("--cases", "../shared/data/math-verify/cases.jsonl");
        var repeats = int.Parse(Arg("--repeats", "5"), CultureInfo.InvariantCulture);
        var timeout = double.Parse(Arg("--timeout", "3"), CultureInfo.InvariantCulture);
        var caps = Arg("--caps", "10000,100000,1000000").Split(',')
            .Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToList();
        foreach (var path in new[] { gsm8k, cases })
            if (!File.Exists(path))
                throw new ReasonSharpException($"{path}: file not found; run from the repository root or pass the " +
                    $"path");

        Console.WriteLine($"{Environment.ProcessorCount} cores, load average {LoadAverage()}");
        var warm = Stopwatch.StartNew();
        MathVerifier.Verify("1", "1");
        Console.WriteLine($"first call (compiles the patterns, outside any deadline): {warm.ElapsedMilliseconds} ms");

        Console.WriteLine();
        Console.WriteLine($"| inputs | calls | p50 ms | p99 ms | max ms | mean ms | equivalent | other outcomes |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (name, pairs) in Gsm8kStyles(gsm8k))
            Report(name, pairs, repeats);
        Report("MATH: math-verify cases (158 pairs, their options)", MathCases(cases), repeats * 5);

        Console.WriteLine();
        Console.WriteLine($"Worst case per input cap (timeout {timeout} s; each text filled to the cap, as gold and as "
                          + "prediction):");
        Console.WriteLine("| input cap | digit cap | worst ms | worst input | over the deadline by ms | outcomes |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var cap in caps)
        {
            WorstCase(cap, MathVerifyOptions.Default.MaxNumberDigits, timeout);
            WorstCase(cap, cap, timeout);
        }
        Console.WriteLine($"load average at the end {LoadAverage()}");
        return 0;
    }

    sealed record Pair(string Gold, string Prediction, MathVerifyOptions Options);

    static IEnumerable<(string Name, List<Pair> Pairs)> Gsm8kStyles(string path)
    {
        var rows = File.ReadLines(path).Select(line =>
        {
            using var row = JsonDocument.Parse(line);
            return row.RootElement.GetProperty("answer").GetString()!;
        }).ToList();
        var options = MathVerifyOptions.Default;
        List<Pair> Style(Func<string, string, string> prediction) =>
            rows.Select(gold => new Pair(gold, prediction(gold, Number(gold)), options)).ToList();
        yield return ($"GSM8K: \\boxed{{N}} ({rows.Count} golds)",
            Style((_, n) => $"Thus the result is \\boxed{{{n}}}."));
        yield return ("GSM8K: <think>…</think><answer>N</answer>",
            Style((_, n) => $"<think>Let me add these up.</think>\n<answer>{n}</answer>"));
        yield return ("GSM8K: \"the answer is N.\"", Style((_, n) => $"Adding everything up, the answer is {n}."));
        yield return ("GSM8K: the reference solution as the completion", Style((gold, _) => gold));
        yield return ("GSM8K: wrong, \"the answer is N+1.\"", Style((_, n) => $"So the answer is {Wrong(n)}."));
    }

    static string Number(string gold) =>
        GoldAnswers.AfterHashes(gold) ?? throw new ReasonSharpException("a GSM8K row without ####");

    static string Wrong(string number) =>
        (decimal.Parse(number.Replace(",", ""), CultureInfo.InvariantCulture) + 1)
        .ToString(CultureInfo.InvariantCulture);

    static List<Pair> MathCases(string path) => File.ReadLines(path).Select(line =>
    {
        using var row = JsonDocument.Parse(line);
        var root = row.RootElement;
        var matchTypes = root.GetProperty("match_types").EnumerateArray().Select(e => e.GetString()!);
        var options = MathVerifyOptions.ForMatchTypes(matchTypes) with
        {
            FloatRounding = root.TryGetProperty("precision", out var precision) ? precision.GetInt32() : 6,
            Strict = !root.TryGetProperty("strict", out var strict) || strict.GetBoolean(),
            AllowSetRelationComparison =
                root.TryGetProperty("allow_set_relation_comp", out var allow) && allow.GetBoolean(),
        };
        return new Pair(root.GetProperty("gold").GetString()!, root.GetProperty("pred").GetString()!, options);
    }).ToList();

    static void Report(string name, List<Pair> pairs, int repeats)
    {
        var times = new List<double>();
        var outcomes = new Dictionary<VerifyOutcome, int>();
        for (var r = 0; r < repeats; r++)
            foreach (var pair in pairs)
            {
                var watch = Stopwatch.StartNew();
                var result = MathVerifier.Verify(pair.Gold, pair.Prediction, pair.Options);
                times.Add(watch.Elapsed.TotalMilliseconds);
                if (r == 0) outcomes[result.Outcome] = outcomes.GetValueOrDefault(result.Outcome) + 1;
            }
        times.Sort();
        var others = string.Join(", ",
            outcomes.Where(o => o.Key != VerifyOutcome.Equivalent).Select(o => $"{o.Key} {o.Value}"));
        var equivalent = outcomes.GetValueOrDefault(VerifyOutcome.Equivalent);
        Console.WriteLine($"| {name} | {times.Count} | {Percentile(times, 0.5):F3} | {Percentile(times, 0.99):F3} | "
                          + $"{times[^1]:F1} | {times.Average():F3} | {equivalent}/{pairs.Count} | "
                          + $"{(others.Length == 0 ? "-" : others)} |");
    }

    static double Percentile(List<double> sorted, double p) =>
        sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    /// <summary>The issue's inputs and the other shapes that were slow: each piece repeated to fill the cap.</summary>
    static readonly (string Name, string Piece)[] Adversarial =
    [
        (@"\boxed{1} and ", @"\boxed{1} and "), ("nines", "9"), ("1 (digits and spaces)", "1 "), ("1+", "1+"),
        ("$1$ and ", "$1$ and "), ("answer $1$ ", "answer $1$ "), ("final answer is $1$ ", "final answer is $1$ "),
        (@"\[ (unclosed)", @"\[ "), ("{", "{"), ("2^", "2^"), ("1/", "1/"), (@"\frac{1}{2}+", @"\frac{1}{2}+"),
        ("the answer is 1 ", "the answer is 1 "), (@"\boxed{ (unclosed)", @"\boxed{"), ("(", "("), ("$", "$"),
        (@"\text{(", @"\text{("), ("-", "-"), ("x_{1}", "x_{1}"),
    ];

    static void WorstCase(int cap, int digitCap, double timeout)
    {
        var options = new MathVerifyOptions
        {
            Timeout = TimeSpan.FromSeconds(timeout),
            MaxInputLength = cap,
            MaxNumberDigits = digitCap,
        };
        var worst = (Ms: 0.0, Input: "");
        var outcomes = new Dictionary<VerifyOutcome, int>();
        foreach (var (name, piece) in Adversarial)
        {
            var text = string.Concat(Enumerable.Repeat(piece, cap / piece.Length));
            foreach (var (gold, prediction, side) in new[] { (text, "1", "gold"), ("1", text, "prediction") })
            {
                var watch = Stopwatch.StartNew();
                var result = MathVerifier.Verify(gold, prediction, options);
                var ms = watch.Elapsed.TotalMilliseconds;
                outcomes[result.Outcome] = outcomes.GetValueOrDefault(result.Outcome) + 1;
                if (ms > worst.Ms) worst = (ms, $"{name} as {side}");
            }
        }
        var over = Math.Max(0, worst.Ms - timeout * 1000);
        Console.WriteLine($"| {cap:N0} | {digitCap:N0} | {worst.Ms:F0} | {worst.Input} | {over:F0} | " +
                          $"{string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key} {o.Value}"))} |");
    }

    static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
}
