using ReasonSharp.Hub;
using ReasonSharp.Training;
using ReasonSharp.Training.Dpo;
using ReasonSharp.Training.Grpo;
using ReasonSharp.Training.RewardModeling;
using ReasonSharp.Training.Sft;
using ReasonSharp.Training.Star;

namespace ReasonSharp.Jobs;

/// <summary>What the training jobs share: the context's folder, model, seed and device as defaults, and resuming.</summary>
static class TrainingJob
{
    public static T WithContext<T>(T options, RunContext context) where T : ModelTrainingOptions => options with
    {
        OutputDir = context.OutputDir ?? options.OutputDir,
        ModelNameOrPath = context.Model ?? options.ModelNameOrPath,
        Seed = context.Seed ?? options.Seed,
        Device = context.Device ?? options.Device,
    };

    /// <summary>Hub ids (`org/name`) in model_name_or_path, dataset_name and eval_dataset_name become their snapshot
    /// folders in the Hub cache, downloaded when absent; local paths stay as they are.</summary>
    public static T FromHub<T>(T config) where T : ModelTrainingOptions
    {
        var datasetConfig = config.DatasetConfig;
        return config with
        {
            ModelNameOrPath = config.ModelNameOrPath is { } model ? HubPaths.Model(model) : null,
            DatasetName = config.DatasetName is { } data ? HubPaths.Dataset(data, datasetConfig) : null,
            EvalDatasetName = config.EvalDatasetName is { } eval ? HubPaths.Dataset(eval, datasetConfig) : null,
        };
    }

    /// <summary>
    /// In a pipeline, a training stage that did not finish continues from its latest checkpoint; with none yet, the
    /// files it left are its own partial run, deleted (overwrite_output_dir) before it starts over.
    /// </summary>
    public static T ResumeIfStarted<T>(T config, RunContext context) where T : TrainingOptions
    {
        if (context.OutputDir is null || config.ResumeFromCheckpoint is not null || config.OverwriteOutputDir) return config;
        if (Checkpoints.List(config.OutputDir).Count > 0) return config with { ResumeFromCheckpoint = "latest" };
        return RunFolder.RunEntries(config.OutputDir).Count > 0 ? config with { OverwriteOutputDir = true } : config;
    }

    /// <summary>
    /// The run of a job that trains into output_dir: Hub ids resolved (<see cref="FromHub"/>), resumed or started over
    /// in a pipeline (<see cref="ResumeIfStarted"/>), trained by <paramref name="train"/>; then its
    /// <paramref name="metrics"/>, its outputs (<see cref="Outputs"/> unless <paramref name="outputs"/> is given) and
    /// output_dir pushed to the Hub when push_to_hub asks.
    /// </summary>
    public static JobResult Run<TConfig, TResult>(TConfig config, RunContext context, Func<TConfig, TResult> train,
        Func<TResult, Dictionary<string, double>> metrics, Func<TConfig, Dictionary<string, string>>? outputs = null)
        where TConfig : ModelTrainingOptions
    {
        config = FromHub(config);
        var result = train(ResumeIfStarted(config, context));
        var measured = metrics(result);
        var named = outputs is null ? Outputs(config, context) : outputs(config);
        UploadJob.PushTrained(config, config.OutputDir, context);
        return new JobResult(named, measured) { Details = result };
    }

    /// <summary>steps, seconds and (when a step was trained) final_loss of a run, then <paramref name="more"/>.
    /// </summary>
    public static Dictionary<string, double> Metrics(TrainingResult training, params (string Name, double Value)[] more)
    {
        var metrics = new Dictionary<string, double> { ["steps"] = training.GlobalStep, ["seconds"] = training.Seconds };
        if (training.Losses.Count > 0) metrics["final_loss"] = training.Losses[^1];
        foreach (var (name, value) in more) metrics[name] = value;
        return metrics;
    }

    /// <summary>A trained model's outputs: the model (see <see cref="Model"/>) and its metrics.jsonl.</summary>
    public static Dictionary<string, string> Outputs(ModelTrainingOptions config, RunContext context) => new()
    {
        ["model"] = Model(config, context), ["metrics"] = Path.Combine(config.OutputDir, MetricsLogger.MetricsFile),
    };

    /// <summary>The trained model: output_dir, or with use_peft the base and adapter merged into output_dir/merged (in
    /// a pipeline, where the next stage needs a full model).</summary>
    public static string Model(ModelTrainingOptions config, RunContext context)
    {
        if (!config.UsePeft || context.OutputDir is null) return config.OutputDir;
        var merged = Path.Combine(config.OutputDir, "merged");
        MergeJob.MergeAdapter(config.ModelNameOrPath!, config.OutputDir, merged);
        return merged;
    }
}

/// <summary>`sft`: supervised fine-tuning (full or LoRA) on conversations or prompt/completion traces.</summary>
public sealed class SftJob : Job<SftConfig>
{
    public override string Name => "sft";
    public override string Description => "Supervised fine-tuning on conversations or prompt/completion traces.";
    public override SftConfig Defaults(RunContext context) => TrainingJob.WithContext(new SftConfig(), context);
    public override void Validate(SftConfig options) => Validation.Once(options, options.Validate);

