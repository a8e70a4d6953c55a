using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using ReasonSharp.Configuration;

namespace ReasonSharp.Training;

/// <summary>
/// The options of a training run, named as transformers' TrainingArguments (snake_case there, PascalCase here) with
/// its defaults. SFT, GRPO and rejection-sampling configs derive from it (as TRL's configs extend TrainingArguments),
/// so a recipe is one flat set of keys. Serialised with snake_case keys.
/// </summary>
public record TrainingOptions
{
    /// <summary>Folder of the run: options, metrics, checkpoints, final model and report.</summary>
    public string OutputDir { get; init; } = "trainer_output";

    /// <summary>The options as bound (YAML, loads back with --config), saved in output_dir by every trainer.</summary>
    public const string RecipeFile = "config.yaml";
    /// <summary>Peak learning rate of AdamWOptimizer.</summary>
    public double LearningRate { get; init; } = 5e-5;
    /// <summary>Decoupled weight decay of AdamW, applied to matrices only (see
    /// <see cref="WeightDecayAllParameters"/>).</summary>
    public double WeightDecay { get; init; }
    /// <summary>Also decay norms, biases and embeddings (off: they are excluded, as is usual for
    /// transformers).</summary>
    public bool WeightDecayAllParameters { get; init; }
    /// <summary>AdamWOptimizer β1 (first-moment decay).</summary>
    public double AdamBeta1 { get; init; } = 0.9;
    /// <summary>AdamWOptimizer β2 (second-moment decay).</summary>
    public double AdamBeta2 { get; init; } = 0.999;
    /// <summary>AdamWOptimizer ε added to the denominator.</summary>
    public double AdamEpsilon { get; init; } = 1e-8;
    /// <summary>adamw_torch (libtorch's element-wise ops' numbers bit for bit, float32 CPU parameters in one pass)
    /// or adamw_torch_fused (float32 CPU parameters in one pass, equal up to float rounding), as transformers' `optim`.
    /// Default adamw_torch, not transformers' fused one for torch ≥ 2.8: with it the quickstart's seed 1 reached GRPO
    /// 74.8 % against 89.2 % (BENCHMARKS.md).</summary>
    public string Optim { get; init; } = "adamw_torch";
    /// <summary>Clip the global gradient L2 norm to this value (0 or less: no clipping; the norm is still
    /// reported).</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>linear, cosine, constant or constant_with_warmup (as transformers' get_scheduler).</summary>
    public string LrSchedulerType { get; init; } = "linear";
    /// <summary>Fraction of the total steps used for linear warmup (ignored when <see cref="WarmupSteps"/> &gt;
    /// 0).</summary>
    public double WarmupRatio { get; init; }
    /// <summary>Number of linear warmup steps; overrides <see cref="WarmupRatio"/> when positive.</summary>
    public int WarmupSteps { get; init; }
    /// <summary>Epochs over the task's data when <see cref="MaxSteps"/> is not positive.</summary>
    public double NumTrainEpochs { get; init; } = 3.0;
    /// <summary>Total optimizer steps; overrides <see cref="NumTrainEpochs"/> when positive.</summary>
    public long MaxSteps { get; init; } = -1;
    /// <summary>Sequences per micro-batch.</summary>
    public int PerDeviceTrainBatchSize { get; init; } = 8;
    /// <summary>Sequences per evaluation batch.</summary>
    public int PerDeviceEvalBatchSize { get; init; } = 8;
    /// <summary>Micro-batches whose gradients are summed before one optimizer step.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;
    /// <summary>Write metrics every this many optimizer steps.</summary>
    public int LoggingSteps { get; init; } = 500;
    /// <summary>Also log after the first step.</summary>
    public bool LoggingFirstStep { get; init; }
    /// <summary>"no" or "steps" (evaluate every <see cref="EvalSteps"/>).</summary>
    public string EvalStrategy { get; init; } = "no";
    /// <summary>Evaluate every this many steps with eval_strategy "steps" (null: <see cref="LoggingSteps"/>).</summary>
    public int? EvalSteps { get; init; }
    /// <summary>"no" or "steps" (checkpoint every <see cref="SaveSteps"/>).</summary>
    public string SaveStrategy { get; init; } = "steps";
    /// <summary>Write a checkpoint every this many steps.</summary>
    public int SaveSteps { get; init; } = 500;
    /// <summary>Keep only the newest this many checkpoints (null: keep all).</summary>
    public int? SaveTotalLimit { get; init; }
    /// <summary>Seed of torch's generator and of the data order.</summary>
    public long Seed { get; init; } = 42;
    /// <summary>Recompute each decoder layer's activations in backward instead of keeping them.</summary>
    public bool GradientCheckpointing { get; init; }
    /// <summary>Stop with an error once this many steps had a non-finite loss or gradient norm (each is
    /// skipped).</summary>
    public int MaxNanSteps { get; init; } = 10;
    /// <summary>A checkpoint folder to continue from, or "latest" for the newest complete one in
    /// <see cref="OutputDir"/>.</summary>
    public string? ResumeFromCheckpoint { get; init; }
    /// <summary>
    /// Start over in an <see cref="OutputDir"/> that holds another run: its files (checkpoints, metrics, model) are
    /// deleted first. Without it such a folder is refused (see <see cref="RunFolder"/>).
    /// </summary>
    public bool OverwriteOutputDir { get; init; }
    /// <summary>No progress bar (plain log lines only).</summary>
    public bool DisableTqdm { get; init; }
    /// <summary>Write report.html with plots at the end of the run.</summary>
    public bool WriteReport { get; init; } = true;
    /// <summary>Publish the trained model (output_dir, less checkpoints) to the Hub as <see cref="HubModelId"/> at the
    /// end of the run (HF_TOKEN).</summary>
    public bool PushToHub { get; init; }
    /// <summary>The repository push_to_hub publishes to: org/name.</summary>
    public string? HubModelId { get; init; }
    /// <summary>Create the repository as private when push_to_hub creates it.</summary>
    public bool HubPrivateRepo { get; init; }

