using System.Globalization;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Rewards;
using ReasonSharp.Tokenization;
using ReasonSharp.Training.Lora;

namespace ReasonSharp.Training.Sft;

/// <summary>The outcome of an SFT run: the loop's result, what the data became, and each held-out accuracy
/// measurement.</summary>
/// <param name="Adapters">The trained LoRA adapters, still applied to the model (null for full training or after
/// <see cref="SftTrainer.Run"/>).</param>
public sealed record SftResult(TrainingResult Training, SftDataStats TrainData, SftDataStats? EvalData,
    IReadOnlyList<AccuracyResult> Accuracy,
    LoraAdapters? Adapters);

/// <summary>
/// Supervised fine-tuning on conversations (reasoning distillation): encodes the examples in the model's chat format
/// with assistant-only or completion-only loss masks, truncates and optionally packs them, and trains the full model or
/// LoRA adapters with the one <see cref="Trainer"/> loop through <see cref="SftTask"/>. The run folder gets the config
/// (<see cref="ConfigFile"/>), metrics, checkpoints, the final model with its tokenizer (or the PEFT adapter), and
/// report.html.
/// </summary>
public sealed class SftTrainer
{
    public const string ConfigFile = TrainingOptions.RecipeFile;

    readonly LanguageModel _model;
    readonly SftConfig _config;

    /// <summary>The encoded training rows and their statistics.</summary>
    public SftEncoded TrainData { get; }
    /// <summary>Held-out sequences for eval_loss (examples with completions), or null.</summary>
    public SftEncoded? EvalData { get; }
    /// <summary>Held-out accuracy by greedy generation when eval_reward is set, or null.</summary>
    public HeldOutAccuracy? Accuracy { get; }
    /// <summary>Where progress and log lines go (default: the console).</summary>
    public ProgressDisplay? Progress { get; init; }

    /// <param name="model">The model to train, with the tokenizer and chat format its examples are rendered in.</param>
    /// <param name="eval">Held-out examples: those with completions give eval_loss, all give prompts for
    /// eval_accuracy.</param>
    public SftTrainer(LanguageModel model, SftConfig config, SftExamples train, SftExamples? eval = null,
        RewardRegistry? registry = null)
    {
        Validation.Once(config, config.Validate);
        ModelTrainerSetup.CheckChatFormat(model, config);
        _model = model;
        _config = config;
        TrainData = SftDataset.Encode(SftDataset.Prepare(train.Examples, config, mixDualMode: true,
            model.Chat.Capabilities.WritesEmptyThinkBlock), train.PromptCompletion, model.Chat, config, config.Packing);
        if (eval is not null)
        {
            var prepared = SftDataset.Prepare(eval.Examples, config, mixDualMode: false);
            var withCompletions = prepared.Where(e => e.HasAssistantTurn).ToList();
            if (withCompletions.Count > 0)
                EvalData =
                    SftDataset.Encode(withCompletions, eval.PromptCompletion, model.Chat, config,
                    config.EvalPacking ?? config.Packing);
            if (config.EvalReward is not null)
                Accuracy =
                    new HeldOutAccuracy(model, prepared.Take(config.EvalAccuracySamples ?? int.MaxValue).ToList(),
                    config.EvalRewardFunction(registry),
                    config.EvalMaxNewTokens, config.PerDeviceEvalBatchSize);
        }
        else if (config.EvalReward is not null)
            throw new ReasonSharpException("training option 'eval_reward' needs held-out prompts; set " +
                "eval_dataset_name (or use a dataset folder with a test split)");
        if (config.EvalStrategy == "steps" && EvalData is null && Accuracy is null)
            throw new ReasonSharpException("training option 'eval_strategy' is steps, but there is nothing to " +
                "evaluate; set eval_dataset_name (held-out completions or, with eval_reward, prompts)");
    }

