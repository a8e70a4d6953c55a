namespace ReasonSharp.Training.Grpo;

/// <summary>A failure signature seen in a GRPO run's metrics, with what to try.</summary>
public sealed record GrpoWarning(long Step, string Signature, string Message);

/// <summary>
/// Watches a GRPO run's per-step metrics for the failure signatures users of TRL and Open-R1 meet, and warns once per
/// episode (again only after the signature has cleared): groups without signal, truncated completions, a learned
/// format with flat accuracy, and a growing KL or generation/training log-prob gap.
/// </summary>
public sealed class GrpoHealthMonitor(Action<string> write)
{
    /// <summary>Steps a signature must hold (and the width of the windows compared for trends).</summary>
    public const int Window = 10;
    public const double ZeroStdLimit = 0.8;
    public const double ClippedLimit = 0.3;
    public const double FormatSaturated = 0.95;
    /// <summary>Accuracy gain over the run below which it counts as flat.</summary>
    public const double FlatAccuracy = 0.02;
    /// <summary>A trend grows when the last window's mean is this many times the first window's and above the
    /// floor.</summary>
    public const double GrowthFactor = 2;
    public const double KlFloor = 0.05;
    public const double GapFloor = 0.01;

    readonly List<IReadOnlyDictionary<string, double>> _history = [];
    readonly HashSet<string> _active = [];

    public List<GrpoWarning> Warnings { get; } = [];

    public void Observe(StepRecord record)
    {
        if (record.Skipped) return;
        _history.Add(record.Metrics);
        Check(record.Step, "zero_std", ZeroStdHolds(),
            $"frac_reward_zero_std has been above {ZeroStdLimit} for {Window} steps: most prompt groups score all " +
            $"alike, so their advantages are 0 and they teach nothing (the loss stays near 0). Try: check the data " +
            $"with `reason grpo --preflight` and keep prompts the model sometimes solves, more num_generations, a " +
            $"higher temperature, or dynamic_sampling: true.");
        Check(record.Step, "clipped", Recent("completions/clipped_ratio") is { } clipped && clipped > ClippedLimit,
            $"{Percent(Recent("completions/clipped_ratio"))} of completions hit max_completion_length over the " +
            $"last {Window} steps: their answers are cut off and score as wrong. Try: a larger " +
            $"max_completion_length, a length penalty (reward_funcs: [..., cosine_length]) or " +
            $"mask_truncated_completions: true.");
        Check(record.Step, "format_only", FormatWithoutAccuracy(),
            "the format reward is saturated while accuracy has not moved: the policy learned the tags, not the task. " +
            "Try: a lower format weight (reward_weights), easier prompts (reason grpo --preflight), or more SFT " +
            "first.");
        Check(record.Step, "kl", Grows("kl", KlFloor),
            $"kl has grown more than {GrowthFactor}x since the start of the run: the policy is drifting from the " +
            $"reference. Try: a lower learning_rate, a larger beta, or fewer num_iterations.");
        Check(record.Step, "logprob_gap", Grows(GrpoTask.LogProbGapMetric, GapFloor),
            "the gap between the log-probs the completions were sampled with and the trainer's own has grown: the " +
            "two code paths disagree more as training goes on (numerics, or a model whose logits grow very large). " +
            "Try: a lower learning_rate, num_iterations: 1, or report it with the metrics.jsonl.");
    }

    void Check(long step, string signature, bool holds, string message)
    {
        if (!holds)
        {
            _active.Remove(signature);
            return;
        }
        if (!_active.Add(signature)) return;
        var warning = new GrpoWarning(step, signature, message);
        Warnings.Add(warning);
        write($"warning (step {step}): {message}");
    }

    /// <summary>The values of a metric in step order, from the steps that logged it (generation steps, for sampling
    /// metrics).</summary>
    List<double> Series(string name) =>
        _history.Where(m => m.ContainsKey(name)).Select(m => m[name]).Where(double.IsFinite).ToList();

    bool ZeroStdHolds() => Series("frac_reward_zero_std") is { Count: >= Window } s
        && s.TakeLast(Window).All(v => v > ZeroStdLimit);

    double? Recent(string name) => Series(name) is { Count: >= Window } s ? s.TakeLast(Window).Average() : null;

    bool FormatWithoutAccuracy()
    {
        var names =
            _history[^1].Keys.Where(k => k.StartsWith("rewards/", StringComparison.Ordinal)
            && k.EndsWith("/mean", StringComparison.Ordinal)).ToList();
        var format = names.Where(n => n.Contains("format", StringComparison.Ordinal)).Select(Series).ToList();
        var accuracy = names.Where(n => n.Contains("accuracy", StringComparison.Ordinal)).Select(Series).ToList();
        if (format.Count == 0 || accuracy.Count == 0
            || format.Concat(accuracy).Any(s => s.Count < 2 * Window)) return false;
        return format.All(s => s.TakeLast(Window).Average() >= FormatSaturated)
               && accuracy.All(s => s.TakeLast(Window).Average() - s.Take(Window).Average() < FlatAccuracy);
    }

    bool Grows(string name, double floor)
    {
        if (Series(name) is not { Count: >= 2 * Window } s) return false;
        double first = s.Take(Window).Average(), last = s.TakeLast(Window).Average();
        return last > floor && last > GrowthFactor * Math.Max(first, floor / GrowthFactor);
    }

    static string Percent(double? value) => value is { } v ? $"{v:P0}" : "?";
}