    public override JobResult Run(SftConfig config, RunContext context) => TrainingJob.Run(config, context,
        c => SftTrainer.Run(c, context.Progress, context.Rewards), result =>
        {
            var metrics = TrainingJob.Metrics(result.Training);
            if (result.Accuracy.LastOrDefault() is { } accuracy) metrics["eval_accuracy"] = accuracy.Accuracy;
            return metrics;
        });
}

/// <summary>`grpo`: GRPO with verifiable rewards.</summary>
public sealed class GrpoJob : Job<GrpoConfig>
{
    public override string Name => "grpo";
    public override string Description => "Train a policy with GRPO and verifiable rewards.";

    public override GrpoConfig Defaults(RunContext context) => TrainingJob.WithContext(new GrpoConfig(), context);

    public override void Validate(GrpoConfig options) => Validation.Once(options, options.Validate);

    public override JobResult Run(GrpoConfig config, RunContext context) => TrainingJob.Run(config, context,
        c => GrpoTrainer.Run(c, context.Rewards, context.Progress),
        result => new Dictionary<string, double> { ["steps"] = result.GlobalStep, ["seconds"] = result.Seconds });
}

/// <summary>`dpo`: direct preference optimisation (and IPO, hinge, APO) on chosen/rejected pairs.</summary>
public sealed class DpoJob : Job<DpoConfig>
{
    public override string Name => "dpo";
    public override string Description => "Preference optimisation (DPO, IPO, APO) on prompt/chosen/rejected pairs.";
    public override DpoConfig Defaults(RunContext context) => TrainingJob.WithContext(new DpoConfig(), context);
    public override void Validate(DpoConfig options) => Validation.Once(options, options.Validate);

    public override JobResult Run(DpoConfig config, RunContext context) => TrainingJob.Run(config, context,
        c => DpoTrainer.Run(c, context.Progress),
        result => TrainingJob.Metrics(result.Training, ("pairs", result.TrainData.Pairs)));
}

/// <summary>`reward-model`: a Bradley-Terry outcome reward model on chosen/rejected pairs (TRL's RewardTrainer).
/// </summary>
public sealed class RewardModelJob : Job<RewardConfig>
{
    public override string Name => "reward-model";
    public override string Description => "Train an outcome reward model (Bradley-Terry) on chosen/rejected pairs.";
    public override RewardConfig Defaults(RunContext context) => TrainingJob.WithContext(new RewardConfig(), context);
    public override void Validate(RewardConfig options) => Validation.Once(options, options.Validate);

    public override JobResult Run(RewardConfig config, RunContext context) => TrainingJob.Run(config, context,
        c => RewardModelTrainer.Run(c, context.Progress), result =>
        {
            var metrics = TrainingJob.Metrics(result.Training, ("pairs", result.TrainData.Kept));
            foreach (var name in new[] { "eval_accuracy", "eval_margin" })
                if (result.Training.LogHistory.LastOrDefault(l => l.ContainsKey(name))?[name]?.GetValue<double>()
                    is { } value) metrics[name] = value;
            return metrics;
        },
        // Not "model": the pipeline's current model (the policy) stays the one the stages before trained.
        c => new Dictionary<string, string>
        {
            ["reward_model"] = c.OutputDir,
            ["metrics"] = Path.Combine(c.OutputDir, MetricsLogger.MetricsFile),
        });
}

/// <summary>`star`: STaR iterations of sample → verify → (rationalise) → SFT → evaluate.</summary>
public sealed class StarJob : Job<StarConfig>
{
    public override string Name => "star";
    public override string Description => "Self-Taught Reasoner: sample, verify, fine-tune, evaluate, repeat.";
    public override StarConfig Defaults(RunContext context) => TrainingJob.WithContext(new StarConfig(), context);
    public override void Validate(StarConfig options) => Validation.Once(options, options.Validate);

    public override JobResult Run(StarConfig config, RunContext context)
    {
        config = TrainingJob.FromHub(config);
        var result = StarTrainer.Run(ResumeIfStarted(config, context), context.Progress, context.Rewards);
        UploadJob.PushTrained(config, result.FinalModel, context);
        return Result(new Dictionary<string, string>
        {
            ["model"] = result.FinalModel, ["data"] = result.Iterations[^1].Data,
        }, new Dictionary<string, double>
        {
            ["iterations"] = result.Iterations.Count, ["eval_accuracy"] = result.Iterations[^1].Accuracy,
        }, result);
    }

    /// <summary>In a pipeline, an unfinished STaR stage goes on after its last finished iteration, or starts
    /// over.</summary>
    static StarConfig ResumeIfStarted(StarConfig config, RunContext context)
    {
        if (context.OutputDir is null || config.ResumeFromCheckpoint is not null || config.OverwriteOutputDir) return config;
        if (File.Exists(Path.Combine(config.OutputDir, StarTrainer.StateFile)))
            return config with { ResumeFromCheckpoint = "latest" };
        return RunFolder.RunEntries(config.OutputDir).Count > 0 ? config with { OverwriteOutputDir = true } : config;
    }
}
