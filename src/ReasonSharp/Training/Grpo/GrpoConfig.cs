using ReasonSharp.Configuration;
using ReasonSharp.Generation;

namespace ReasonSharp.Training.Grpo;

/// <summary>
/// GRPO settings with TRL's GRPOConfig names and defaults (learning_rate 1e-6, num_generations 8, beta 0, epsilon 0.2,
/// loss_type dapo, scale_rewards group, logging_steps 10). Differences, each for a reason:
/// gradient_checkpointing defaults to false (TRL: true) because CPU runs of small models are compute-bound, not
/// memory-bound;
/// reward_funcs defaults to [accuracy, format] (TRL takes functions in code; the seed recipe uses these two);
/// num_generations_eval null means one greedy completion (ReasonSharp's evaluation; TRL: num_generations sampled);
/// engine_importance_sampling_* are TRL's vllm_importance_sampling_* for ReasonSharp's engine, off by default (TRL's
/// default acts only with vLLM). advantage_estimator, kl_in_reward (verl, OpenRLHF) and normalize_advantages (TRL's
/// RLOOConfig) put RLOO and REINFORCE++ on this trainer (docs/grpo.md).
/// The model, dataset and LoRA options are <see cref="ModelTrainingOptions"/>'s, with GRPO's own defaults:
/// model_name_or_path and dataset_name "" (required), lora_target_modules [q_proj, k_proj, v_proj, o_proj].
/// eval_dataset_name's prompts give eval_accuracy (greedy, verified by the reward functions).
/// </summary>
public sealed record GrpoConfig : ModelTrainingOptions
{
    public GrpoConfig()
    {
        LearningRate = 1e-6;
        LoggingSteps = 10;
        ModelNameOrPath = "";
        DatasetName = "";
        LoraTargetModules = ["q_proj", "k_proj", "v_proj", "o_proj"];
    }

    /// <summary>Generate with thinking on (Qwen3 enable_thinking / dual-mode /think).</summary>
    public bool EnableThinking { get; init; } = true;

    public int NumGenerations { get; init; } = 8;
    /// <summary>Completions per held-out prompt at evaluation, sampled with the training decoding settings (null: one
    /// greedy completion; TRL: num_generations sampled).</summary>
    public int? NumGenerationsEval { get; init; }
    /// <summary>Micro-batches of per_device_train_batch_size completions one generation batch is split into (null:
    /// gradient_accumulation_steps, or generation_batch_size / per_device_train_batch_size).</summary>
    public int? StepsPerGeneration { get; init; }
    /// <summary>Completions per generation batch (null: per_device_train_batch_size × steps_per_generation). Set this
    /// or steps_per_generation, not both.</summary>
    public int? GenerationBatchSize { get; init; }
    /// <summary>Prompts longer than this are cut from the left (null = no limit).</summary>
    public int? MaxPromptLength { get; init; } = 512;
    public int MaxCompletionLength { get; init; } = 256;
    /// <summary>temperature, top_p, top_k, min_p and repetition_penalty, with TRL's defaults (1.0, 1.0, 0, 0,
    /// 1.0).</summary>
    [Flatten] public SamplingSettings Sampling { get; init; } = new();

