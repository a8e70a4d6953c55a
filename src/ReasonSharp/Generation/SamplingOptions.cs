namespace ReasonSharp.Generation;

/// <summary>The engine's decoding settings for one call, with Hugging Face generate()'s names (a job's user-facing
/// knobs are <see cref="SamplingSettings"/>). Temperature 0 or DoSample false means greedy.</summary>
public sealed record SamplingOptions
{
    public int MaxNewTokens { get; init; } = 256;
    public bool DoSample { get; init; } = true;
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep the k most likely tokens (0 = off).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of tokens whose probability reaches p (1 = off).</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Drop tokens less likely than min_p times the most likely one (0 = off).</summary>
    public double MinP { get; init; }
    /// <summary>Hugging Face's repetition penalty over prompt and completion tokens (1 = off).</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    /// <summary>A row stops when it samples one of these ids (the id is kept in the completion).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    /// <summary>A row stops once its text contains one of these; the text is cut right after it.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    public long Seed { get; init; } = 0;
    /// <summary>Skip special tokens (e.g. &lt;|im_end|&gt;) when decoding the completion text, as TRL does.</summary>
    public bool SkipSpecialTokens { get; init; } = true;

    public bool IsGreedy => !DoSample || Temperature <= 0;

    public static SamplingOptions Greedy(int maxNewTokens, IReadOnlyList<int>? eos = null) =>
        new() { DoSample = false, MaxNewTokens = maxNewTokens, EosTokenIds = eos ?? [] };

    public void Validate()
    {
        if (MaxNewTokens < 1) throw new ReasonSharpException($"max_new_tokens must be at least 1, got {MaxNewTokens}");
        SamplingSettings.Check(Temperature, TopP, TopK, MinP, RepetitionPenalty);
    }
}

public enum FinishReason { Stop, Length }

/// <summary>One completion: ids, text, the sampled tokens' log-probabilities under the temperature-scaled model distribution, and why it ended.</summary>
public sealed record GenerationResult(
    int[] PromptIds,
    int[] CompletionIds,
    string CompletionText,
    float[] LogProbs,
    FinishReason FinishReason,
    TimeSpan Elapsed)
{
    public bool Truncated => FinishReason == FinishReason.Length;
}

/// <summary>Timing of one batched call: prompt processing and token-by-token decoding.</summary>
public sealed record GenerationStats(int Rows, int PromptTokens, int GeneratedTokens, TimeSpan Prefill, TimeSpan Decode)
{
    public double DecodeTokensPerSecond => GeneratedTokens / Math.Max(1e-9, Decode.TotalSeconds);
}

/// <summary>A streamed piece of one row's completion.</summary>
public sealed record TokenEvent(int Row, int TokenId, string TextDelta);
