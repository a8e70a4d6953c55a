using ReasonSharp.Data;
using ReasonSharp.Rewards;

namespace ReasonSharp.Training.Sft;

/// <summary>
/// Options of a supervised fine-tuning run: TRL's SFTConfig names and defaults where they apply (learning_rate 2e-5,
/// logging_steps 10, gradient_checkpointing on, max_length 1024, packing off with the "bfd" strategy), TRL's
/// ModelConfig LoRA names (use_peft, lora_r 16, lora_alpha 32, lora_dropout 0.05), Open-R1's dataset names, and
/// ReasonSharp's own (model folder, chat format, trace conversion, dual-mode mixing, held-out accuracy). One flat set
/// of snake_case keys; the model, dataset and LoRA options are <see cref="ModelTrainingOptions"/>'s.
/// Deviation from TRL: assistant_only_loss defaults to true, because reasoning distillation trains on the teacher's
/// answers, not on the prompts.
/// </summary>
public record SftConfig : ModelTrainingOptions
{
    public SftConfig()
    {
        LearningRate = 2e-5;
        LoggingSteps = 10;
        GradientCheckpointing = true;
    }

    // Data

    /// <summary>messages, sharegpt, prompt-completion, question-answer or problem-solution; null: recognised from the
    /// first row.</summary>
    public string? DatasetSchema { get; init; }
    /// <summary>Re-render every assistant turn in this trace style (think_answer, deep_seek_r1, open_thoughts); null:
    /// keep.</summary>
    public TraceStyle? TraceStyle { get; init; }
    /// <summary>Dual-mode mixing: this share of examples keeps its thinking with /think, the rest is stripped with
    /// /no_think; null: off.</summary>
    public double? ThinkFraction { get; init; }

    // Tokens and loss

    /// <summary>Truncate each tokenized example to this many tokens (keeping the start); null: no truncation. With
    /// packing, the row length.</summary>
    public int? MaxLength { get; init; } = 1024;
    /// <summary>Only "keep_start" (TRL's only non-deprecated mode).</summary>
    public string TruncationMode { get; init; } = "keep_start";
    /// <summary>Pack examples into rows of max_length tokens.</summary>
    public bool Packing { get; init; }
    /// <summary>Only "bfd": best-fit decreasing, each example whole (truncated to max_length first).</summary>
    public string PackingStrategy { get; init; } = "bfd";
    /// <summary>Pack the held-out data too; null: as packing.</summary>
    public bool? EvalPacking { get; init; }
    /// <summary>Loss only on the final assistant turn (the completion); null: true for prompt/completion-style
    /// datasets.</summary>
    public bool? CompletionOnlyLoss { get; init; }
    /// <summary>Loss only on assistant turns (the assistant mask of the chat format). Default true (TRL:
    /// false).</summary>
    public bool AssistantOnlyLoss { get; init; } = true;

    // Held-out accuracy

    /// <summary>Reward that verifies greedy completions of held-out prompts at each evaluation (e.g. accuracy,
    /// countdown); null: off.</summary>
    public string? EvalReward { get; init; }
    /// <summary>Most tokens generated per held-out prompt.</summary>
    public int EvalMaxNewTokens { get; init; } = 512;

    /// <summary>The SFT options alone, as a plain SftConfig (of a derived config such as STaR's), by the record's copy
    /// constructor.</summary>
    public SftConfig SftPart() => new(this);

    public static readonly string[] Schemas =
        ["messages", "sharegpt", "prompt-completion", "question-answer", "problem-solution"];

    public override void Validate()
    {
        base.Validate();
        Check(MaxLength is null or >= 2, "max_length", "an integer >= 2 or null", MaxLength);
        Check(TruncationMode == "keep_start", "truncation_mode", "keep_start", TruncationMode);
        Check(PackingStrategy == "bfd", "packing_strategy",
            "bfd (best-fit decreasing; bfd_split and wrapped are not implemented)", PackingStrategy);
        Check(!(Packing || EvalPacking == true) || MaxLength is not null, "max_length", "a row length when packing",
            MaxLength);
        Check(ThinkFraction is null || (ThinkFraction >= 0 && ThinkFraction <= 1), "think_fraction",
            "a number in [0, 1] or null", ThinkFraction);
        Check(DatasetSchema is null || Schemas.Contains(DatasetSchema), "dataset_schema",
            string.Join(", ", Schemas) + " or null", DatasetSchema);
        Check(EvalMaxNewTokens > 0, "eval_max_new_tokens", "an integer > 0", EvalMaxNewTokens);
        Check(EvalReward is null || EvalStrategy == "steps", "eval_reward",
            "null unless eval_strategy is steps (accuracy is measured at each evaluation)", EvalReward);
        // Only the form is checked here: the name is looked up in the run's registry (a custom reward is known only
        // there), and creating the reward (a judge model for process_lm) waits for the run.
        Named("eval_reward", () => { if (EvalReward is not null) EvalRewardSpec(); });
    }

    /// <summary>Fails, naming eval_reward, when it names no reward of <paramref name="registry"/>.</summary>
    public void CheckEvalRewardIsKnown(RewardRegistry registry) =>
        Named("eval_reward", () =>
        {
            if (EvalReward is not null && !registry.Contains(EvalRewardSpec().Name))
                registry.Create(EvalRewardSpec().Name);
        });

    /// <summary>The one reward named by eval_reward (options allowed: "accuracy(…)").</summary>
    public RewardSpec EvalRewardSpec()
    {
        var specs =
            RewardSpec.ParseList(EvalReward
            ?? throw new ReasonSharpException("training option 'eval_reward' is null; expected a reward name such " +
            "as accuracy or countdown"));
        if (specs.Count != 1)
            throw new ReasonSharpException($"training option 'eval_reward' is '{EvalReward}'; expected one reward " +
                $"(accuracy, countdown, …): accuracy counts completions it scores 1");
        return specs[0];
    }

    /// <summary>The one reward function named by eval_reward, from <paramref name="registry"/> (default: the
    /// built-ins).</summary>
    public IRewardFunction EvalRewardFunction(RewardRegistry? registry = null)
    {
        var spec = EvalRewardSpec();
        IRewardFunction? reward = null;
        Named("eval_reward",
            () => reward = (registry ?? RewardRegistry.CreateDefault()).Create(spec.Name, spec.Options));
        return reward!;
    }
}
