using System.Diagnostics;
using ReasonSharp.Data;

namespace ReasonSharp.Tests.Data;

/// <summary>How many distinct problems a level has: asking too many fails at once, long runs report progress.</summary>
public class SyntheticCountTests
{
    [Theory]
    [InlineData("arithmetic", "5,832,000")]
    [InlineData("countdown", "86,240")]
    [InlineData("word", "17,819")]
    public void AskingForMoreProblemsThanALevelHasFailsAtOnce(string name, string bound)
    {
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<ReasonSharpException>(() =>
            SyntheticDataset.Generate(SyntheticTasks.ByName(name), 100_000_000, 1, seed: 0));
        Assert.Equal($"--n: {name} problems at difficulty 1 number at most {bound}, fewer than the 100,000,000 " +
                     "asked for; ask for fewer or raise --difficulty", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }

    [Fact]
    public void TheMeasuredWordBoundIsNeverBelowWhatTheGeneratorReaches()
    {
        // The arithmetic and countdown bounds are counted; the word bound is measured from the templates' draws.
        // 300,000 draws at level 1 come close to the number of problems the level really has.
        const string name = "word";
        var task = SyntheticTasks.ByName(name);
        var random = new Random(1);
        var keys = new HashSet<string>();
        for (int i = 0; i < 300_000; i++) keys.Add(task.Generate(random, 1).Key);
        var bound = task.MaxDistinctProblems(1)!.Value;
        Assert.True(keys.Count <= bound, $"{keys.Count} distinct {name} problems found, bound {bound}");
        Assert.True(keys.Count > bound / 20, $"the bound {bound} is far above the {keys.Count} found");
    }

    /// <summary>A task whose problems are the numbers below <paramref name="size"/>, with no known bound.</summary>
    sealed class NumbersTask(int size) : ISyntheticTask
    {
        public string Name => "numbers";
        public string RewardName => "accuracy";
        public int MaxDifficulty => 1;

        public SyntheticProblem Generate(Random random, int difficulty)
        {
            var n = random.Next(size).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return new SyntheticProblem(Name, difficulty, n, $"Say {n}.", new ReasoningTrace("", n),
                new Dictionary<string, System.Text.Json.Nodes.JsonNode> { ["answer"] = n });
        }
    }

    [Fact]
    public void AnExhaustedLevelWithoutABoundStopsEarlyAndProgressIsReported()
    {
        var reports = new List<(int Found, long Draws)>();
        var error = Assert.Throws<ReasonSharpException>(() =>
            SyntheticDataset.Generate(new NumbersTask(50_000), 80_000, 1, seed: 0, (f, d) => reports.Add((f, d))));
        // Short of all 50,000: the last ones are rare finds, and no rate reaches 80,000.
        Assert.Matches(@"^--n: found only 4\d{4} distinct numbers problems at difficulty 1 in \d+ draws " +
                       @"\(the last 65,536 draws found \d+ new ones, too few to reach 80,000 within 1,600,000 " +
                       @"draws\); ask for fewer", error.Message);
        Assert.True(reports[^1].Draws < 1_600_000, "stopped before the draw limit");
        Assert.Equal(reports.Select(r => r.Draws),
            reports.Select((_, i) => (long)(i + 1) * SyntheticDataset.ProgressDraws));
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.First.Found <= p.Second.Found));
    }
}
