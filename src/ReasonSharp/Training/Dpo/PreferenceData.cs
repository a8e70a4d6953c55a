using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Training.Dpo;

/// <summary>One preference row: the prompt turns and two completions of it, the preferred and the dispreferred one.
/// </summary>
public sealed record PreferencePair(IReadOnlyList<ChatMessage> Prompt, IReadOnlyList<ChatMessage> Chosen,
    IReadOnlyList<ChatMessage> Rejected, string Source)
{
    /// <summary>The row's optional `margin` column: how much the chosen side should win by (reward model training;
    /// DPO ignores it).</summary>
    public double? Margin { get; init; }
}

/// <summary>A pair as token sequences: each is prompt + completion, its loss mask marking the completion's
/// tokens.</summary>
public sealed record EncodedPair(TokenSequence Chosen, TokenSequence Rejected, string Source);

/// <summary>What encoding did to the pairs; every pair is accounted for.</summary>
/// <param name="Truncated">Pairs of which a side was cut (max_prompt_length, max_completion_length or
/// max_length).</param>
/// <param name="Dropped">Pairs of which a side kept no completion token, not trained on.</param>
public sealed record PreferenceDataStats(int Pairs, int Truncated, int Dropped, string? FirstDropped, long Tokens)
{
    public string Describe() => $"{Pairs} pairs, {Truncated} truncated, {Dropped} dropped without completion tokens" +
        $"{(FirstDropped is null ? "" : $" (first: {FirstDropped})")}, {Tokens} tokens";
}

