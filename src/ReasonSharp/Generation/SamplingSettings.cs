using System.Globalization;

namespace ReasonSharp.Generation;

/// <summary>
/// The sampling knobs a user sets (temperature, top_p, top_k, min_p, repetition_penalty), declared once: every options
/// record that samples flattens them (<c>[Flatten] Sampling</c>), so recipes and --set keep the flat keys. The defaults
/// here are the engine's "off" values; each job sets its own (GRPO 1.0 / 1.0, evaluation 0.6 / 0.95, STaR 0.7 / 1.0).
/// The completion length and the seed stay with each job (max_new_tokens, max_completion_length, seed).
/// </summary>
public sealed record SamplingSettings
{
    /// <summary>Sampling temperature; 0 means greedy.</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep the smallest set of tokens whose probability reaches p (1 = off).</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Keep the k most likely tokens (0 = off).</summary>
    public int TopK { get; init; }
    /// <summary>Drop tokens less likely than min_p times the most likely one (0 = off).</summary>
    public double MinP { get; init; }
    /// <summary>Hugging Face's repetition penalty over prompt and completion tokens (1 = off).</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Checks each knob, naming its key: `temperature: got -1; expected a number ≥ 0`.
    /// <paramref name="sampledBy"/> (e.g. "GRPO") rules out greedy decoding: temperature must then be &gt; 0.</summary>
    public void Validate(string? sampledBy = null) =>
        Check(Temperature, TopP, TopK, MinP, RepetitionPenalty, sampledBy);

    /// <summary>The engine's options for these settings (greedy: argmax decoding, the knobs unused).</summary>
    public SamplingOptions ToSampling(int maxNewTokens, long seed, bool greedy = false) => new()
    {
        MaxNewTokens = maxNewTokens,
        DoSample = !greedy && Temperature > 0,
        Temperature = Temperature,
        TopP = TopP,
        TopK = TopK,
        MinP = MinP,
        RepetitionPenalty = RepetitionPenalty,
        Seed = seed,
    };

    /// <summary>The checks of <see cref="Validate"/>, shared with <see cref="SamplingOptions.Validate"/>.</summary>
    internal static void Check(double temperature, double topP, int topK, double minP, double repetitionPenalty,
        string? sampledBy = null)
    {
        if (sampledBy is not null ? !(temperature > 0) : !(temperature >= 0))
            throw Bad("temperature", temperature,
                sampledBy is null ? "a number ≥ 0 (0: greedy)" : $"a number > 0 ({sampledBy} samples)");
        if (topK < 0) throw Bad("top_k", topK, "an integer ≥ 0 (0: off)");
        if (topP is not (> 0 and <= 1)) throw Bad("top_p", topP, "a number in (0, 1]");
        if (minP is not (>= 0 and < 1)) throw Bad("min_p", minP, "a number in [0, 1)");
        if (!(repetitionPenalty > 0)) throw Bad("repetition_penalty", repetitionPenalty, "a number > 0 (1: off)");
    }

    static ReasonSharpException Bad(string key, IFormattable value, string expected) =>
        new($"{key}: got {value.ToString(null, CultureInfo.InvariantCulture)}; expected {expected}");
}
