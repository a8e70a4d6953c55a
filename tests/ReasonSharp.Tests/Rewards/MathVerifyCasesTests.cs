using System.Diagnostics;
using System.Text.Json;
using ReasonSharp.Rewards.Verification;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Rewards;

/// <summary>Agreement with math-verify's own test suite (../shared/data/math-verify/cases.jsonl).</summary>
public class MathVerifyCasesTests(ITestOutputHelper output)
{
    /// <summary>Cases (0-based line numbers) where this verifier knowingly disagrees with the recorded verdict, and
    /// why.</summary>
    static readonly Dictionary<int, string> KnownMisses = new()
    {
        [80] = "upstream runs this case (1/3 vs 0.33) with precision=2, but the recorded row has no precision " +
               "field, so it runs at the default 6 decimals where 0.33 != 0.333333; MathVerifyTests checks it " +
               "passes at precision 2",
    };

    [SkippableFact]
    public void Agreement_with_the_math_verify_suite_is_at_least_95_percent_per_case_and_listed()
    {
        var path = TestEnvironment.SharedFile("data/math-verify/cases.jsonl");
        var groups = new SortedDictionary<string, (int Agree, int Total)>(StringComparer.Ordinal);
        var misses = new List<(int Line, string Text)>();
        var watch = Stopwatch.StartNew();
        var lines = File.ReadAllLines(path);
        for (var i = 0; i < lines.Length; i++)
        {
            using var row = JsonDocument.Parse(lines[i]);
            var root = row.RootElement;
            var gold = root.GetProperty("gold").GetString()!;
            var pred = root.GetProperty("pred").GetString()!;
            var expected = root.GetProperty("expected").GetInt32() == 1;
            var group = root.GetProperty("group").GetString()!;
            var matchTypes = root.GetProperty("match_types").EnumerateArray().Select(e => e.GetString()!);
            var options = MathVerifyOptions.ForMatchTypes(matchTypes) with
            {
                FloatRounding = root.TryGetProperty("precision", out var precision) ? precision.GetInt32() : 6,
                Strict = !root.TryGetProperty("strict", out var strict) || strict.GetBoolean(),
                AllowSetRelationComparison = root.TryGetProperty("allow_set_relation_comp", out var allow)
                    && allow.GetBoolean(),
            };
            var result = MathVerifier.Verify(gold, pred, options);
            var agree = result.Equivalent == expected;
            var (a, t) = groups.GetValueOrDefault(group);
            groups[group] = (a + (agree ? 1 : 0), t + 1);
            if (!agree)
                misses.Add((i, $"line {i} [{group}] expected {(expected ? 1 : 0)}, got {(result.Equivalent ? 1 : 0)}" +
                               (KnownMisses.TryGetValue(i, out var reason) ? $" (known: {reason})" : " (UNEXPECTED)")
                               + $"\n{result.Explanation}"));
        }
        var total = groups.Values.Sum(g => g.Total);
        var agreed = groups.Values.Sum(g => g.Agree);
        foreach (var (group, (agree, count)) in groups)
            output.WriteLine($"{group,-60} {agree,3}/{count,-3} {100.0 * agree / count,6:0.0}%");
        output.WriteLine($"{"overall",-60} {agreed,3}/{total,-3} {100.0 * agreed / total,6:0.0}%   " +
            $"({watch.ElapsedMilliseconds} ms)");
        foreach (var (_, text) in misses) output.WriteLine("MISS " + text + "\n");

        Assert.Equal(158, total);
        Assert.True(agreed >= 0.95 * total, $"agreement {agreed}/{total} is below 95%");
        Assert.All(misses,
            m => Assert.True(KnownMisses.ContainsKey(m.Line), $"line {m.Line} disagrees and is not a known miss"));
    }
}
