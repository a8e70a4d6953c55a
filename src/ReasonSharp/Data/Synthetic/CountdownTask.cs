using System.Text.Json.Nodes;

namespace ReasonSharp.Data;

/// <summary>Countdown knobs: how many numbers, how large, the largest target, and how many failed tries the trace
/// shows.</summary>
public sealed record CountdownOptions(int Count, int MaxNumber, int MinTarget, int MaxTarget, int MaxShownFailures)
{
    public void Validate()
    {
        if (Count < 2 || MaxNumber < 1 || MinTarget < 1 || MaxTarget < MinTarget || MaxShownFailures < 0)
            throw new ReasonSharpException($"countdown options: expected at least 2 numbers, MaxNumber >= 1, 1 <= " +
                $"MinTarget <= MaxTarget, MaxShownFailures >= 0; got {this}");
    }

    public static CountdownOptions ForLevel(int level) => level switch
    {
        1 => new(3, 20, 5, 60, 1),
        2 => new(3, 50, 10, 100, 2),
        3 => new(4, 25, 10, 100, 2),
        4 => new(4, 50, 10, 200, 3),
        _ => new(4, 100, 100, 500, 3),
    };
}

/// <summary>
/// TinyZero's countdown: reach a target with the given numbers, + − × ÷, each number exactly once. The teacher runs a
/// depth-first search that tries the results closest to the target first, and its trace shows the last failed tries
/// before the solution ("…, 87+1=88 (not 98), backtrack.") and then the path that reaches the target.
/// Verified by the "countdown" reward from the `numbers` and `target` columns.
/// </summary>
public sealed class CountdownTask : ISyntheticTask
{
    public string Name => "countdown";
    public string RewardName => "countdown";
    public int MaxDifficulty => 5;

    public SyntheticProblem Generate(Random random, int difficulty)
    {
        SyntheticTasks.CheckDifficulty(this, difficulty);
        return Generate(random, CountdownOptions.ForLevel(difficulty), difficulty);
    }

    public SyntheticProblem Generate(Random random, CountdownOptions options, int difficulty)
    {
        options.Validate();
        for (var attempt = 0; attempt < 100_000; attempt++)
        {
            var numbers =
                Enumerable.Range(0, options.Count).Select(_ => (long)random.Next(1, options.MaxNumber + 1)).ToList();
            var target = RandomReachableTarget(random, numbers, options);
            if (target >= options.MinTarget && target <= options.MaxTarget)
                return Solve(numbers, target, options.MaxShownFailures, difficulty);
        }
        throw new ReasonSharpException($"countdown options {options}: no reachable target in range after 100000 tries");
    }

    /// <summary>Keys are the sorted numbers and target: at most (multisets of numbers) × (targets in range).</summary>
    public long? MaxDistinctProblems(int difficulty)
    {
        SyntheticTasks.CheckDifficulty(this, difficulty);
        var o = CountdownOptions.ForLevel(difficulty);
        double multisets = 1;
        for (int i = 1; i <= o.Count; i++) multisets = multisets * (o.MaxNumber + i - 1) / i;
        return SyntheticTasks.Saturating(multisets * (o.MaxTarget - o.MinTarget + 1));
    }

    /// <summary>The teacher: a problem with a trace for these numbers and target (which must be reachable).</summary>
    public SyntheticProblem Solve(IReadOnlyList<long> numbers, long target, int maxShownFailures, int difficulty)
    {
        var search = new Search(target);
        if (numbers.Count < 2 || !search.Run(numbers.Select(Expr.Number).ToList()))
            throw new ArgumentException($"{target} cannot be reached from {string.Join(", ", numbers)}");
        var list = string.Join(", ", numbers);
        var lines = new List<string> { $"Need {target} from {list}." };
        foreach (var failed in search.Failures.TakeLast(maxShownFailures))
            lines.Add($"Try {Chain(failed)} (not {target}), backtrack.");
        lines.Add($"Try {Chain(search.Solution)}. Found {target}.");
        return new SyntheticProblem(
            Name, difficulty,
            Key: $"countdown:{string.Join(",", numbers.Order())}->{target}",
            Prompt: $"Make {target} from the numbers {list} using + - * / and each number exactly once.",
            Trace: new ReasoningTrace(string.Join("\n", lines), search.Solution[^1].Text),
            Columns: new Dictionary<string, JsonNode>
            {
                ["target"] = target,
                ["numbers"] = new JsonArray(numbers.Select(n => (JsonNode)n).ToArray()),
            });
    }

    static string Chain(IEnumerable<Expr> steps) =>
        string.Join(", ", steps.Select(s => $"{s.Left!.Value}{s.Op}{s.Right!.Value}={s.Value}"));

    // Combines random pairs with random valid operations until one value is left.
    static long RandomReachableTarget(Random random, List<long> numbers, CountdownOptions options)
    {
        var pool = numbers.ToList();
        var cap = (long)options.MaxTarget * options.MaxNumber;
        while (pool.Count > 1)
        {
            var i = random.Next(pool.Count);
            var j = random.Next(pool.Count - 1);
            if (j >= i) j++;
            var (big, small) = pool[i] >= pool[j] ? (pool[i], pool[j]) : (pool[j], pool[i]);
            var ops = Operations(big, small).Where(op => op != '*' || big * small <= cap).ToList();
            var value = Expr.Apply(big, ops[random.Next(ops.Count)], small)!.Value;
            pool.RemoveAt(Math.Max(i, j));
            pool.RemoveAt(Math.Min(i, j));
            pool.Add(value);
        }
        return pool[0];
    }

    // Larger operand first; no zero or negative results, no ÷1 (×1 already covers it), division only when exact.
    static IEnumerable<char> Operations(long big, long small)
    {
        yield return '+';
        if (big > small) yield return '-';
        yield return '*';
        if (small > 1 && big % small == 0) yield return '/';
    }

    sealed class Search(long target)
    {
        readonly List<Expr> path = [];

        public List<List<Expr>> Failures { get; } = [];
        public List<Expr> Solution { get; private set; } = [];

        // Depth-first over pairs and operations, results closest to the target first. With two values left it checks
        // every operation; when none hits, the closest try is remembered as a failure.
        public bool Run(List<Expr> pool)
        {
            var moves = Moves(pool).OrderBy(m => Math.Abs(m.Result.Value - target)).ToList();
            if (pool.Count == 2)
            {
                var hit = moves.FirstOrDefault(m => m.Result.Value == target);
                if (hit.Result != null) { Solution = [.. path, hit.Result]; return true; }
                Failures.Add([.. path, moves[0].Result]);
                return false;
            }
            foreach (var move in moves)
            {
                path.Add(move.Result);
                if (Run(move.Remaining)) return true;
                path.RemoveAt(path.Count - 1);
            }
            return false;
        }

        static IEnumerable<(Expr Result, List<Expr> Remaining)> Moves(List<Expr> pool)
        {
            for (var i = 0; i < pool.Count; i++)
                for (var j = i + 1; j < pool.Count; j++)
                {
                    var (big, small) = pool[i].Value >= pool[j].Value ? (pool[i], pool[j]) : (pool[j], pool[i]);
                    var rest = pool.Where((_, k) => k != i && k != j).ToList();
                    foreach (var op in Operations(big.Value, small.Value))
                    {
                        var result = Expr.Combine(big, op, small);
                        yield return (result, [.. rest, result]);
                    }
                }
        }
    }
}
