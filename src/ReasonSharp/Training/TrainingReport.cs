using System.Globalization;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Training.Lora;

namespace ReasonSharp.Training;

/// <summary>The standard sections of a training run's report.html: summary, loss, learning rate, throughput, gradient
/// norm, memory, every other metric, final values.</summary>
public static class TrainingReport
{
    static readonly HashSet<string> NotPlotted = ["step", "epoch", "num_tokens", "step_seconds"];

    public static RunReport Build(TrainingResult result, TrainingOptions options, CausalLM model,
        LoraAdapters? adapters)
    {
        var log = result.LogHistory;
        var report = new RunReport($"Training run: {Path.GetFileName(Path.GetFullPath(result.OutputDir))}");
        long trainable = AdamWOptimizer.TrainableParameters(model).Sum(p => p.Parameter.numel());
        var summary = new List<IReadOnlyList<string>>
        {
            new[] { "model", $"{model.Config.Architecture}, {model.ParameterCount():N0} parameters" },
            new[] { "trained", adapters is null ? $"full model ({trainable:N0} parameters)" : $"LoRA r={adapters.Config.R}, alpha={adapters.Config.LoraAlpha} on {string.Join(", ", adapters.Config.ResolvedTargets())} ({trainable:N0} parameters)" },
            new[] { "steps", $"{result.GlobalStep} ({result.Steps.Count(s => s.Skipped)} skipped)" },
            new[] { "wall time", TimeSpan.FromSeconds(result.Seconds).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) },
            new[] { "learning rate", $"{options.LearningRate} ({options.LrSchedulerType}, warmup ratio {options.WarmupRatio}, warmup steps {options.WarmupSteps})" },
            new[] { "batch", $"{options.PerDeviceTrainBatchSize} × {options.GradientAccumulationSteps} accumulation" },
            new[] { "gradient checkpointing", options.GradientCheckpointing ? "on" : "off" },
        };
        report.AddTable("Run", ["", ""], summary);

        report.AddPlot("Loss", "step", "loss",
            [MetricsLog.Series(log, "loss", label: "train"), MetricsLog.Series(log, "eval_loss", label: "eval")]);
        report.AddPlot("Learning rate", "step", "learning rate", [MetricsLog.Series(log, "learning_rate")]);
        report.AddPlot("Throughput", "step", "tokens/s", [MetricsLog.Series(log, "tokens_per_second")]);
        report.AddPlot("Gradient norm (before clipping)", "step", "L2 norm", [MetricsLog.Series(log, "grad_norm")]);
        report.AddPlot("Memory", "step", "MB",
            [MetricsLog.Series(log, "memory_rss_mb", label: "RSS"),
            MetricsLog.Series(log, "memory_peak_rss_mb", label: "peak RSS")]);
        string[] standard =
            ["loss", "eval_loss", "learning_rate", "tokens_per_second", "grad_norm", "memory_rss_mb",
            "memory_peak_rss_mb"];
        foreach (var key in MetricsLog.NumericKeys(log).Where(k => !NotPlotted.Contains(k) && !standard.Contains(k)))
            report.AddPlot(key, "step", key, [MetricsLog.Series(log, key)]);

        report.AddTable("Final metrics", ["metric", "value"],
            MetricsLog.Last(log).Select(kv =>
                (IReadOnlyList<string>)[kv.Key, kv.Value.ToString("G6", CultureInfo.InvariantCulture)]));
        return report;
    }
}
