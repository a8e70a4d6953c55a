using System.Globalization;
using ReasonSharp.Configuration;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Tokenization;
using ReasonSharp.Training.Lora;

namespace ReasonSharp.Training;

/// <summary>
/// The set-up SFT, GRPO, STaR, DPO, reward-model and PRM training share around their own batches and losses: loading
/// the model with its chat format, reading datasets, applying LoRA, saving the bound options beside the run, reporting
/// what the data became, and running the one <see cref="Trainer"/> loop so that the final model (or the adapter with
/// its tokenizer) lands in output_dir.
/// </summary>
public static class ModelTrainerSetup
{
    /// <summary>Loads <paramref name="folder"/> (default: model_name_or_path) on the configured device with the
    /// chat_format template.</summary>
    public static LanguageModel LoadModel(ModelTrainingOptions options, string? folder = null) =>
        LanguageModel.Load(folder ?? options.ModelNameOrPath
            ?? throw new ReasonSharpException("training option 'model_name_or_path' is not set; expected a model " +
            "folder"),
            options.Device, options.ChatFormat, options.ChatTemplateKwargs);

    /// <summary>A trainer given a loaded model: chat_format, when set, must be the template it was loaded with.
    /// </summary>
    public static void CheckChatFormat(LanguageModel model, ModelTrainingOptions options)
    {
        if (options.ChatFormat is { } chatFormat && ChatTemplates.Resolve(chatFormat,
            "training option 'chat_format'") != model.Chat.Template.Source)
            throw new ReasonSharpException($"training option 'chat_format' is {chatFormat}, but the model was loaded "
                + $"with another chat template ({model.Chat.Name}); load it with that template");
    }

    /// <summary>output_dir must not be model_name_or_path: the run would overwrite its base model.</summary>
    public static void CheckOutputIsNotTheModel(ModelTrainingOptions options)
    {
        if (options.ModelNameOrPath is { } model
            && Path.GetFullPath(options.OutputDir).TrimEnd('/') == Path.GetFullPath(model).TrimEnd('/'))
            throw new ReasonSharpException($"training option 'output_dir' is the model folder {model}; the run " +
                $"would overwrite its base model");
    }

    /// <summary>dataset_name's train split as examples (any schema the data layer reads).</summary>
    public static List<Example> ReadTrainExamples(ModelTrainingOptions options) =>
        ReadExamples(options.DatasetName
            ?? throw new ReasonSharpException("training option 'dataset_name' is not set; expected a data file or " +
            "dataset folder"),
            options.DatasetTrainSplit, options.DatasetConfig);

    /// <summary>eval_dataset_name's test split as examples, or null when it is not set.</summary>
    public static List<Example>? ReadEvalExamples(ModelTrainingOptions options) =>
        options.EvalDatasetName is { } path
            ? ReadExamples(path, options.DatasetTestSplit, options.DatasetConfig)
            : null;

    /// <summary>dataset_name's train split and eval_dataset_name's test split (null when it is not set), each read by
    /// <paramref name="read"/>(path, split, option name).</summary>
    public static (T Train, T? Eval) ReadTrainAndEval<T>(ModelTrainingOptions options,
        Func<string, string, string, T> read) where T : class
    {
        var train = read(options.DatasetName!, options.DatasetTrainSplit, "dataset_name");
        var eval = options.EvalDatasetName is { } path
            ? read(path, options.DatasetTestSplit, "eval_dataset_name")
            : null;
        return (train, eval);
    }

    /// <summary>eval_strategy steps needs held-out <paramref name="units"/> ("pairs", "rows").</summary>
    public static void CheckHeldOutData(TrainingOptions options, bool hasEval, string units)
    {
        if (options.EvalStrategy == "steps" && !hasEval)
            throw new ReasonSharpException("training option 'eval_strategy' is steps, but there are no held-out " +
                $"{units}; set eval_dataset_name");
    }

    static List<Example> ReadExamples(string path, string split, string? config) =>
        DatasetReader.ReadExamples(new DatasetSource(path) { Split = split, Config = config }).ToList();

    /// <summary>LoRA adapters from the lora_* options applied to the model when use_peft is on, else null (full
    /// training).</summary>
    public static LoraAdapters? ApplyLora(LanguageModel model, ModelTrainingOptions options) =>
        options.UsePeft ? LoraAdapters.Apply(model.Model, options.Lora(), options.Seed) : null;

    /// <summary>
    /// Checks output_dir for another run (see <see cref="RunFolder.Prepare"/>: refused, or deleted with
    /// overwrite_output_dir), then writes the options as YAML (every key, as bound) to
    /// output_dir/<paramref name="fileName"/>.
    /// </summary>
    public static void SaveOptions(TrainingOptions options, string fileName, ProgressDisplay? progress = null)
    {
        if (RunFolder.Prepare(options) is { } cleared) progress?.WriteLine(cleared);
        Directory.CreateDirectory(options.OutputDir);
        AtomicFile.WriteAllText(Path.Combine(options.OutputDir, fileName), OptionsBinder.ToYaml(options));
    }

    /// <summary>
    /// The start of a run on encoded data: saves the options as <see cref="TrainingOptions.RecipeFile"/> (see
    /// <see cref="SaveOptions"/>) and prints what the train and eval <paramref name="units"/> became. Returns the
    /// progress display (the console's unless one is given).
    /// </summary>
    public static ProgressDisplay StartRun(TrainingOptions options, ProgressDisplay? progress, string units,
        string train, string? eval)
    {
        progress ??= ProgressDisplay.ForConsole(options.DisableTqdm);
        SaveOptions(options, TrainingOptions.RecipeFile, progress);
        progress.WriteLine($"train {units}: {train}");
        if (eval is not null) progress.WriteLine($"eval {units}: {eval}");
        return progress;
    }

    /// <summary>The report's table of what the data became: a row per split ("train", then "eval" when there is
    /// one), its name then its <paramref name="cells"/>.</summary>
    public static void AddDataTable<TStats>(RunReport report, string heading, IReadOnlyList<string> headers,
        TStats train, TStats? eval, Func<TStats, long[]> cells) where TStats : class
    {
        string[] Row(string name, TStats stats) =>
            [name, .. cells(stats).Select(c => c.ToString(CultureInfo.InvariantCulture))];
        var rows = new List<IReadOnlyList<string>> { Row("train", train) };
        if (eval is not null) rows.Add(Row("eval", eval));
        report.AddTable(heading, headers, rows);
    }

    /// <summary>Runs the training loop on <paramref name="task"/>; checkpoints and the final model carry the tokenizer,
    /// and an adapter run saves it beside the adapter.</summary>
    public static TrainingResult Train(LanguageModel model, ITrainingTask task, TrainingOptions options,
        LoraAdapters? adapters, ProgressDisplay? progress,
        Action<RunReport> extendReport, Action<StepRecord>? stepCompleted = null)
    {
        var trainer = new Trainer(model.Model, task, options, adapters)
        {
            Progress = progress,
            StepCompleted = stepCompleted,
            ModelSaveOptions = new ModelSaveOptions { TokenizerFolder = model.Tokenizer.Folder },
            ExtendReport = (report, _) => extendReport(report),
        };
        var result = trainer.Train();
        if (adapters is not null) model.Tokenizer.SaveTo(options.OutputDir);
        return result;
    }
}