/// <summary>
/// Preference data in TRL's standard forms: prompt/chosen/rejected as strings or as message lists, or chosen/rejected
/// conversations alone whose shared leading turns are the prompt (implicit prompt). A string prompt is a user turn and
/// a string completion an assistant turn, rendered with the model's chat template like SFT's prompt/completion rows.
/// </summary>
public static class PreferenceData
{
    public static List<PreferencePair> Load(string path, string split, string? datasetConfig, string? systemPrompt,
        string option)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new ReasonSharpException($"training option '{option}': {path} is neither a file nor a dataset " +
                "folder");
        var source = new DatasetSource(path) { Split = split, Config = datasetConfig };
        var pairs = DatasetReader.ReadRows(source).Select(row => FromRow(row, systemPrompt)).ToList();
        if (pairs.Count == 0)
            throw new ReasonSharpException($"training option '{option}': {path} holds no preference rows");
        return pairs;
    }

    /// <summary>A row's pair, or an error naming the file, line and field.</summary>
    public static PreferencePair FromRow(DataRow row, string? systemPrompt = null)
    {
        var chosenValue = row.Require("chosen");
        var rejectedValue = row.Require("rejected");
        List<ChatMessage> prompt, chosen, rejected;
        if (row.TryGet("prompt", out var promptValue) && promptValue.ValueKind != JsonValueKind.Null)
        {
            prompt = ExampleConverter.ReadTurns(row, "prompt", ChatMessage.User).ToList();
            chosen = ExampleConverter.ReadTurns(row, "chosen", ChatMessage.Assistant).ToList();
            rejected = ExampleConverter.ReadTurns(row, "rejected", ChatMessage.Assistant).ToList();
        }
        else if (chosenValue.ValueKind == JsonValueKind.String && rejectedValue.ValueKind == JsonValueKind.String)
        {
            var (shared, chosenRest, rejectedRest) = SplitText(chosenValue.GetString()!, rejectedValue.GetString()!);
            prompt = shared.Length == 0 ? [] : [ChatMessage.FromUser(shared)];
            chosen = [ChatMessage.FromAssistant(chosenRest)];
            rejected = [ChatMessage.FromAssistant(rejectedRest)];
        }
        else
        {
            var all = ExampleConverter.ReadTurns(row, "chosen", ChatMessage.Assistant).ToList();
            var other = ExampleConverter.ReadTurns(row, "rejected", ChatMessage.Assistant).ToList();
            int shared = 0;
            while (shared < all.Count - 1 && shared < other.Count - 1 && all[shared] == other[shared]) shared++;
            prompt = all[..shared];
            chosen = all[shared..];
            rejected = other[shared..];
        }
        if (!prompt.Any(m => m.Role == ChatMessage.User))
            throw row.FieldError(row.Has("prompt") ? "prompt" : "chosen",
                "no user turn in the prompt; expected a 'prompt' column, or chosen/rejected conversations that " +
                "start with the same prompt turns (implicit prompt)");
        Check(row, "chosen", chosen);
        Check(row, "rejected", rejected);
        if (systemPrompt is not null && !prompt.Any(m => m.Role == ChatMessage.System))
            prompt.Insert(0, ChatMessage.FromSystem(systemPrompt));
        return new PreferencePair(prompt, chosen, rejected, row.Origin.ToString()) { Margin = ReadMargin(row) };
    }

    static double? ReadMargin(DataRow row)
    {
        if (!row.TryGet("margin", out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var margin) && double.IsFinite(margin)
            ? margin : throw row.FieldError("margin", $"expected a number, got {value.GetRawText()}");
    }

    static void Check(DataRow row, string field, List<ChatMessage> completion)
    {
        if (completion.Count == 0 || !completion[^1].IsAssistant)
            throw row.FieldError(field, "expected a completion that ends with an assistant turn");
    }

    /// <summary>Implicit prompt of two strings: their common prefix, cut at the end of a word.</summary>
    static (string Prompt, string Chosen, string Rejected) SplitText(string chosen, string rejected)
    {
        int shared = 0;
        while (shared < chosen.Length && shared < rejected.Length && chosen[shared] == rejected[shared]) shared++;
        if (shared == chosen.Length || shared == rejected.Length)
            while (shared > 0 && !char.IsWhiteSpace(chosen[shared - 1])) shared--;
        return (chosen[..shared].TrimEnd(), chosen[shared..].TrimStart(), rejected[shared..].TrimStart());
    }

    /// <summary>
    /// Both sides as prompt + completion token ids in <paramref name="chat"/>: the completion is every assistant turn
    /// after the prompt's, cut to max_completion_length (its start kept); the prompt is cut to max_prompt_length (its
    /// end kept); a sequence still over max_length loses its start (keep_end) or its end (keep_start).
    /// </summary>
    public static (List<EncodedPair> Pairs, PreferenceDataStats Stats) Encode(IReadOnlyList<PreferencePair> pairs,
        ChatFormat chat, DpoConfig config)
    {
        var encoded = new List<EncodedPair>(pairs.Count);
        int truncated = 0, dropped = 0;
        string? firstDropped = null;
        foreach (var pair in pairs)
        {
            var chosen = EncodeSide(chat, pair.Prompt, pair.Chosen, config, out bool chosenCut);
            var rejected = EncodeSide(chat, pair.Prompt, pair.Rejected, config, out bool rejectedCut);
            if (chosenCut || rejectedCut) truncated++;
            if (chosen is null || rejected is null)
            {
                dropped++;
                firstDropped ??= pair.Source;
                continue;
            }
            encoded.Add(new EncodedPair(chosen, rejected, pair.Source));
        }
        if (encoded.Count == 0)
            throw new ReasonSharpException($"no preference pair has completion tokens left ({dropped} of " +
                $"{pairs.Count} have none; first: {firstDropped}); raise max_length or max_completion_length");
        long tokens = encoded.Sum(p => (long)p.Chosen.InputIds.Length + p.Rejected.InputIds.Length);
        return (encoded, new PreferenceDataStats(pairs.Count, truncated, dropped, firstDropped, tokens));
    }

    static TokenSequence? EncodeSide(ChatFormat chat, IReadOnlyList<ChatMessage> prompt,
        IReadOnlyList<ChatMessage> completion, DpoConfig config, out bool truncated)
    {
        var encoding = chat.Encode([.. prompt, .. completion]);
        var runs = AssistantRuns(encoding.AssistantMask);
        int promptTurns = prompt.Count(m => m.IsAssistant);
        truncated = false;
        if (runs.Count <= promptTurns) return null;
        int start = runs[promptTurns].Start, end = runs[^1].End;
        var promptIds = encoding.InputIds[..start];
        var completionIds = encoding.InputIds[start..end];
        var completionMask = encoding.AssistantMask[start..end];
        if (config.MaxPromptLength is { } maxPrompt && promptIds.Length > maxPrompt)
        {
            promptIds = promptIds[^maxPrompt..];
            truncated = true;
        }
        if (config.MaxCompletionLength is { } maxCompletion && completionIds.Length > maxCompletion)
        {
            completionIds = completionIds[..maxCompletion];
            completionMask = completionMask[..maxCompletion];
            truncated = true;
        }
        long[] ids = [.. promptIds.Select(i => (long)i), .. completionIds.Select(i => (long)i)];
        bool[] mask = [.. new bool[promptIds.Length], .. completionMask];
        if (config.MaxLength is { } max && ids.Length > max)
        {
            (ids, mask) = config.TruncationMode == "keep_start"
                ? (ids[..max], mask[..max])
                : (ids[^max..], mask[^max..]);
            truncated = true;
        }
        return mask.Skip(1).Contains(true) ? new TokenSequence(ids, mask) : null;
    }

    /// <summary>[start, end) of each run of assistant tokens.</summary>
    static List<(int Start, int End)> AssistantRuns(bool[] mask)
    {
        var runs = new List<(int, int)>();
        for (int i = 0; i < mask.Length; i++)
        {
            if (!mask[i]) continue;
            int start = i;
            while (i < mask.Length && mask[i]) i++;
            runs.Add((start, i));
        }
        return runs;
    }
}
