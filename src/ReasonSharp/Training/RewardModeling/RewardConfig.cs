namespace ReasonSharp.Training.RewardModeling;

/// <summary>
/// Options of a reward model run: TRL's RewardConfig names and defaults (learning_rate 1e-4, max_length 1024 with
/// longer pairs dropped, center_rewards_coefficient null, logging_steps 10, gradient_checkpointing on) and the model
/// and dataset options of <see cref="ModelTrainingOptions"/>. The full model and the score head are trained; LoRA is
/// not supported (PEFT would need modules_to_save for the fresh score head).
/// </summary>
public sealed record RewardConfig : ModelTrainingOptions
{
    public RewardConfig()
    {
        LearningRate = 1e-4;
        LoggingSteps = 10;
        GradientCheckpointing = true;
    }

    /// <summary>Most tokens of prompt + completion; a pair with a longer side is dropped (TRL filters them out).
    /// null: no limit.</summary>
    public int? MaxLength { get; init; } = 1024;
    /// <summary>Adds this times mean((r_chosen + r_rejected)²) to the loss, pulling rewards towards mean zero
    /// (Eisenstein et al. 2023, recommended 0.01); null: off.</summary>
    public double? CenterRewardsCoefficient { get; init; }

    public override void Validate()
    {
        base.Validate();
        CheckModelAndDataset("a preference data file (chosen/rejected, optional prompt and margin) or dataset folder");
        Check(MaxLength is null or >= 2, "max_length", "an integer >= 2 or null", MaxLength);
        Check(CenterRewardsCoefficient is null or >= 0 && (CenterRewardsCoefficient is null
            || double.IsFinite(CenterRewardsCoefficient.Value)), "center_rewards_coefficient",
            "a number >= 0 or null", CenterRewardsCoefficient);
        Check(!UsePeft, "use_peft", "false: reward models train the full model (LoRA would need modules_to_save " +
            "for the score head, which ReasonSharp's PEFT adapters do not support)", UsePeft);
    }
}
