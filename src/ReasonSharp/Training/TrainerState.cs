using System.Text.Json;
using System.Text.Json.Nodes;

namespace ReasonSharp.Training;

/// <summary>What happened in one optimizer step.</summary>
/// <param name="Step">1-based step number (global_step after the step).</param>
/// <param name="Loss">Weighted mean loss of the step (NaN when skipped for a non-finite loss).</param>
/// <param name="GradNorm">Global L2 norm of the gradients before clipping.</param>
/// <param name="LearningRate">The learning rate the step used.</param>
/// <param name="Skipped">True when the NaN/Inf guard skipped the update.</param>
/// <param name="Tokens">Tokens processed.</param>
/// <param name="Seconds">Wall time of the step (batches, forward, backward, update).</param>
/// <param name="Metrics">The task's metrics for the step.</param>
public sealed record StepRecord(long Step, double Loss, double GradNorm, double LearningRate, bool Skipped, long Tokens,
    double Seconds,
    IReadOnlyDictionary<string, double> Metrics);

/// <summary>The loop's own state, saved as trainer_state.json in each checkpoint and at the end.</summary>
public sealed class TrainerState
{
    public long GlobalStep { get; set; }
    public long MaxSteps { get; set; }
    public long? StepsPerEpoch { get; set; }
    public int NanSteps { get; set; }
    /// <summary>State of the run's <see cref="TrainingRandom"/>.</summary>
    public string RandomState { get; set; } = "";
    public List<StepRecord> Steps { get; set; } = [];
    /// <summary>Every line written to metrics.jsonl (train and eval), as transformers' log_history.</summary>
    public List<JsonObject> LogHistory { get; set; } = [];

    public double Epoch(long step) => StepsPerEpoch is { } perEpoch and > 0 ? Math.Round((double)step / perEpoch, 4)
        : 0;

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static TrainerState Load(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: trainer state not found");
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Json)
                ?? throw new ReasonSharpException($"{path}: trainer state is empty");
        }
        catch (JsonException e)
        {
            throw new ReasonSharpException($"{path}: malformed trainer state at line {e.LineNumber + 1}: {e.Message}",
                e);
        }
    }
}