    /// <summary>Reward functions from the reward library, each optionally with options:
    /// "format(style=think)".</summary>
    public IReadOnlyList<string> RewardFuncs { get; init; } = ["accuracy", "format"];
    /// <summary>One weight per reward function (null = all 1.0).</summary>
    public IReadOnlyList<double>? RewardWeights { get; init; }
    /// <summary>grpo (group mean, scale_rewards), rloo (leave-one-out mean, TRL's RLOOTrainer) or reinforce_plus_plus
    /// (batch-whitened returns, OpenRLHF).</summary>
    public AdvantageEstimator AdvantageEstimator { get; init; } = AdvantageEstimator.Grpo;
    /// <summary>Group-relative scaling of grpo's advantages.</summary>
    public ScaleRewards ScaleRewards { get; init; } = ScaleRewards.Group;
    /// <summary>rloo: whiten the advantages over the generation batch (TRL RLOOConfig's
    /// normalize_advantages).</summary>
    public bool NormalizeAdvantages { get; init; }
    /// <summary>Put β·KL into the reward instead of the loss (null: the estimator's own place: the loss for grpo, the
    /// reward for rloo and reinforce_plus_plus).</summary>
    public bool? KlInReward { get; init; }
    public GrpoLossType LossType { get; init; } = GrpoLossType.Dapo;
    /// <summary>KL coefficient against the reference model (0 = no reference is built).</summary>
    public double Beta { get; init; } = 0.0;
    /// <summary>μ: optimizer steps per generation batch, with the stored old log-probs.</summary>
    public int NumIterations { get; init; } = 1;
    /// <summary>token (GRPO), sequence (GSPO: one ratio per completion, exp of the mean log-ratio) or sequence_token
    /// (GSPO-token, TRL's experimental trainer).</summary>
    public ImportanceSamplingLevel ImportanceSamplingLevel { get; init; } = ImportanceSamplingLevel.Token;
    public double Epsilon { get; init; } = 0.2;
    /// <summary>Upper clipping bound (null = epsilon; DAPO recommends 0.28).</summary>
    public double? EpsilonHigh { get; init; }
    /// <summary>Exclude completions that hit max_completion_length from the loss (DAPO).</summary>
    public bool MaskTruncatedCompletions { get; init; }
    /// <summary>Keep only the top-ρ quantile of tokens by entropy in the policy loss (1 = all).</summary>
    public double TopEntropyQuantile { get; init; } = 1.0;
    /// <summary>Mix the policy into the reference every ref_model_sync_steps: ref = α·policy + (1−α)·ref
    /// (TR-DPO).</summary>
    public bool SyncRefModel { get; init; }
    public double RefModelMixupAlpha { get; init; } = 0.6;
    public int RefModelSyncSteps { get; init; } = 512;
    /// <summary>DAPO dynamic sampling: drop prompt groups whose rewards all tie and sample more prompts to refill the
    /// batch.</summary>
    public bool DynamicSampling { get; init; }
    /// <summary>Extra sampling rounds allowed per step to refill dropped groups.</summary>
    public int MaxDynamicSamplingRounds { get; init; } = 3;
    /// <summary>Split micro-batches so that none holds more than this many tokens (null = per_device_train_batch_size
    /// completions).</summary>
    public int? MaxTokensPerMicroBatch { get; init; }
    /// <summary>Weight the loss by the ratio of the trainer's to the generation engine's probabilities (TRL's
    /// vllm_importance_sampling_correction; off here, as TRL without vLLM).</summary>
    public bool EngineImportanceSamplingCorrection { get; init; }
    public EngineImportanceSamplingMode EngineImportanceSamplingMode { get; init; } =
        EngineImportanceSamplingMode.SequenceMask;
    /// <summary>Upper bound of the engine importance weights: truncated to it, or masked above it (null:
    /// none).</summary>
    public double? EngineImportanceSamplingClipMax { get; init; } = 3.0;
    /// <summary>Lower bound of the engine importance weights (null: none).</summary>
    public double? EngineImportanceSamplingClipMin { get; init; }
    /// <summary>Write sample prompts, completions, rewards and advantages at each logging step (completions.jsonl and
    /// the report).</summary>
    public bool LogCompletions { get; init; }
    public int NumCompletionsToPrint { get; init; } = 8;

    public double EpsilonUpper => EpsilonHigh ?? Epsilon;

    /// <summary>Micro-batches one generation batch is split into (TRL: steps_per_generation).</summary>
    public int MicroStepsPerGeneration =>
        StepsPerGeneration ?? (GenerationBatchSize is { } size ? size / PerDeviceTrainBatchSize
            : GradientAccumulationSteps);

    /// <summary>Completions sampled per generation batch (TRL: generation_batch_size).</summary>
    public int CompletionsPerGeneration => PerDeviceTrainBatchSize * MicroStepsPerGeneration;

    public int PromptsPerGeneration => CompletionsPerGeneration / NumGenerations;

    /// <summary>Completions trained on per optimizer step.</summary>
    public int CompletionsPerStep => PerDeviceTrainBatchSize * GradientAccumulationSteps;

    /// <summary>Whether the stored old log-probs enter the ratio: the policy can change between a generation and the
    /// last step that trains on it (TRL: gradient_accumulation_steps % (steps_per_generation × num_iterations) ≠
    /// 0).</summary>
    public bool OffPolicy => GradientAccumulationSteps % (MicroStepsPerGeneration * NumIterations) != 0;

