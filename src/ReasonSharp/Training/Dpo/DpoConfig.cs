namespace ReasonSharp.Training.Dpo;

/// <summary>How the preference loss is computed from the policy's and reference's log-probs (TRL's `loss_type`).
/// </summary>
public enum DpoLossType
{
    /// <summary>DPO: −log σ(β·Δ), with label_smoothing for conservative DPO.</summary>
    Sigmoid,
    /// <summary>IPO: (Δ − 1/(2β))², on log-probs averaged over each completion's tokens.</summary>
    Ipo,
    /// <summary>SLiC's hinge: max(0, 1 − β·Δ).</summary>
    Hinge,
    /// <summary>APO-zero: push the chosen likelihood up and the rejected one down (chosen better than the model's own
    /// outputs).</summary>
    ApoZero,
    /// <summary>APO-down: push both down, the rejected one more (chosen worse than the model's own outputs).</summary>
    ApoDown,
}

/// <summary>
/// Options of a DPO run: TRL's DPOConfig names and defaults (learning_rate 1e-6, beta 0.1, loss_type sigmoid,
/// label_smoothing 0, rpo_alpha off, precompute_ref_log_probs off, max_length 1024, max_prompt_length 512,
/// truncation_mode keep_end, logging_steps 10, gradient_checkpointing on) and the model, dataset and LoRA options of
/// <see cref="ModelTrainingOptions"/>. The reference model is the starting model: a frozen copy, the LoRA base with
/// adapters off (no copy), or, with precompute_ref_log_probs, log-probs computed once before training (no copy).
/// </summary>
public sealed record DpoConfig : ModelTrainingOptions
{
    public DpoConfig()
    {
        LearningRate = 1e-6;
        LoggingSteps = 10;
        GradientCheckpointing = true;
    }

    /// <summary>Strength of the implicit KL constraint: higher stays closer to the reference.</summary>
    public double Beta { get; init; } = 0.1;
    public DpoLossType LossType { get; init; } = DpoLossType.Sigmoid;
    /// <summary>Probability that a pair's label is flipped (conservative DPO, cDPO); sigmoid loss only.</summary>
    public double LabelSmoothing { get; init; }
    /// <summary>RPO: adds this times the chosen completions' token-mean negative log-likelihood; null: off.</summary>
    public double? RpoAlpha { get; init; }
    /// <summary>Compute the reference log-probs of every pair once before training, so no reference copy is
    /// kept.</summary>
    public bool PrecomputeRefLogProbs { get; init; }

    /// <summary>Most tokens of prompt + completion; longer pairs are cut by truncation_mode. null: no limit.</summary>
    public int? MaxLength { get; init; } = 1024;
    /// <summary>Most prompt tokens (the end of the prompt is kept); null: no limit.</summary>
    public int? MaxPromptLength { get; init; } = 512;
    /// <summary>Most completion tokens (the start is kept); null: no limit.</summary>
    public int? MaxCompletionLength { get; init; }
    /// <summary>keep_end (cut the start of the prompt) or keep_start (cut the end of the completion) when a sequence
    /// is longer than max_length.</summary>
    public string TruncationMode { get; init; } = "keep_end";

    public static readonly string[] TruncationModes = ["keep_end", "keep_start"];

    public override void Validate()
    {
        base.Validate();
        CheckModelAndDataset("a preference data file (prompt/chosen/rejected) or dataset folder");
        Check(Beta > 0 && double.IsFinite(Beta), "beta", "a number > 0", Beta);
        Check(LabelSmoothing is >= 0 and < 0.5, "label_smoothing", "a number in [0, 0.5)", LabelSmoothing);
        Check(LabelSmoothing == 0 || LossType == DpoLossType.Sigmoid, "label_smoothing",
            "0 unless loss_type is sigmoid (conservative DPO)", LabelSmoothing);
        Check(RpoAlpha is null or >= 0, "rpo_alpha", "a number >= 0 or null", RpoAlpha);
        Check(MaxLength is null or >= 2, "max_length", "an integer >= 2 or null", MaxLength);
        Check(MaxPromptLength is null or >= 1, "max_prompt_length", "an integer >= 1 or null", MaxPromptLength);
        Check(MaxCompletionLength is null or >= 1, "max_completion_length", "an integer >= 1 or null",
            MaxCompletionLength);
        Check(TruncationModes.Contains(TruncationMode), "truncation_mode", string.Join(" or ", TruncationModes),
            TruncationMode);
    }
}
