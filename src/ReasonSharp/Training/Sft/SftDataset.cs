using System.Globalization;
using ReasonSharp.Data;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Training.Sft;

/// <summary>Examples for SFT and whether they come from a prompt/completion-style dataset (for completion_only_loss =
/// null).</summary>
public sealed record SftExamples(IReadOnlyList<Example> Examples, bool PromptCompletion, string Source);

/// <summary>What encoding did to the examples; every example is accounted for.</summary>
/// <param name="Examples">Examples read.</param>
/// <param name="Truncated">Examples cut to max_length (their start kept).</param>
/// <param name="Dropped">Examples left without any loss token (e.g. a prompt longer than max_length), not trained
/// on.</param>
/// <param name="FirstDropped">Source ("file line N") of the first dropped example.</param>
/// <param name="Sequences">Encoded examples kept.</param>
/// <param name="Rows">Training rows: the sequences, or the packed rows.</param>
/// <param name="Tokens">Tokens in the rows.</param>
/// <param name="LossTokens">Tokens that are targets of the loss.</param>
/// <param name="RowLength">The packed row length (max_length), or null without packing.</param>
public sealed record SftDataStats(int Examples, int Truncated, int Dropped, string? FirstDropped, int Sequences,
    int Rows, long Tokens,
    long LossTokens, int? RowLength)
{
    /// <summary>Share of the packed rows' capacity that holds tokens (1 without packing).</summary>
    public double PackingEfficiency => RowLength is { } length && Rows > 0 ? (double)Tokens / ((long)Rows * length) : 1;

    public string Describe() =>
        $"{Examples} examples, {Truncated} truncated to max_length, {Dropped} dropped without loss " +
            $"tokens{(FirstDropped is null ? "" : $" (first: {FirstDropped})")}; "
        + $"{Rows} rows{(RowLength is { } n ? $" packed to {n} tokens ({(PackingEfficiency * 100).ToString("F1", CultureInfo.InvariantCulture)}% full)" : "")}, {Tokens} tokens, {LossTokens} in the loss";
}

/// <summary>Token sequences ready for <see cref="LanguageModelingTask"/>, with their statistics.</summary>
public sealed record SftEncoded(IReadOnlyList<TokenSequence> Sequences, SftDataStats Stats);

