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
        Validation.Once(config, config.Validate);
        ModelTrainerSetup.CheckChatFormat(model, config);
        _model = model;
        _config = config;
        (_train, TrainData) = PreferenceData.Encode(train, model.Chat, config);
        if (eval is not null) (_eval, EvalData) = PreferenceData.Encode(eval, model.Chat, config);
        ModelTrainerSetup.CheckHeldOutData(config, _eval is not null, "pairs");
    }

    public DpoResult Train()
    {
        var progress = ModelTrainerSetup.StartRun(_config, Progress, "pairs", TrainData.Describe(),
            EvalData?.Describe());
        var adapters = ModelTrainerSetup.ApplyLora(_model, _config);
        long pad = _model.Tokenizer.PadTokenId ?? _model.Tokenizer.EosTokenId ?? 0;
        Task = new DpoTask(_train, _eval, _config, pad);
        TrainingResult result;
        using (Task) result = ModelTrainerSetup.Train(_model, Task, _config, adapters, progress, ExtendReport);
        return new DpoResult(result, TrainData, EvalData);
    }

    void ExtendReport(RunReport report) =>
        ModelTrainerSetup.AddDataTable(report, $"Preference data (loss_type {_config.LossType}, beta " +
            $"{_config.Beta.ToString(CultureInfo.InvariantCulture)})",
            ["split", "pairs", "truncated", "dropped (no completion tokens)", "tokens"], TrainData, EvalData,
            s => [s.Pairs, s.Truncated, s.Dropped, s.Tokens]);

    /// <summary>A whole run from a config: loads model_name_or_path, reads dataset_name (train split) and
    /// eval_dataset_name, trains, saves, and disposes of the model.</summary>
    public static DpoResult Run(DpoConfig config, ProgressDisplay? progress = null)
    {
        Validation.Once(config, config.Validate);
        ModelTrainerSetup.CheckOutputIsNotTheModel(config);
        var (train, eval) = ModelTrainerSetup.ReadTrainAndEval(config, (path, split, option) =>
            PreferenceData.Load(path, split, config.DatasetConfig, config.SystemPrompt, option));
        using var model = ModelTrainerSetup.LoadModel(config);
        return new DpoTrainer(model, config, train, eval) { Progress = progress }.Train();
    }
}
