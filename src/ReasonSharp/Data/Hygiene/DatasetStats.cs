namespace ReasonSharp.Data;

/// <summary>Percentiles of a length distribution (nearest rank).</summary>
public sealed record LengthSummary(int Count, int Min, int P50, int P90, int P95, int P99, int Max, double Mean)
{
    public static LengthSummary? Of(List<int> values)
    {
        if (values.Count == 0) return null;
        values.Sort();
        int At(double p) => values[Math.Clamp((int)Math.Ceiling(p * values.Count) - 1, 0, values.Count - 1)];
        return new LengthSummary(values.Count, values[0], At(0.5), At(0.9), At(0.95), At(0.99), values[^1],
            values.Average());
    }

    public override string ToString() =>
        $"n={Count} min={Min} p50={P50} p90={P90} p95={P95} p99={P99} max={Max} mean={Mean:F1}";
}

/// <summary>What `reason data stats` prints.</summary>
public sealed record DatasetStatistics(
    int Rows,
    SchemaKind? Schema,
    int WithAssistant,
    int WithGold,
    LengthSummary? ConversationChars,
    LengthSummary? PromptChars,
    LengthSummary? CompletionChars,
    IReadOnlyDictionary<string, int> TraceStyles,
    int EmptyThinking,
    LengthSummary? ThinkingChars,
    LengthSummary? ConversationTokens,
    LengthSummary? CompletionTokens,
    LengthSummary? ThinkingTokens);

/// <summary>
/// Row counts, character lengths, the thinking-length distribution of final assistant turns, and token lengths when
/// a token counter is given (message contents only: the chat template is not applied).
/// </summary>
public static class DatasetStats
{
    public static DatasetStatistics Compute(IEnumerable<Example> examples, Func<string, int>? countTokens = null,
        SchemaKind? schema = null)
    {
        var (conversation, prompt, completion, thinking) =
            (new List<int>(), new List<int>(), new List<int>(), new List<int>());
        var (conversationTokens, completionTokens, thinkingTokens) =
            (new List<int>(), new List<int>(), new List<int>());
        var styles = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int rows = 0, withGold = 0, emptyThinking = 0;
        foreach (var example in examples)
        {
            rows++;
            if (example.GoldAnswer != null) withGold++;
            var all = string.Concat(example.Messages.Select(m => m.Content));
            conversation.Add(all.Length);
            prompt.Add(example.Prompt.Sum(m => m.Content.Length));
            if (countTokens != null) conversationTokens.Add(countTokens(all));
            if (example.Completion is not { } text) continue;
            completion.Add(text.Length);
            var trace = ReasoningTrace.Parse(text, out var style);
            var styleName = style?.ToString() ?? "none";
            styles[styleName] = styles.GetValueOrDefault(styleName) + 1;
            if (style != null && !trace.HasThinking) emptyThinking++;
            if (trace.HasThinking) thinking.Add(trace.Thinking.Length);
            if (countTokens == null) continue;
            completionTokens.Add(countTokens(text));
            if (trace.HasThinking) thinkingTokens.Add(countTokens(trace.Thinking));
        }
        return new DatasetStatistics(
            rows, schema, completion.Count, withGold,
            LengthSummary.Of(conversation), LengthSummary.Of(prompt), LengthSummary.Of(completion),
            styles, emptyThinking, LengthSummary.Of(thinking),
            LengthSummary.Of(conversationTokens), LengthSummary.Of(completionTokens), LengthSummary.Of(thinkingTokens));
    }
}
