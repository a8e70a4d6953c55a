using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using ReasonSharp.Training.Lora;
using static TorchSharp.torch;

namespace ReasonSharp.Training;

/// <summary>
/// What a trainer (SFT, GRPO, rejection sampling) plugs into the one training loop: how the batches of a step are made
/// and how a micro-batch's loss is computed. Everything else (optimizer, schedule, accumulation, clipping, NaN guard,
/// checkpoints, logging, evaluation timing) is the loop's.
/// </summary>
public interface ITrainingTask
{
    /// <summary>Called once before the first step (fresh or resumed), before <see cref="LoadState"/>.</summary>
    void Initialize(TrainingContext context);

    /// <summary>Optimizer steps in one pass over the data, or null when the task has no epochs (then max_steps is
    /// required).</summary>
    long? StepsPerEpoch { get; }

    /// <summary>The micro-batches of the next optimizer step (GRPO generates and scores its rollouts here).</summary>
    TrainingStep NextStep(TrainingContext context);

    /// <summary>
    /// The loss of one micro-batch with autograd: a scalar, the mean over the micro-batch's
    /// <see cref="MicroBatch.Weight"/>
    /// units. The loop back-propagates loss · weight / (sum of the step's weights), so the step's loss is the weighted
    /// mean.
    /// </summary>
    LossResult ComputeLoss(TrainingContext context, MicroBatch batch);

    /// <summary>Held-out metrics (names without prefix; the loop adds "eval_"), or null when the task has nothing to
    /// evaluate.</summary>
    IReadOnlyDictionary<string, double>? Evaluate(TrainingContext context) => null;

    /// <summary>The data position (and anything else the task must restore to continue exactly).</summary>
    JsonNode SaveState();

    void LoadState(JsonNode state);
}

/// <summary>One micro-batch; the task subclasses it with its tensors. The loop disposes it after its backward
/// pass.</summary>
public abstract class MicroBatch : IDisposable
{
    /// <summary>How much this micro-batch counts in the step's loss (e.g. its number of loss tokens or
    /// sequences).</summary>
    public required double Weight { get; init; }
    /// <summary>Tokens processed (for tokens/s).</summary>
    public required long Tokens { get; init; }

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <param name="MicroBatches">Accumulated into one optimizer step.</param>
/// <param name="Metrics">Step-level metrics the task measured while building the batches (rewards, generation
/// time…).</param>
public sealed record TrainingStep(IReadOnlyList<MicroBatch> MicroBatches,
    IReadOnlyDictionary<string, double>? Metrics = null);

/// <param name="Loss">Scalar with autograd (see <see cref="ITrainingTask.ComputeLoss"/>).</param>
/// <param name="Metrics">Per-micro-batch metrics; the loop averages them over the step by weight.</param>
public sealed record LossResult(Tensor Loss, IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>What a task sees of the run.</summary>
public sealed class TrainingContext
{
    public required CausalLM Model { get; init; }
    public required TrainingOptions Options { get; init; }
    /// <summary>The run's random generator, saved in checkpoints; draw from it for anything random on the data
    /// side.</summary>
    public required TrainingRandom Random { get; init; }
    /// <summary>The LoRA adapters when training them (GRPO's reference is the model with them disabled).</summary>
    public LoraAdapters? Adapters { get; init; }
    /// <summary>Optimizer steps completed so far.</summary>
    public long GlobalStep { get; internal set; }
    /// <summary>Total optimizer steps of the run.</summary>
    public long MaxSteps { get; internal set; }
    public Device Device => Model.Device;
}
