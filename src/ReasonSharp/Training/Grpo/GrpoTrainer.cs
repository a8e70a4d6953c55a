using ReasonSharp.Configuration;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Rewards;

namespace ReasonSharp.Training.Grpo;

/// <summary>Runs GRPO from a config: loads the policy, prompts and reward functions, and trains with the shared
/// loop.</summary>
public static class GrpoTrainer
{
    public static TrainingResult Run(GrpoConfig config, RewardRegistry? registry = null,
        ProgressDisplay? progress = null)
    {
        Validation.Once(config, config.Validate);
        using var lm = ModelTrainerSetup.LoadModel(config);
        var train = ModelTrainerSetup.ReadTrainExamples(config);
        var eval = ModelTrainerSetup.ReadEvalExamples(config);
        return Run(lm, train, eval, config, registry, progress);
    }

    public static TrainingResult Run(LanguageModel lm, IReadOnlyList<Example> train, IReadOnlyList<Example>? eval,
        GrpoConfig config,
        RewardRegistry? registry = null, ProgressDisplay? progress = null)
    {
        Validation.Once(config, config.Validate);
        using var reward = CreateReward(config, registry ?? RewardRegistry.CreateDefault());
        var adapters = ModelTrainerSetup.ApplyLora(lm, config);
        var task = new GrpoTask(lm, train, eval, reward, config);
        ModelTrainerSetup.SaveOptions(config, TrainingOptions.RecipeFile);
        progress ??= ProgressDisplay.ForConsole(config.DisableTqdm);
        if (SettingsNote(config) is { } note) progress.WriteLine(note);
        var health = new GrpoHealthMonitor(progress.WriteLine);
        var result =
            ModelTrainerSetup.Train(lm, task, config, adapters, progress, report => ExtendReport(report, task, health),
            health.Observe);
        WriteWarnings(config.OutputDir, health.Warnings);
        return result;
    }

    /// <summary>TRL's warning for GSPO with a loss that sums tokens, or null.</summary>
    public static string? SettingsNote(GrpoConfig config) =>
        config.ImportanceSamplingLevel == ImportanceSamplingLevel.Sequence && config.LossType != GrpoLossType.Grpo
            ? $"note: with importance_sampling_level sequence, loss_type {OptionsBinder.SnakeCase(
                config.LossType.ToString())} sums per-token terms, weighting each completion by its length; GSPO's " +
            "objective is loss_type grpo"
            : null;

    /// <summary>The run's warnings as JSON lines (warnings.jsonl; empty when the run was healthy).</summary>
    public const string WarningsFile = "warnings.jsonl";

    static void WriteWarnings(string folder, IReadOnlyList<GrpoWarning> warnings) =>
        AtomicFile.WriteAllText(Path.Combine(folder, WarningsFile),
            string.Concat(warnings.Select(w => System.Text.Json.JsonSerializer.Serialize(
                new { step = w.Step, signature = w.Signature, message = w.Message }) + "\n")));

    public static CompositeReward CreateReward(GrpoConfig config, RewardRegistry registry)
    {
        var specs = RewardSpec.ParseList(string.Join(",", config.RewardFuncs));
        if (config.RewardWeights is { } weights)
            specs = specs.Select((s, i) => s with { Weight = (float)weights[i] }).ToList();
        return registry.CreateComposite(specs);
    }

    static void ExtendReport(RunReport report, GrpoTask task, GrpoHealthMonitor health)
    {
        if (health.Warnings.Count > 0)
            report.AddTable("Warnings", ["step", "signature", "what it means and what to try"],
                health.Warnings.Select(w =>
                    (IReadOnlyList<string>)[w.Step.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    w.Signature, w.Message]));
        if (task.CompletionLog.Count == 0) return;
        var first = task.CompletionLog.Min(c => c.Step);
        var last = task.CompletionLog.Max(c => c.Step);
        foreach (var step in new[] { first, last }.Distinct())
            report.AddSamples($"Completions at step {step}", task.CompletionLog.Where(c => c.Step == step)
                .Select(c => ($"reward {c.Reward:F2}, advantage {c.Advantage:F2} · {c.Prompt}", c.Completion)));
    }
}