    public static readonly string[] SchedulerTypes = ["linear", "cosine", "constant", "constant_with_warmup"];
    public static readonly string[] Optimizers = ["adamw_torch", "adamw_torch_fused"];

    /// <summary>Throws a <see cref="ReasonSharpException"/> naming the first invalid field.</summary>
    public virtual void Validate()
    {
        Check(!string.IsNullOrWhiteSpace(OutputDir), "output_dir", "a folder path", OutputDir);
        Check(LearningRate >= 0 && double.IsFinite(LearningRate), "learning_rate", "a finite number >= 0",
            LearningRate);
        Check(WeightDecay >= 0, "weight_decay", "a number >= 0", WeightDecay);
        Check(AdamBeta1 is >= 0 and < 1, "adam_beta1", "a number in [0, 1)", AdamBeta1);
        Check(AdamBeta2 is >= 0 and < 1, "adam_beta2", "a number in [0, 1)", AdamBeta2);
        Check(AdamEpsilon > 0, "adam_epsilon", "a number > 0", AdamEpsilon);
        Check(Optimizers.Contains(Optim), "optim", string.Join(" or ", Optimizers), Optim);
        Check(SchedulerTypes.Contains(LrSchedulerType), "lr_scheduler_type", string.Join(", ", SchedulerTypes),
            LrSchedulerType);
        Check(WarmupRatio is >= 0 and <= 1, "warmup_ratio", "a number in [0, 1]", WarmupRatio);
        Check(WarmupSteps >= 0, "warmup_steps", "an integer >= 0", WarmupSteps);
        Check(MaxSteps > 0 || NumTrainEpochs > 0, "num_train_epochs", "a number > 0 when max_steps is not set",
            NumTrainEpochs);
        Check(PerDeviceTrainBatchSize > 0, "per_device_train_batch_size", "an integer > 0", PerDeviceTrainBatchSize);
        Check(PerDeviceEvalBatchSize > 0, "per_device_eval_batch_size", "an integer > 0", PerDeviceEvalBatchSize);
        Check(GradientAccumulationSteps > 0, "gradient_accumulation_steps", "an integer > 0",
            GradientAccumulationSteps);
        Check(LoggingSteps > 0, "logging_steps", "an integer > 0", LoggingSteps);
        Check(EvalStrategy is "no" or "steps", "eval_strategy", "no or steps", EvalStrategy);
        Check(EvalSteps is null or > 0, "eval_steps", "an integer > 0", EvalSteps);
        Check(SaveStrategy is "no" or "steps", "save_strategy", "no or steps", SaveStrategy);
        Check(SaveSteps > 0, "save_steps", "an integer > 0", SaveSteps);
        Check(SaveTotalLimit is null or > 0, "save_total_limit", "an integer > 0", SaveTotalLimit);
        Check(MaxNanSteps > 0, "max_nan_steps", "an integer > 0", MaxNanSteps);
        Check(!PushToHub || HubModelId is { Length: > 0 }, "hub_model_id", "org/name when push_to_hub is true",
            HubModelId);
        if (HubModelId is { Length: > 0 } id)
            Check(Hub.HubRepo.LooksLikeIdForm(id), "hub_model_id", "a Hub repository id, org/name", id);
    }

    /// <summary>Throws a <see cref="ReasonSharpException"/> for option <paramref name="field"/> unless
    /// <paramref name="ok"/>.</summary>
    protected static void Check(bool ok, string field, string expected, object? value)
    {
        if (!ok) throw new ReasonSharpException($"training option '{field}' is {value ?? "null"}; expected {expected}");
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { FlattenAttribute.JsonModifier } },
    };

    /// <summary>Every option (of the derived config too) under its snake_case name.</summary>
    public JsonObject ToJson() => (JsonObject)JsonSerializer.SerializeToNode(this, GetType(), Json)!;
}
