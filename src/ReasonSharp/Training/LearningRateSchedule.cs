namespace ReasonSharp.Training;

/// <summary>
/// The learning-rate multipliers of transformers' get_scheduler: step s (0-based, the number of optimizer steps already
/// taken) trains with LearningRate · Factor(s).
/// </summary>
public sealed record LearningRateSchedule(string Type, long WarmupSteps, long TotalSteps)
{
    /// <summary>Warmup as transformers computes it: warmup_steps when positive, else ceil(warmup_ratio ·
    /// total).</summary>
    public static LearningRateSchedule FromOptions(TrainingOptions options, long totalSteps) =>
        new(options.LrSchedulerType,
            options.WarmupSteps > 0 ? options.WarmupSteps : (long)Math.Ceiling(options.WarmupRatio * totalSteps),
            totalSteps);

    public double Factor(long step)
    {
        if (Type == "constant") return 1.0;
        if (step < WarmupSteps) return (double)step / Math.Max(1, WarmupSteps);
        double remaining = Math.Max(1, TotalSteps - WarmupSteps);
        return Type switch
        {
            "constant_with_warmup" => 1.0,
            "linear" => Math.Max(0.0, (TotalSteps - step) / remaining),
            "cosine" => Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * (step - WarmupSteps) / remaining))),
            _ => throw new ReasonSharpException($"training option 'lr_scheduler_type' is {Type}; expected " +
                $"{string.Join(", ", TrainingOptions.SchedulerTypes)}"),
        };
    }
}
