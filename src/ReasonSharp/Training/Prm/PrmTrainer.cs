using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Rewards.Steps;

namespace ReasonSharp.Training.Prm;

/// <summary>What encoding did to the rows: steps trained on, good among them, and rows cut or dropped by the length
/// limits.</summary>
public sealed record StepwiseDataStats(int Rows, int Steps, int GoodSteps, int Truncated, int Dropped, long Tokens)
{
    public string Describe() => $"{Rows} rows, {Steps} steps trained on ({GoodSteps} good), {Truncated} truncated, " +
        $"{Dropped} dropped without a step left, {Tokens} tokens";
}

/// <summary>The outcome of a PRM run: the loop's result and what the data became.</summary>
public sealed record PrmResult(TrainingResult Training, StepwiseDataStats TrainData, StepwiseDataStats? EvalData);

/// <summary>
/// Trains the process_lm judge on stepwise-supervision rows (TRL's PRMTrainer, Math-Shepherd's judge layout): each row
/// is encoded as question, steps and a step_separator tag after each, the one <see cref="Trainer"/> loop runs
/// <see cref="PrmTask"/>, and output_dir gets the model, its tokenizer and
/// <see cref="LmStepScorerOptions.SettingsFile"/>, so that <c>process_lm(model=output_dir)</c> loads it as it is.
/// </summary>
public sealed class PrmTrainer
{
    readonly LanguageModel _model;
    readonly PrmConfig _config;
    readonly LmStepScorer _judge;
    readonly List<EncodedStepwiseRow> _train;
    readonly List<EncodedStepwiseRow>? _eval;

    public StepwiseDataStats TrainData { get; }
    public StepwiseDataStats? EvalData { get; }
    public ProgressDisplay? Progress { get; init; }

    public PrmTrainer(LanguageModel model, PrmConfig config, IReadOnlyList<StepwiseRow> train,
        IReadOnlyList<StepwiseRow>? eval = null)
    {
        Validation.Once(config, config.Validate);
        _model = model;
        _config = config;
        try
        {
            _judge = new LmStepScorer(model, new LmStepScorerOptions
            {
                StepTag = config.StepSeparator, GoodToken = config.GoodToken, BadToken = config.BadToken,
                StepJoin = config.StepJoin, LikelihoodFeature = config.LikelihoodFeature,
            });
        }
        catch (ReasonSharpException e)
        {
            throw new ReasonSharpException($"training option {e.Message.Replace("option 'step_tag'",
                "'step_separator'")}", e);
        }
        (_train, TrainData) = Encode(_judge, train, config);
        if (eval is not null) (_eval, EvalData) = Encode(_judge, eval, config);
        ModelTrainerSetup.CheckHeldOutData(config, _eval is not null, "rows");
    }

    /// <summary>Rows as judge inputs within the length limits; the trained steps are all kept steps, or with
    /// train_on_last_step_only the row's last step (a row whose last step was cut is dropped).</summary>
    public static (List<EncodedStepwiseRow> Rows, StepwiseDataStats Stats) Encode(LmStepScorer judge,
        IReadOnlyList<StepwiseRow> rows, PrmConfig config)
    {
        var limits = new JudgeLimits(config.MaxPromptLength, config.MaxCompletionLength, config.MaxLength);
        var encoded = new List<EncodedStepwiseRow>();
        int truncated = 0, dropped = 0;
        foreach (var row in rows)
        {
            if (config.SoftLabels && row.SoftLabels is null)
                throw new ReasonSharpException($"{row.Source}: field 'soft_labels': missing, but soft_labels is " +
                    "on; expected one fraction per step (reason prm label writes them)");
            var (input, kept) = judge.Encode(row.Prompt, row.Completions, limits);
            if (kept < row.Completions.Count) truncated++;
            var trained = config.TrainOnLastStepOnly
                ? kept == row.Completions.Count ? [kept - 1] : Array.Empty<int>()
                : Enumerable.Range(0, kept).ToArray();
            if (trained.Length == 0) { dropped++; continue; }
            encoded.Add(new EncodedStepwiseRow(input, trained,
                trained.Select(k => config.SoftLabels ? (float)row.SoftLabels![k] : row.Labels[k] ? 1f : 0f).ToArray(),
                trained.Select(k => row.Labels[k]).ToArray(), row.Source));
        }
        var stats = new StepwiseDataStats(rows.Count, encoded.Sum(r => r.TrainedTags.Length),
            encoded.Sum(r => r.Labels.Count(l => l)), truncated, dropped,
            encoded.Sum(r => (long)r.Input.Ids.Length));
        return (encoded, stats);
    }

    public PrmResult Train()
    {
        var progress = ModelTrainerSetup.StartRun(_config, Progress, "rows", TrainData.Describe(),
            EvalData?.Describe());
        var task = new PrmTask(_judge, _train, _eval, _config.Seed);
        var result = ModelTrainerSetup.Train(_model, task, _config, adapters: null, progress, ExtendReport);
        _judge.Options.SaveTo(_config.OutputDir);
        return new PrmResult(result, TrainData, EvalData);
    }

    void ExtendReport(RunReport report) =>
        ModelTrainerSetup.AddDataTable(report, $"Stepwise data ({(_config.SoftLabels ? "soft" : "hard")} labels" +
            $"{(_config.TrainOnLastStepOnly ? ", last step only" : "")})",
            ["split", "rows", "steps trained", "good", "truncated", "dropped"], TrainData, EvalData,
            s => [s.Rows, s.Steps, s.GoodSteps, s.Truncated, s.Dropped]);

    /// <summary>A whole run from a config: loads model_name_or_path, reads dataset_name (train split) and
    /// eval_dataset_name, trains, saves, and disposes of the model.</summary>
    public static PrmResult Run(PrmConfig config, ProgressDisplay? progress = null)
    {
        Validation.Once(config, config.Validate);
        ModelTrainerSetup.CheckOutputIsNotTheModel(config);
        var (train, eval) = ModelTrainerSetup.ReadTrainAndEval(config, (path, split, option) =>
            StepwiseData.Load(path, split, config.DatasetConfig, option));
        using var model = ModelTrainerSetup.LoadModel(config);
        return new PrmTrainer(model, config, train, eval) { Progress = progress }.Train();
    }
}
