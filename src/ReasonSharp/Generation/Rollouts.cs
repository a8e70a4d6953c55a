using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Generation;

/// <summary>How to sample completions for examples: how many per prompt, the decoding settings and the thinking mode.</summary>
public sealed record RolloutOptions
{
    public int NumSamples { get; init; } = 1;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Think (true) or answer directly (false): Qwen3's enable_thinking, or `/think` / `/no_think` for dual-mode models.</summary>
    public bool EnableThinking { get; init; } = true;
    /// <summary>Rows per call of the generation engine (all samples of a prompt stay in one call).</summary>
    public int GenerationBatchSize { get; init; } = 64;
    /// <summary>The training step passed to reward functions.</summary>
    public int Step { get; init; }
}

/// <summary>One sampled completion of one example, with its weighted reward and each reward function's value.</summary>
public sealed record Rollout(int ExampleIndex, int SampleIndex, Example Example, int[] PromptIds, GenerationResult Generation, float Reward,
    IReadOnlyDictionary<string, float?> Rewards);

/// <summary>
/// Generates completions for examples with the batched engine and scores them with a composite reward: the shared step of
/// evaluation, rejection sampling and GRPO rollouts.
/// </summary>
public sealed class RolloutRunner(LanguageModel model, CompositeReward reward)
{
    public LanguageModel Model => model;
    public CompositeReward Reward => reward;

    /// <summary>Prompt ids of an example, in the model's chat format with the generation prompt and the thinking mode applied.</summary>
    public int[] EncodePrompt(Example example, bool enableThinking) => model.EncodePrompt(example.Prompt,
        enableThinking);

    /// <summary>The prompt messages the model is given: with a template that reads `/think` and `/no_think` in the
    /// system message (dual-mode, SmolLM3) the flag is set there.</summary>
    public IReadOnlyList<ChatMessage> PromptMessages(Example example, bool enableThinking) =>
        PromptMessagesIn(example, model.Thinking(enableThinking));

    IReadOnlyList<ChatMessage> PromptMessagesIn(Example example, bool enableThinking) =>
        model.Chat.InThinkingMode(example.Prompt, enableThinking);

    /// <summary>
    /// The assistant text the chat template already wrote after the generation prompt — the empty think block of no-think
    /// mode (Qwen3, dual-mode) — or "" when none. Prefill + completion is the whole assistant turn.
    /// </summary>
    public string PromptPrefill(Example example, bool enableThinking)
    {
        enableThinking = model.Thinking(enableThinking);
        var text = model.Chat.Render(PromptMessagesIn(example, enableThinking),
            new ChatRenderOptions { AddGenerationPrompt = true, EnableThinking = enableThinking });
        foreach (var block in EmptyThinkBlocks)
            if (text.EndsWith(block, StringComparison.Ordinal)) return block;
        return "";
    }

    static readonly string[] EmptyThinkBlocks =
        [$"{ReasoningTrace.ThinkOpen}\n\n{ReasoningTrace.ThinkClose}\n\n", $"{ReasoningTrace.ThinkOpen}\n\n{ReasoningTrace.ThinkClose}\n"];

    public async Task<IReadOnlyList<Rollout>> RunAsync(IReadOnlyList<Example> examples, RolloutOptions options,
        Action<int, int>? progress = null, CancellationToken cancellationToken = default)
    {
        var prompts = examples.Select(e => EncodePrompt(e, options.EnableThinking)).ToList();
        var sampling = options.Sampling with { EosTokenIds = options.Sampling.EosTokenIds.Count > 0 ? options.Sampling.EosTokenIds : model.StopTokenIds };
        int promptsPerCall = Math.Max(1, options.GenerationBatchSize / Math.Max(1, options.NumSamples));
        var engine = model.Engine();
        var rollouts = new List<Rollout>();
        for (int start = 0; start < examples.Count; start += promptsPerCall)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var indices = Enumerable.Range(start, Math.Min(promptsPerCall, examples.Count - start)).ToList();
            var rows = indices.SelectMany(i => Enumerable.Repeat(i, options.NumSamples)).ToList();
            var results = engine.Generate(rows.Select(i => prompts[i]).ToList(), sampling with { Seed = sampling.Seed + start }, null, cancellationToken);
            var inputs = rows.Select((i, r) => RewardInputFor(examples[i], results[r], options.Step)).ToList();
            var scores = await reward.ScoreAsync(inputs, cancellationToken);
            for (int r = 0; r < rows.Count; r++)
            {
                var values = scores.Functions.ToDictionary(f => f.Name, f => f.Values[r]);
                rollouts.Add(new Rollout(rows[r], r % options.NumSamples, examples[rows[r]], prompts[rows[r]], results[r], scores.Total[r], values));
            }
            progress?.Invoke(Math.Min(examples.Count, start + promptsPerCall), examples.Count);
        }
        return rollouts;
    }

    /// <summary>The reward library's view of a completion: the prompt messages, the text and ids, and the example's columns (gold included).</summary>
    public static RewardInput RewardInputFor(Example example, GenerationResult result, int step)
    {
        var columns = new Dictionary<string, JsonElement>(example.Extra);
        if (example.GoldAnswer is { } gold && !columns.ContainsKey("answer") && !columns.ContainsKey("solution"))
            columns["answer"] = JsonSerializer.SerializeToElement(gold);
        return new RewardInput(RewardPrompt.FromMessages(example.Prompt), result.CompletionText, result.CompletionIds,
            columns, step)
        { CompletionLogProbs = result.LogProbs };
    }
}
