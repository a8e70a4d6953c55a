using System.Text.Json.Nodes;

namespace ReasonSharp.Training.Sft;

/// <summary>
/// SFT's plug-in for the one training loop: <see cref="LanguageModelingTask"/> on the encoded (possibly packed)
/// sequences, plus held-out task accuracy at each evaluation when an accuracy measure is given.
/// </summary>
public sealed class SftTask(LanguageModelingTask language, HeldOutAccuracy? accuracy = null) : ITrainingTask
{
    public long? StepsPerEpoch => language.StepsPerEpoch;

    public void Initialize(TrainingContext context) => language.Initialize(context);

    public TrainingStep NextStep(TrainingContext context) => language.NextStep(context);

    public LossResult ComputeLoss(TrainingContext context, MicroBatch batch) => language.ComputeLoss(context, batch);

    /// <summary>eval_loss and eval_mean_token_accuracy on held-out completions; eval_accuracy, eval_reward,
    /// eval_completion_tokens from greedy generation.</summary>
    public IReadOnlyDictionary<string, double>? Evaluate(TrainingContext context)
    {
        var metrics = language.Evaluate(context) is { } loss ? new Dictionary<string, double>(loss) : [];
        if (accuracy is not null)
            foreach (var (name, value) in accuracy.Measure().Metrics) metrics[name] = value;
        return metrics.Count == 0 ? null : metrics;
    }

    public JsonNode SaveState() => language.SaveState();

    public void LoadState(JsonNode state) => language.LoadState(state);
}
