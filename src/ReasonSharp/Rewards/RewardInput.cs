using System.Text.Json;

namespace ReasonSharp.Rewards;

/// <summary>The prompt a completion answers: plain text or chat messages.</summary>
public sealed record RewardPrompt
{
    public string? Text { get; init; }
    public IReadOnlyList<ChatMessage>? Messages { get; init; }

    public static RewardPrompt Empty { get; } = new();
    public static RewardPrompt FromText(string text) => new() { Text = text };
    public static RewardPrompt FromMessages(IReadOnlyList<ChatMessage> messages) => new() { Messages = messages };

    /// <summary>The text, or the messages as "role: content" lines; also the key that groups completions of one
    /// prompt.</summary>
    public string AsText() => Text ?? string.Join("\n", (Messages ?? []).Select(m => $"{m.Role}: {m.Content}"));
}

/// <summary>
/// What a reward function sees for one completion: the prompt, the completion text and its token ids (null when
/// unknown), the dataset row's other columns (answer, solution, test_cases, numbers, …) as JSON values, and the
/// training step.
/// </summary>
public sealed record RewardInput(
    RewardPrompt Prompt,
    string Completion,
    IReadOnlyList<int>? CompletionIds,
    IReadOnlyDictionary<string, JsonElement> Columns,
    int Step = 0)
{
    /// <summary>The generator's log-probability of each completion token as it was sampled (log_softmax of the logits
    /// over the temperature), when the completion comes from our engine (eval, sample, GRPO); null
    /// otherwise.</summary>
    public IReadOnlyList<float>? CompletionLogProbs { get; init; }

    /// <summary>Convenience constructor: <paramref name="columns"/> is any object or dictionary serialisable to a JSON
    /// object.</summary>
    public static RewardInput Create(string completion, object? columns = null,
        IReadOnlyList<int>? completionIds = null,
        RewardPrompt? prompt = null, int step = 0) =>
        new(prompt ?? RewardPrompt.Empty, completion, completionIds, RewardColumns.From(columns), step);

    public bool HasColumn(string name) => Columns.TryGetValue(name, out var value)
        && value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined);

    /// <summary>A column that must be a string (numbers are accepted and printed invariantly).</summary>
    public string RequireString(string column)
    {
        var value = Require(column);
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Number => value.GetRawText(),
            _ => throw new RewardInputException(column, $"expected a string, got {Describe(value)}"),
        };
    }

    public long RequireInteger(string column)
    {
        var value = Require(column);
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)) return number;
        if (value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), out number)) return number;
        throw new RewardInputException(column, $"expected an integer, got {Describe(value)}");
    }

    public IReadOnlyList<long> RequireIntegerList(string column)
    {
        var value = Require(column);
        if (value.ValueKind != JsonValueKind.Array) throw new RewardInputException(column,
            $"expected a list of integers, got {Describe(value)}");
        return value.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var n)
            ? n : throw new RewardInputException(column, $"item {i} is {Describe(e)}, expected an integer")).ToList();
    }

    public JsonElement Require(string column)
    {
        if (!Columns.TryGetValue(column, out var value)
            || value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
            throw new RewardInputException(column, "the column is missing");
        return value;
    }

    /// <summary>The token ids, or an error naming the reward that needs them.</summary>
    public IReadOnlyList<int> RequireCompletionIds(string reward) =>
        CompletionIds
            ?? throw new RewardInputException("completion_ids",
            $"the '{reward}' reward measures length in tokens and needs the completion's token ids");

    internal static string Describe(JsonElement value)
    {
        var text = value.GetRawText();
        return $"{value.ValueKind.ToString().ToLowerInvariant()} {(text.Length > 40 ? text[..37] + "..." : text)}";
    }
}

/// <summary>A reward input lacks a field or has one of the wrong shape. <see cref="Index"/> is the input's position in
/// its batch.</summary>
public sealed class RewardInputException(string field, string problem, int index = -1)
    : ReasonSharpException(index >= 0 ? $"completion {index}: field '{field}': {problem}"
        : $"field '{field}': {problem}")
{
    public string Field { get; } = field;
    public string Problem { get; } = problem;
    public int Index { get; } = index;

    public RewardInputException AtIndex(int index) => new(Field, Problem, index);
}

/// <summary>Builds the column dictionary of a <see cref="RewardInput"/>.</summary>
public static class RewardColumns
{
    public static IReadOnlyDictionary<string, JsonElement> Empty { get; } = new Dictionary<string, JsonElement>();

    /// <summary>From a JSON object (e.g. a JSONL row), an object or a dictionary.</summary>
    public static IReadOnlyDictionary<string, JsonElement> From(object? columns)
    {
        if (columns == null) return Empty;
        var element = columns is JsonElement json ? json : JsonSerializer.SerializeToElement(columns);
        if (element.ValueKind != JsonValueKind.Object) throw new ReasonSharpException($"reward columns must be a " +
            $"JSON object, got {element.ValueKind}");
        return element.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
    }
}
