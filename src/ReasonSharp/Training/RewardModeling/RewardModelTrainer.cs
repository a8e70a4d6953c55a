using System.Globalization;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Training.Dpo;

namespace ReasonSharp.Training.RewardModeling;

/// <summary>The outcome of a reward model run: the loop's result and what the data became.</summary>
public sealed record RewardModelResult(TrainingResult Training, RewardDataStats TrainData, RewardDataStats? EvalData);

/// <summary>
/// Trains an outcome reward model on chosen/rejected pairs (TRL's RewardTrainer): the pairs are rendered in the model's
/// chat format, the model (a sequence classifier, see <see cref="LanguageModel.LoadSequenceClassifier"/>) is trained
/// with the one <see cref="Trainer"/> loop through <see cref="RewardModelTask"/>, and output_dir receives the config,
/// metrics, checkpoints, the *ForSequenceClassification model and report.html.
/// </summary>
public sealed class RewardModelTrainer
{
    readonly LanguageModel _model;
    readonly RewardConfig _config;
    readonly List<RewardPair> _train;
    readonly List<RewardPair>? _eval;

    public RewardDataStats TrainData { get; }
    public RewardDataStats? EvalData { get; }
    /// <summary>Where progress and log lines go (default: the console).</summary>
    public ProgressDisplay? Progress { get; init; }

    public RewardModelTrainer(LanguageModel model, RewardConfig config, IReadOnlyList<PreferencePair> train,
        IReadOnlyList<PreferencePair>? eval = null)
    {
        Validation.Once(config, config.Validate);
        ModelTrainerSetup.CheckChatFormat(model, config);
        if (!model.Model.Config.IsSequenceClassifier)
            throw new ReasonSharpException($"the model is a {model.Model.Config.Architecture}; a reward model needs " +
                "a score head (load it with LanguageModel.LoadSequenceClassifier)");
        _model = model;
        _config = config;
        (_train, TrainData) = RewardData.Encode(train, model.Chat, config.MaxLength);
        if (eval is not null) (_eval, EvalData) = RewardData.Encode(eval, model.Chat, config.MaxLength);
        ModelTrainerSetup.CheckHeldOutData(config, _eval is not null, "pairs");
    }

    public RewardModelResult Train()
    {
        var progress = ModelTrainerSetup.StartRun(_config, Progress, "pairs", TrainData.Describe(),
            EvalData?.Describe());
        long pad = _model.Model.Config.PadTokenId ?? _model.Tokenizer.PadTokenId ?? _model.Tokenizer.EosTokenId ?? 0;
        var task = new RewardModelTask(_train, _eval, _config, pad);
        var result = ModelTrainerSetup.Train(_model, task, _config, null, progress, ExtendReport);
        return new RewardModelResult(result, TrainData, EvalData);
    }

    void ExtendReport(RunReport report) =>
        ModelTrainerSetup.AddDataTable(report, $"Preference data (max_length " +
            $"{_config.MaxLength?.ToString(CultureInfo.InvariantCulture) ?? "none"})",
            ["split", "pairs", "kept", "dropped over max_length", "dropped (no completion tokens)", "tokens"],
            TrainData, EvalData, s => [s.Pairs, s.Kept, s.TooLong, s.Empty, s.Tokens]);

    /// <summary>A whole run from a config: loads model_name_or_path as a reward model (a causal LM's folder gets a
    /// fresh score head, seeded by seed), reads dataset_name (train split) and eval_dataset_name, trains, saves, and
    /// disposes of the model.</summary>
    public static RewardModelResult Run(RewardConfig config, ProgressDisplay? progress = null)
    {
        Validation.Once(config, config.Validate);
        ModelTrainerSetup.CheckOutputIsNotTheModel(config);
        var (train, eval) = ModelTrainerSetup.ReadTrainAndEval(config, (path, split, option) =>
            PreferenceData.Load(path, split, config.DatasetConfig, config.SystemPrompt, option));
        var folder = config.ModelNameOrPath!;
        bool fresh = !ModelConfig.Load(Path.Combine(Hub.HubPaths.Model(folder), ModelFolder.ConfigFile))
            .IsSequenceClassifier;
        using var model = LanguageModel.LoadSequenceClassifier(folder, config.Device, config.ChatFormat,
            config.ChatTemplateKwargs, numLabels: 1, seed: config.Seed);
        if (fresh)
            (progress ?? ProgressDisplay.ForConsole(config.DisableTqdm)).WriteLine($"{folder} is a causal LM: " +
                $"training a fresh score head (normal(0, {model.Model.Config.InitializerRange.ToString(
                    CultureInfo.InvariantCulture)}), seed {config.Seed}) on its body");
        return new RewardModelTrainer(model, config, train, eval) { Progress = progress }.Train();
    }
}