/// <summary>
/// The SFT data path: dataset → <see cref="Example"/>s → trace conversion and dual-mode mixing → chat-format token ids
/// with the loss mask (assistant-only or completion-only) → truncation → optional packing.
/// </summary>
public static class SftDataset
{
    /// <summary>Reads a file or dataset folder (at <paramref name="split"/>) with the config's schema and system
    /// prompt.</summary>
    /// <param name="option">The option that named the path, for error messages.</param>
    public static SftExamples Load(string path, string split, SftConfig config, string option)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new ReasonSharpException($"training option '{option}': {path} is neither a file nor a dataset " +
                $"folder");
        var mapping = (config.DatasetSchema is { } schema ? SchemaMapping.ForName(schema) : new SchemaMapping()) with { SystemPrompt = config.SystemPrompt };
        var converter = new ExampleConverter(mapping);
        var source = new DatasetSource(path) { Split = split, Config = config.DatasetConfig };
        var examples = DatasetReader.ReadRowExamples(source, converter).Select(pair => pair.Example).ToList();
        if (examples.Count == 0) throw new ReasonSharpException($"training option '{option}': {path} holds no " +
            $"examples");
        bool promptCompletion =
            converter.Kind is SchemaKind.PromptCompletion or SchemaKind.QuestionAnswer or SchemaKind.ProblemSolution;
        return new SftExamples(examples, promptCompletion, path);
    }

    /// <summary>Trace-style conversion (trace_style) and, for training data, dual-mode mixing (think_fraction,
    /// seeded).</summary>
    /// <param name="templateWritesEmptyThink">The chat template writes the empty think block of no-think turns itself
    /// (<see cref="ChatCapabilities.WritesEmptyThinkBlock"/>), so stripped turns keep only their answer.</param>
    public static IReadOnlyList<Example> Prepare(IReadOnlyList<Example> examples, SftConfig config, bool mixDualMode,
        bool templateWritesEmptyThink = false)
    {
        if (config.TraceStyle is { } style) examples =
            examples.Select(e => ThinkingModes.ConvertTraces(e, style)).ToList();
        if (mixDualMode && config.ThinkFraction is { } fraction)
            examples =
                ThinkingModes.MixDualMode(examples, fraction, unchecked((int)config.Seed),
                config.TraceStyle ?? StyleOf(examples),
                templateAddsEmptyThink: templateWritesEmptyThink);
        return examples;
    }

    /// <summary>The trace style of the first completion that has one (DeepSeek-R1's when none has markers).</summary>
    static TraceStyle StyleOf(IReadOnlyList<Example> examples)
    {
        foreach (var completion in examples.Select(e => e.Completion).OfType<string>())
        {
            ReasoningTrace.Parse(completion, out var style);
            if (style is { } found) return found;
        }
        return TraceStyle.DeepSeekR1;
    }

    /// <summary>
    /// Encodes conversations in <paramref name="chat"/> with their loss masks, truncates each to max_length, drops (and
    /// counts) those left without a loss token, and packs the rest when <paramref name="pack"/>.
    /// </summary>
    public static SftEncoded Encode(IReadOnlyList<Example> examples, bool promptCompletion, ChatFormat chat,
        SftConfig config, bool pack)
    {
        bool completionOnly = config.CompletionOnlyLoss ?? promptCompletion;
        var sequences = new List<TokenSequence>(examples.Count);
        int truncated = 0, dropped = 0;
        string? firstDropped = null;
        foreach (var example in examples)
        {
            if (!example.HasAssistantTurn)
                throw new ReasonSharpException($"{example.Source}: no assistant turn to train on; SFT data needs " +
                    $"completions (a prompt-only row belongs to GRPO)");
            var encoding = chat.Encode(example.Messages);
            var mask = LossMask(encoding.AssistantMask, completionOnly, config.AssistantOnlyLoss);
            int length = encoding.InputIds.Length;
            if (config.MaxLength is { } max && length > max)
            {
                length = max;
                truncated++;
            }
            if (!mask.Take(length).Skip(1).Contains(true))
            {
                dropped++;
                firstDropped ??= example.Source;
                continue;
            }
            sequences.Add(new TokenSequence(encoding.InputIds.Take(length).Select(id => (long)id).ToArray(),
                mask[..length]));
        }
        if (sequences.Count == 0)
            throw new ReasonSharpException($"no example has a token left to train on ({dropped} of " +
                $"{examples.Count} have none within max_length={config.MaxLength}; first: {firstDropped}); raise " +
                $"max_length or check the loss options");
        var rows = pack ? SequencePacker.Pack(sequences, config.MaxLength!.Value) : sequences;
        var stats = new SftDataStats(examples.Count, truncated, dropped, firstDropped, sequences.Count, rows.Count,
            rows.Sum(r => (long)r.InputIds.Length), sequences.Sum(s => (long)s.LossMask!.Skip(1).Count(m => m)),
            pack ? config.MaxLength : null);
        return new SftEncoded(rows, stats);
    }

    /// <summary>
    /// Which tokens are loss targets: the final assistant turn only (<paramref name="completionOnly"/>), every
    /// assistant turn (<paramref name="assistantOnly"/>; role headers and all system and user tokens excluded), or
    /// every token.
    /// </summary>
    public static bool[] LossMask(bool[] assistantMask, bool completionOnly, bool assistantOnly)
    {
        if (completionOnly)
        {
            var mask = new bool[assistantMask.Length];
            int end = Array.LastIndexOf(assistantMask, true);
            for (int i = end; i >= 0 && assistantMask[i]; i--) mask[i] = true;
            return mask;
        }
        return assistantOnly ? (bool[])assistantMask.Clone() : Enumerable.Repeat(true, assistantMask.Length).ToArray();
    }
}
