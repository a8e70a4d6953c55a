using ReasonSharp.Configuration;
using ReasonSharp.Data;
using ReasonSharp.Generation;
using ReasonSharp.Rewards;

namespace ReasonSharp.Evaluation;

/// <summary>
/// What evaluation and rejection sampling share, flat so that recipes bind it by snake_case key: the slice of the
/// dataset, the reward functions that verify a completion, and the decoding settings with Open-R1's evaluation defaults
/// (temperature 0.6, top-p 0.95). A completion is verified when its total (weighted) reward reaches
/// <see cref="Threshold"/>.
/// </summary>
public abstract record VerifiedGenerationOptions
{
    /// <summary>Each command chooses the split it reads by default (evaluation: test; sampling: train).</summary>
    protected VerifiedGenerationOptions(string datasetSplit) => DatasetSplit = datasetSplit;

    /// <summary>Reward functions that verify a completion ("accuracy", "countdown", "accuracy,format(style=think)",
    /// …).</summary>
    public string Reward { get; init; } = "accuracy";
    /// <summary>A completion is verified (correct) when its total reward reaches this.</summary>
    public double Threshold { get; init; } = 1.0;
    /// <summary>Use only the first N examples.</summary>
    public int? Limit { get; init; }
    /// <summary>Split of a dataset folder (a single file has none).</summary>
    public string? DatasetSplit { get; init; }
    /// <summary>Configuration of a dataset folder with several (e.g. gsm8k's main).</summary>
    public string? DatasetConfig { get; init; }
    /// <summary>Variables passed to the chat template on every rendering (transformers' chat_template_kwargs, e.g.
    /// {enable_thinking: false, tools: …}); enable_thinking: false turns thinking off where it would be on.</summary>
    public IReadOnlyDictionary<string, object?>? ChatTemplateKwargs { get; init; }

    public int MaxNewTokens { get; init; } = 512;
    /// <summary>temperature, top_p, top_k, min_p and repetition_penalty, with Open-R1's evaluation defaults.</summary>
    [Flatten] public SamplingSettings Sampling { get; init; } = new() { Temperature = 0.6, TopP = 0.95 };
    public long Seed { get; init; }
    /// <summary>Rows per call of the generation engine.</summary>
    public int GenerationBatchSize { get; init; } = 64;

    /// <summary>Checks every setting, naming its snake_case key.</summary>
    public virtual void Validate()
    {
        if (!double.IsFinite(Threshold)) throw new ReasonSharpException($"threshold must be a finite number, got " +
            $"{Threshold}");
        if (Limit is < 1) throw new ReasonSharpException($"limit must be at least 1, got {Limit}");
        if (MaxNewTokens < 1) throw new ReasonSharpException($"max_new_tokens must be at least 1, got {MaxNewTokens}");
        Sampling.Validate();
        if (GenerationBatchSize < 1) throw new ReasonSharpException($"generation_batch_size must be at least 1, " +
            $"got {GenerationBatchSize}");
    }

    /// <summary>The engine's sampling options (greedy: argmax decoding, the sampling knobs unused).</summary>
    public SamplingOptions ToSampling(bool greedy = false) => Sampling.ToSampling(MaxNewTokens, Seed, greedy);

    /// <summary>The reward functions named by <see cref="Reward"/>.</summary>
    public CompositeReward CreateReward(RewardRegistry? registry = null) =>
        RewardSpecs.Create(registry ?? RewardRegistry.CreateDefault(), Reward);

    /// <summary>The examples of <paramref name="dataset"/> (a file or dataset folder) with this split, config and
    /// limit.</summary>
    public IReadOnlyList<Example> LoadExamples(string dataset) =>
        DatasetLoading.Load(dataset, DatasetSplit, DatasetConfig, Limit);
}
