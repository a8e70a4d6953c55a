namespace ReasonSharp.Data;

/// <summary>Generates distinct synthetic problems with a seed, splits them and writes the standard JSONL rows.</summary>
public static class SyntheticDataset
{
    /// <summary>
    /// <paramref name="count"/> problems with distinct keys, drawn with <paramref name="seed"/>. Throws when the level
    /// has too few distinct problems for the count.
    /// </summary>
    public static IReadOnlyList<SyntheticProblem> Generate(ISyntheticTask task, int count, int difficulty, int seed)
    {
        if (count < 1) throw new ReasonSharpException($"--n: expected a positive count, got {count}");
        SyntheticTasks.CheckDifficulty(task, difficulty);
        var random = new Random(seed);
        var keys = new HashSet<string>();
        var problems = new List<SyntheticProblem>(count);
        var maxDraws = Math.Max(10_000L, 20L * count);
        for (long draws = 0; problems.Count < count; draws++)
        {
            if (draws >= maxDraws)
                throw new ReasonSharpException(
                    $"--n: found only {problems.Count} distinct {task.Name} problems at difficulty {difficulty} in {maxDraws} draws; ask for fewer or raise --difficulty");
            var problem = task.Generate(random, difficulty);
            if (keys.Add(problem.Key)) problems.Add(problem);
        }
        return problems;
    }

    /// <summary>Distinct problems split into train and test; since keys are distinct the splits share no problem.</summary>
    public static TrainTestSplit<SyntheticProblem> GenerateSplit(ISyntheticTask task, int count, int difficulty, int seed, double testFraction) =>
        Generate(task, count, difficulty, seed).SplitTrainTest(testFraction, seed);

    /// <summary>
    /// A teacher that does not always show its working: round(<paramref name="fraction"/> × count) problems, drawn with
    /// <paramref name="seed"/>, keep only the answer behind an empty think block. A small model cannot imitate those
    /// answers without working, so SFT on the mix learns a policy that often skips thinking and fails; RL with a verifier
    /// can learn that working pays.
    /// </summary>
    public static IReadOnlyList<SyntheticProblem> WithAnswerOnlyTraces(IReadOnlyList<SyntheticProblem> problems, double fraction, int seed)
    {
        if (!(fraction >= 0 && fraction <= 1)) throw new ReasonSharpException($"answer_only_fraction: expected a share between 0 and 1, got {fraction}");
        int count = (int)Math.Round(fraction * problems.Count);
        var chosen = Enumerable.Range(0, problems.Count).ShuffleExact(seed).Take(count).ToHashSet();
        return problems.Select((p, i) => chosen.Contains(i) ? p.WithoutWorking() : p).ToList();
    }

    public static int WriteJsonl(string path, IEnumerable<SyntheticProblem> problems) =>
        JsonlWriter.Write(path, problems.Select(p => p.ToRow()));

    /// <summary>"out.jsonl" becomes "out.train.jsonl" and "out.test.jsonl".</summary>
    public static (string Train, string Test) SplitPaths(string outPath)
    {
        var folder = Path.GetDirectoryName(outPath) ?? "";
        var stem = Path.GetFileNameWithoutExtension(outPath);
        return (Path.Combine(folder, stem + ".train.jsonl"), Path.Combine(folder, stem + ".test.jsonl"));
    }
}
