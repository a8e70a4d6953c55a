using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Recipes;
using ReasonSharp.Reporting;
using ReasonSharp.Rewards;
using ReasonSharp.Tokenization;
using ReasonSharp.Training.Lora;

namespace ReasonSharp.Training.Grpo;

/// <summary>Runs GRPO from a config: loads the policy, prompts and reward functions, and trains with the shared loop.</summary>
public static class GrpoTrainer
{
    public static TrainingResult Run(GrpoConfig config, RewardRegistry? registry = null, ProgressDisplay? progress = null)
    {
        config.Validate();
        var family = config.ChatFormat is null ? (ChatFamily?)null : ChatFormat.ParseFamily(config.ChatFormat);
        using var lm = LanguageModel.Load(config.ModelNameOrPath, config.Device, family);
        var train = DatasetReader.ReadExamples(new DatasetSource(config.DatasetName) { Split = config.DatasetTrainSplit }).ToList();
        var eval = config.EvalDatasetName is null ? null : DatasetReader.ReadExamples(new DatasetSource(config.EvalDatasetName) { Split = config.DatasetTestSplit }).ToList();
        return Run(lm, train, eval, config, registry, progress);
    }

    public static TrainingResult Run(LanguageModel lm, IReadOnlyList<Example> train, IReadOnlyList<Example>? eval, GrpoConfig config,
        RewardRegistry? registry = null, ProgressDisplay? progress = null)
    {
        config.Validate();
        var reward = CreateReward(config, registry ?? RewardRegistry.CreateDefault());
        var adapters = config.UsePeft
            ? LoraAdapters.Apply(lm.Model, new LoraConfig
            {
                R = config.LoraR, LoraAlpha = config.LoraAlpha, LoraDropout = config.LoraDropout, TargetModules = config.LoraTargetModules,
                UseRslora = config.UseRslora, BaseModelNameOrPath = config.ModelNameOrPath,
            }, config.Seed)
            : null;
        var task = new GrpoTask(lm, train, eval, reward, config);
        Directory.CreateDirectory(config.OutputDir);
        AtomicFile.WriteAllText(Path.Combine(config.OutputDir, "config.yaml"), OptionsBinder.ToYaml(config));
        var trainer = new Trainer(lm.Model, task, config, adapters)
        {
            Progress = progress,
            ModelSaveOptions = new ModelSaveOptions { TokenizerFolder = lm.Tokenizer.Folder },
            ExtendReport = (report, _) => ExtendReport(report, task),
        };
        var result = trainer.Train();
        if (adapters is not null) lm.Tokenizer.SaveTo(config.OutputDir);
        return result;
    }

    public static CompositeReward CreateReward(GrpoConfig config, RewardRegistry registry)
    {
        var specs = RewardSpec.ParseList(string.Join(",", config.RewardFuncs));
        if (config.RewardWeights is { } weights)
            specs = specs.Select((s, i) => s with { Weight = (float)weights[i] }).ToList();
        return registry.CreateComposite(specs);
    }

    static void ExtendReport(RunReport report, GrpoTask task)
    {
        if (task.CompletionLog.Count == 0) return;
        var first = task.CompletionLog.Min(c => c.Step);
        var last = task.CompletionLog.Max(c => c.Step);
        foreach (var step in new[] { first, last }.Distinct())
            report.AddSamples($"Completions at step {step}", task.CompletionLog.Where(c => c.Step == step)
                .Select(c => ($"reward {c.Reward:F2}, advantage {c.Advantage:F2} · {c.Prompt}", c.Completion)));
    }
}