    public SftResult Train()
    {
        var progress = Progress ?? ProgressDisplay.ForConsole(_config.DisableTqdm);
        ModelTrainerSetup.SaveOptions(_config, ConfigFile, progress);
        progress.WriteLine($"train data: {TrainData.Stats.Describe()}");
        if (EvalData is not null) progress.WriteLine($"eval data: {EvalData.Stats.Describe()}");
        if (Accuracy is not null) progress.WriteLine($"eval accuracy: greedy on {Accuracy.Examples.Count} held-out " +
            $"prompts, verified by '{_config.EvalReward}'");

        var adapters = ModelTrainerSetup.ApplyLora(_model, _config);
        long pad = _model.Tokenizer.PadTokenId ?? _model.Tokenizer.EosTokenId ?? 0;
        var task = new SftTask(new LanguageModelingTask(TrainData.Sequences, EvalData?.Sequences, pad), Accuracy);
        var result = ModelTrainerSetup.Train(_model, task, _config, adapters, progress, ExtendReport);
        return new SftResult(result, TrainData.Stats, EvalData?.Stats, Accuracy?.History.ToList() ?? [], adapters);
    }

    void ExtendReport(RunReport report)
    {
        static string[] Row(string name, SftDataStats s) =>
        [
            name, s.Examples.ToString(CultureInfo.InvariantCulture), s.Truncated.ToString(CultureInfo.InvariantCulture),
            s.Dropped.ToString(CultureInfo.InvariantCulture), s.Rows.ToString(CultureInfo.InvariantCulture),
            s.Tokens.ToString(CultureInfo.InvariantCulture),
            s.LossTokens.ToString(CultureInfo.InvariantCulture),
            s.RowLength is null ? "no"
            : $"{s.RowLength} ({(s.PackingEfficiency * 100).ToString("F1", CultureInfo.InvariantCulture)}% full)",
        ];
        var rows = new List<IReadOnlyList<string>> { Row("train", TrainData.Stats) };
        if (EvalData is not null) rows.Add(Row("eval", EvalData.Stats));
        report.AddTable($"SFT data (max_length {_config.MaxLength?.ToString(CultureInfo.InvariantCulture) ?? "none"})",
            ["split", "examples", "truncated", "dropped (no loss tokens)", "rows", "tokens", "loss tokens", "packed"],
            rows);
        if (Accuracy?.History.LastOrDefault() is { } last)
            report.AddSamples($"Held-out greedy completions at the last evaluation (accuracy {last.Accuracy:P1} of " +
                $"{last.Count})",
                last.Completions.Take(6).Select(c =>
                    ($"{c.Prompt} (reward {c.Reward?.ToString("G3", CultureInfo.InvariantCulture) ?? "none"})",
                    c.Completion)));
    }

    /// <summary>
    /// A whole run from a config: loads model_name_or_path on device (with chat_format), reads dataset_name (train
    /// split) and the held-out data, trains, saves, and disposes the model.
    /// </summary>
    public static SftResult Run(SftConfig config, ProgressDisplay? progress = null, RewardRegistry? registry = null)
    {
        Validation.Once(config, config.Validate);
        config.CheckEvalRewardIsKnown(registry ?? RewardRegistry.CreateDefault());
        _ = config.ModelNameOrPath
            ?? throw new ReasonSharpException("training option 'model_name_or_path' is not set; expected a model " +
            "folder");
        var dataPath = config.DatasetName
            ?? throw new ReasonSharpException("training option 'dataset_name' is not set; expected a data file or " +
            "dataset folder");
        ModelTrainerSetup.CheckOutputIsNotTheModel(config);
        var train = SftDataset.Load(dataPath, config.DatasetTrainSplit, config, "dataset_name");
        var eval = LoadEval(config, dataPath);
        using var model = ModelTrainerSetup.LoadModel(config);
        var result = new SftTrainer(model, config, train, eval, registry) { Progress = progress }.Train();
        return result with { Adapters = null };
    }

    /// <summary>eval_dataset_name, else (when evaluating) the test split of a dataset folder, else none.</summary>
    static SftExamples? LoadEval(SftConfig config, string dataPath)
    {
        if (config.EvalDatasetName is { } path) return SftDataset.Load(path, config.DatasetTestSplit, config,
            "eval_dataset_name");
        bool wanted = config.EvalStrategy != "no" || config.EvalReward is not null;
        if (wanted && Directory.Exists(dataPath)
            && HfDatasetFolder.Open(dataPath, config.DatasetConfig).Splits.ContainsKey(config.DatasetTestSplit))
            return SftDataset.Load(dataPath, config.DatasetTestSplit, config, "dataset_name");
        return null;
    }
}
