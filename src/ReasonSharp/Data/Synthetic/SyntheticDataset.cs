using System.Globalization;

namespace ReasonSharp.Data;

/// <summary>Generates distinct synthetic problems with a seed, splits them and writes the standard JSONL
/// rows.</summary>
public static class SyntheticDataset
{
    /// <summary>Draws between calls of the progress callback and checks that the count is still reachable.</summary>
    public const int ProgressDraws = 1 << 16;

    /// <summary>
    /// <paramref name="count"/> problems with distinct keys, drawn with <paramref name="seed"/>. Throws at once when
    /// the count is above the task's bound (<see cref="ISyntheticTask.MaxDistinctProblems"/>), and as soon as the
    /// level runs short: after 20 draws per problem asked for, or earlier once the rate of new problems in the last
    /// <see cref="ProgressDraws"/> draws could not reach the count in the draws left. <paramref name="progress"/> gets
    /// (problems found, draws) every <see cref="ProgressDraws"/> draws.
    /// </summary>
    public static IReadOnlyList<SyntheticProblem> Generate(ISyntheticTask task, int count, int difficulty, int seed,
        Action<int, long>? progress = null)
    {
        if (count < 1) throw new ReasonSharpException($"--n: expected a positive count, got {count}");
        SyntheticTasks.CheckDifficulty(task, difficulty);
        if (task.MaxDistinctProblems(difficulty) is { } most && count > most)
            throw new ReasonSharpException(
                $"--n: {task.Name} problems at difficulty {difficulty} number at most {Count(most)}, fewer than the " +
                $"{Count(count)} asked for; ask for fewer or raise --difficulty");
        var random = new Random(seed);
        var keys = new HashSet<string>();
        var problems = new List<SyntheticProblem>(Math.Min(count, 1 << 20));
        var maxDraws = Math.Max(10_000L, 20L * count);
        int foundBefore = 0;
        for (long draws = 0; problems.Count < count; draws++)
        {
            if (draws >= maxDraws) throw RunShort(task, difficulty, problems.Count, draws, "");
            if (draws > 0 && draws % ProgressDraws == 0)
            {
                progress?.Invoke(problems.Count, draws);
                int found = problems.Count - foundBefore;
                // The rate of new problems only falls, so this estimate of the draws still needed is optimistic.
                double needed = found == 0 ? double.PositiveInfinity
                    : (count - problems.Count) * (double)ProgressDraws / found;
                if (needed > maxDraws - draws)
                    throw RunShort(task, difficulty, problems.Count, draws,
                        $" (the last {Count(ProgressDraws)} draws found {Count(found)} new ones, too few to reach " +
                        $"{Count(count)} within {Count(maxDraws)} draws)");
                foundBefore = problems.Count;
            }
            var problem = task.Generate(random, difficulty);
            if (keys.Add(problem.Key)) problems.Add(problem);
        }
        return problems;
    }

    static ReasonSharpException RunShort(ISyntheticTask task, int difficulty, int found, long draws, string why) =>
        new($"--n: found only {found} distinct {task.Name} problems at difficulty {difficulty} in {draws} draws" +
            $"{why}; ask for fewer or raise --difficulty");

    static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Distinct problems split into train and test; since keys are distinct the splits share no
    /// problem.</summary>
    public static TrainTestSplit<SyntheticProblem> GenerateSplit(ISyntheticTask task, int count, int difficulty,
        int seed, double testFraction, Action<int, long>? progress = null) =>
        Generate(task, count, difficulty, seed, progress).SplitTrainTest(testFraction, seed);

    /// <summary>
    /// A teacher that does not always show its working: round(<paramref name="fraction"/> × count) problems, drawn with
    /// <paramref name="seed"/>, keep only the answer behind an empty think block. A small model cannot imitate those
    /// answers without working, so SFT on the mix learns a policy that often skips thinking and fails; RL with a
    /// verifier can learn that working pays.
    /// </summary>
    public static IReadOnlyList<SyntheticProblem> WithAnswerOnlyTraces(IReadOnlyList<SyntheticProblem> problems,
        double fraction, int seed)
    {
        if (!(fraction >= 0 && fraction <= 1)) throw new ReasonSharpException($"answer_only_fraction: expected a " +
            $"share between 0 and 1, got {fraction}");
        int count = (int)Math.Round(fraction * problems.Count);
        var chosen = Enumerable.Range(0, problems.Count).ShuffleExact(seed).Take(count).ToHashSet();
        return problems.Select((p, i) => chosen.Contains(i) ? p.WithoutWorking() : p).ToList();
    }

    public static int WriteJsonl(string path, IEnumerable<SyntheticProblem> problems) =>
        JsonlWriter.Write(path, problems.Select(p => p.ToRow()));

    /// <summary>"out.jsonl" becomes "out.train.jsonl" and "out.test.jsonl".</summary>
    /// <summary>FILE.traces.jsonl beside FILE.jsonl: the training rows that show their working.</summary>
    public static string TracesPath(string outPath) =>
        Path.Combine(Path.GetDirectoryName(outPath) ?? "", Path.GetFileNameWithoutExtension(outPath) + ".traces.jsonl");

    public static (string Train, string Test) SplitPaths(string outPath)
    {
        var folder = Path.GetDirectoryName(outPath) ?? "";
        var stem = Path.GetFileNameWithoutExtension(outPath);
        return (Path.Combine(folder, stem + ".train.jsonl"), Path.Combine(folder, stem + ".test.jsonl"));
    }
}