    /// <summary>Where β·KL goes: the reward (rloo, reinforce_plus_plus by default) or the loss (grpo).</summary>
    public bool KlInRewardResolved => KlInReward ?? AdvantageEstimator != AdvantageEstimator.Grpo;

    public override void Validate()
    {
        base.Validate();
        CheckModelAndDataset("a dataset file or folder");
        Check(NumGenerations >= 2, "num_generations", "an integer ≥ 2 (advantages compare completions of one prompt)",
            NumGenerations);
        Check(StepsPerGeneration is null || GenerationBatchSize is null, "steps_per_generation",
            "null when generation_batch_size is set (set one of the two)", StepsPerGeneration);
        Check(StepsPerGeneration is null or > 0, "steps_per_generation", "an integer > 0 or null", StepsPerGeneration);
        Check(GenerationBatchSize is null || (GenerationBatchSize > 0
            && GenerationBatchSize % PerDeviceTrainBatchSize == 0), "generation_batch_size",
            $"a positive multiple of per_device_train_batch_size ({PerDeviceTrainBatchSize}) or null",
            GenerationBatchSize);
        Check(CompletionsPerGeneration % NumGenerations == 0, "num_generations",
            $"a divisor of the generation batch ({CompletionsPerGeneration} completions: per_device_train_batch_size " +
            "× steps_per_generation, which defaults to gradient_accumulation_steps)", NumGenerations);
        Check(NumGenerationsEval is null or > 0, "num_generations_eval", "an integer > 0 or null", NumGenerationsEval);
        Check(!NormalizeAdvantages || AdvantageEstimator == AdvantageEstimator.Rloo, "normalize_advantages",
            "false unless advantage_estimator is rloo (grpo scales with scale_rewards; reinforce_plus_plus always " +
            "normalises)", NormalizeAdvantages);
        Check(EngineImportanceSamplingClipMax is null or > 0, "engine_importance_sampling_clip_max",
            "a number > 0 or null", EngineImportanceSamplingClipMax);
        Check(EngineImportanceSamplingClipMin is null or >= 0, "engine_importance_sampling_clip_min",
            "a number ≥ 0 or null", EngineImportanceSamplingClipMin);
        Check(EngineImportanceSamplingClipMin is null || EngineImportanceSamplingClipMax is null
            || EngineImportanceSamplingClipMin < EngineImportanceSamplingClipMax, "engine_importance_sampling_clip_min",
            $"below engine_importance_sampling_clip_max ({EngineImportanceSamplingClipMax})",
            EngineImportanceSamplingClipMin);
        Check(MaxCompletionLength > 0, "max_completion_length", "an integer > 0", MaxCompletionLength);
        Check(MaxPromptLength is null or > 0, "max_prompt_length", "an integer > 0 or null", MaxPromptLength);
        Sampling.Validate(sampledBy: "GRPO");
        Check(Beta >= 0, "beta", "a number ≥ 0", Beta);
        Check(NumIterations >= 1, "num_iterations", "an integer ≥ 1", NumIterations);
        Check(Epsilon is > 0 and < 1, "epsilon", "a number in (0, 1)", Epsilon);
        Check(EpsilonUpper > 0, "epsilon_high", "a number > 0", EpsilonHigh);
        Check(TopEntropyQuantile is >= 0 and <= 1, "top_entropy_quantile", "a number in [0, 1]", TopEntropyQuantile);
        Check(RefModelMixupAlpha is >= 0 and <= 1, "ref_model_mixup_alpha", "a number in [0, 1]", RefModelMixupAlpha);
        Check(RefModelSyncSteps > 0, "ref_model_sync_steps", "an integer > 0", RefModelSyncSteps);
        Check(!(SyncRefModel && UsePeft), "sync_ref_model",
            "false with use_peft (the LoRA reference is the frozen base)", SyncRefModel);
        Check(RewardFuncs.Count > 0, "reward_funcs", "at least one reward function", "[]");
        Check(RewardWeights is null || RewardWeights.Count == RewardFuncs.Count, "reward_weights",
            $"one weight per reward function ({RewardFuncs.Count})",
            RewardWeights is null ? null : $"{RewardWeights.Count} weights");
        Check(MaxTokensPerMicroBatch is null or > 0, "max_tokens_per_micro_batch", "an integer > 0",
            MaxTokensPerMicroBatch);
    }
}
