using System.Text.Json.Nodes;

namespace ReasonSharp.Data;

/// <summary>
/// A verifiable task: a seeded generator with difficulty levels and a programmatic teacher that writes a correct
/// step-by-step trace. <see cref="RewardName"/> names the reward in the reward library that verifies it.
/// </summary>
public interface ISyntheticTask
{
    /// <summary>countdown, arithmetic or word.</summary>
    string Name { get; }

    /// <summary>"accuracy" (math answer equivalence on the `answer` column) or "countdown" (columns `numbers`,
    /// `target`).</summary>
    string RewardName { get; }

    int MaxDifficulty { get; }

    /// <summary>One problem with its teacher trace; all randomness comes from <paramref name="random"/>.</summary>
    SyntheticProblem Generate(Random random, int difficulty);

    /// <summary>
    /// An upper bound on the distinct problems (keys) at <paramref name="difficulty"/>, so that asking for more fails
    /// at once instead of drawing for minutes; null when not known.
    /// </summary>
    long? MaxDistinctProblems(int difficulty) => null;
}

/// <summary>A generated problem: user prompt, teacher trace, gold columns, and a canonical key for
/// deduplication.</summary>
public sealed record SyntheticProblem(
    string Task,
    int Difficulty,
    string Key,
    string Prompt,
    ReasoningTrace Trace,
    IReadOnlyDictionary<string, JsonNode> Columns)
{
    /// <summary>The teacher's completion in the `&lt;think&gt;…&lt;/think&gt;&lt;answer&gt;…&lt;/answer&gt;`
    /// style.</summary>
    public string Completion => Trace.Render(TraceStyle.ThinkAnswer);

    /// <summary>True when the teacher wrote only the answer, with an empty think block (see
    /// <see cref="SyntheticDataset.WithAnswerOnlyTraces"/>).</summary>
    public bool AnswerOnly { get; init; }

    public SyntheticProblem WithoutWorking() => this with { Trace = Trace.WithoutThinking(), AnswerOnly = true };

    /// <summary>The standard row: prompt, completion, the gold columns (answer, or target and numbers), task,
    /// difficulty.</summary>
    public JsonObject ToRow()
    {
        var row = new JsonObject { ["prompt"] = Prompt, ["completion"] = Completion };
        foreach (var (name, value) in Columns) row[name] = value.DeepClone();
        row["task"] = Task;
        row["difficulty"] = Difficulty;
        if (AnswerOnly) row["answer_only"] = true;
        return row;
    }
}

/// <summary>The built-in tasks by name.</summary>
public static class SyntheticTasks
{
    public static IReadOnlyList<ISyntheticTask> All { get; } =
        [new CountdownTask(), new ArithmeticTask(), new WordProblemTask()];

    public static ISyntheticTask ByName(string name) =>
        All.FirstOrDefault(t => t.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ReasonSharpException($"--task: unknown task '{name}'; expected " +
            $"{string.Join(", ", All.Select(t => t.Name))}");

    /// <summary>A count computed in floating point, as a long (long.MaxValue when larger).</summary>
    internal static long Saturating(double count) => count >= long.MaxValue ? long.MaxValue : (long)Math.Ceiling(count);

    internal static void CheckDifficulty(ISyntheticTask task, int difficulty)
    {
        if (difficulty < 1 || difficulty > task.MaxDifficulty)
            throw new ReasonSharpException($"--difficulty: {task.Name} has levels 1 to {task.MaxDifficulty}, got " +
                $"{difficulty}");
    }
}
