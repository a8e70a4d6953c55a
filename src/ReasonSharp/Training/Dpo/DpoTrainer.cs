using System.Globalization;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Training.Dpo;

/// <summary>The outcome of a DPO run: the loop's result and what the data became.</summary>
public sealed record DpoResult(TrainingResult Training, PreferenceDataStats TrainData, PreferenceDataStats? EvalData);

/// <summary>
/// Direct preference optimisation (and IPO, hinge, APO) on prompt/chosen/rejected pairs: encodes them in the model's
/// chat format, trains the full model or LoRA adapters with the one <see cref="Trainer"/> loop through
/// <see cref="DpoTask"/>, and writes the config, metrics, checkpoints, the model (or adapter) and report.html to
/// output_dir.
/// </summary>
public sealed class DpoTrainer
{
    readonly LanguageModel _model;
    readonly DpoConfig _config;
    readonly List<EncodedPair> _train;
    readonly List<EncodedPair>? _eval;

    public PreferenceDataStats TrainData { get; }
    public PreferenceDataStats? EvalData { get; }
    /// <summary>Where progress and log lines go (default: the console).</summary>
    public ProgressDisplay? Progress { get; init; }
    /// <summary>The task of the last <see cref="Train"/> (its reference log-probs, for inspection).</summary>
    public DpoTask? Task { get; private set; }

    public DpoTrainer(LanguageModel model, DpoConfig config, IReadOnlyList<PreferencePair> train,
        IReadOnlyList<PreferencePair>? eval = null)
    {
        config.Validate();
        ModelTrainerSetup.CheckChatFormat(model, config);
        _model = model;
        _config = config;
        (_train, TrainData) = PreferenceData.Encode(train, model.Chat, config);
        if (eval is not null) (_eval, EvalData) = PreferenceData.Encode(eval, model.Chat, config);
        if (config.EvalStrategy == "steps" && _eval is null)
            throw new ReasonSharpException("training option 'eval_strategy' is steps, but there are no held-out " +
                "pairs; set eval_dataset_name");
    }

    public DpoResult Train()
    {
        var progress = Progress ?? ProgressDisplay.ForConsole(_config.DisableTqdm);
        ModelTrainerSetup.SaveOptions(_config, TrainingOptions.RecipeFile, progress);
        progress.WriteLine($"train pairs: {TrainData.Describe()}");
        if (EvalData is not null) progress.WriteLine($"eval pairs: {EvalData.Describe()}");
        var adapters = ModelTrainerSetup.ApplyLora(_model, _config);
        long pad = _model.Tokenizer.PadTokenId ?? _model.Tokenizer.EosTokenId ?? 0;
        Task = new DpoTask(_train, _eval, _config, pad);
        TrainingResult result;
        using (Task) result = ModelTrainerSetup.Train(_model, Task, _config, adapters, progress, ExtendReport);
        return new DpoResult(result, TrainData, EvalData);
    }

    void ExtendReport(RunReport report)
    {
        static string[] Row(string name, PreferenceDataStats s) =>
        [
            name, s.Pairs.ToString(CultureInfo.InvariantCulture), s.Truncated.ToString(CultureInfo.InvariantCulture),
            s.Dropped.ToString(CultureInfo.InvariantCulture), s.Tokens.ToString(CultureInfo.InvariantCulture),
        ];
        var rows = new List<IReadOnlyList<string>> { Row("train", TrainData) };
        if (EvalData is not null) rows.Add(Row("eval", EvalData));
        report.AddTable($"Preference data (loss_type {_config.LossType}, beta " +
            $"{_config.Beta.ToString(CultureInfo.InvariantCulture)})",
            ["split", "pairs", "truncated", "dropped (no completion tokens)", "tokens"], rows);
    }

    /// <summary>A whole run from a config: loads model_name_or_path, reads dataset_name (train split) and
    /// eval_dataset_name, trains, saves, and disposes of the model.</summary>
    public static DpoResult Run(DpoConfig config, ProgressDisplay? progress = null)
    {
        config.Validate();
        ModelTrainerSetup.CheckOutputIsNotTheModel(config);
        var train = PreferenceData.Load(config.DatasetName!, config.DatasetTrainSplit, config.DatasetConfig,
            config.SystemPrompt, "dataset_name");
        var eval = config.EvalDatasetName is { } path
            ? PreferenceData.Load(path, config.DatasetTestSplit, config.DatasetConfig, config.SystemPrompt,
                "eval_dataset_name")
            : null;
        using var model = ModelTrainerSetup.LoadModel(config);
        return new DpoTrainer(model, config, train, eval) { Progress = progress }.Train();
    }
}
