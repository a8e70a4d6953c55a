using ReasonSharp.Configuration;
using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Export;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Tokenization;
using ReasonSharp.Training;
using ReasonSharp.Training.Grpo;
using ReasonSharp.Training.Lora;
using ReasonSharp.Training.Sft;
using ReasonSharp.Training.Star;
using YamlDotNet.RepresentationModel;

namespace ReasonSharp.Recipes;

/// <summary>What a finished stage produced: named outputs (model, train, test, data, results, file…) and headline metrics.</summary>
public sealed record StageOutput(IReadOnlyDictionary<string, string> Outputs, IReadOnlyDictionary<string, double> Metrics);

/// <summary>What a stage runner sees: its folder, the model of the previous model-producing stage, the pipeline's seed and device.</summary>
public sealed record StageContext(string Name, string OutputDir, string? Model, long Seed, string Device, ProgressDisplay Progress);

/// <summary>Generates a synthetic verifiable task with a train/test split that shares no problem (`reason data generate`).</summary>
public sealed record DataStageOptions
{
    public string Task { get; init; } = "arithmetic";
    public int N { get; init; } = 5000;
    public int Difficulty { get; init; } = 1;
    public double TestFraction { get; init; } = 0.1;
    /// <summary>Share of training problems whose trace is only the answer (an empty think block); the test split is never changed.</summary>
    public double AnswerOnlyFraction { get; init; }
    public int? Seed { get; init; }
}

/// <summary>Trains a byte-level BPE tokenizer with the reasoning special tokens (`reason tokenizer train`).</summary>
public sealed record TokenizerStageOptions
{
    public IReadOnlyList<string> Input { get; init; } = [];
    public int VocabSize { get; init; } = 1024;
    /// <summary>chatml, or dual-mode for models that switch thinking with /think and /no_think.</summary>
    public string ChatFormat { get; init; } = "chatml";
}

/// <summary>A randomly initialised model sized to a tokenizer (`reason init-model`).</summary>
public sealed record InitStageOptions
{
    public string Arch { get; init; } = "qwen2";
    public string Size { get; init; } = "tiny";
    public string Tokenizer { get; init; } = "";
    public int MaxPositions { get; init; } = 1024;
    public int? HiddenSize { get; init; }
    public int? IntermediateSize { get; init; }
    public int? Layers { get; init; }
    public int? Heads { get; init; }
    public int? KvHeads { get; init; }
    public long? Seed { get; init; }
}

/// <summary>`reason eval` as a stage: one model (the current one unless `model` is given) on a dataset.</summary>
public sealed record EvalStageOptions
{
    public string Dataset { get; init; } = "";
    public EvalOptions Eval { get; init; } = new();
}

/// <summary>`reason sample` as a stage: rejection sampling with the current model writes SFT-ready `data`.</summary>
public sealed record SampleStageOptions
{
    public string Dataset { get; init; } = "";
    public RejectionSamplingOptions Sample { get; init; } = new();
}

/// <summary>Merges a LoRA adapter into its base model (`reason merge`).</summary>
public sealed record MergeStageOptions
{
    public string Base { get; init; } = "";
    public string Adapter { get; init; } = "";
}

/// <summary>Exports the current model to GGUF for llama.cpp and Ollama.</summary>
public sealed record ExportStageOptions
{
    /// <summary>f32, f16 or q8_0 (named gguf_type because `type` names the stage's type).</summary>
    public GgufFileType GgufType { get; init; } = GgufFileType.F32;
    public string? FileName { get; init; }
}

/// <summary>Runs one stage type from its YAML options.</summary>
public static class PipelineStages
{
    public static readonly IReadOnlyList<string> Types = ["data", "tokenizer", "init", "sft", "grpo", "sample", "star", "eval", "merge", "export"];

    /// <summary>Binds a stage's options (every unknown key or bad value is an error now) and returns the work to run.</summary>
    public static Func<StageOutput> Prepare(string type, YamlMappingNode options, StageContext context, string source)
    {
        switch (type)
        {
            case "data": { var o = Bind(new DataStageOptions(), options, source); return () => Data(o, context); }
            case "tokenizer": { var o = Bind(new TokenizerStageOptions(), options, source); return () => TokenizerStage(o, context); }
            case "init": { var o = Bind(new InitStageOptions(), options, source); return () => Init(o, context); }
            case "sft":
            {
                var o = Bind(new SftConfig { OutputDir = context.OutputDir, ModelNameOrPath = context.Model, Seed = context.Seed, Device = context.Device }, options, source);
                return () => Sft(o, context);
            }
            case "grpo":
            {
                var o = Bind(new GrpoConfig { OutputDir = context.OutputDir, ModelNameOrPath = context.Model ?? "", Seed = context.Seed, Device = context.Device }, options, source);
                return () => Grpo(o, context);
            }
            case "star":
            {
                var o = Bind(new StarConfig { OutputDir = context.OutputDir, ModelNameOrPath = context.Model ?? "", Seed = context.Seed, Device = context.Device }, options, source);
                return () => Star(o, context);
            }
            case "sample":
            {
                var o = BindNested<SampleStageOptions, RejectionSamplingOptions>(options, source, "dataset", (s, r) => s with { Sample = r }, new RejectionSamplingOptions { Seed = context.Seed });
                return () => Sample(o, context);
            }
            case "eval":
            {
                var o = BindNested<EvalStageOptions, EvalOptions>(options, source, "dataset", (s, e) => s with { Eval = e }, new EvalOptions { Seed = context.Seed });
                return () => Eval(o, context);
            }
            case "merge": { var o = Bind(new MergeStageOptions { Base = context.Model ?? "" }, options, source); return () => Merge(o, context); }
            case "export": { var o = Bind(new ExportStageOptions(), options, source); return () => ExportStage(o, context); }
            default: throw new ReasonSharpException($"{source}: stage type '{type}' is unknown; expected one of {string.Join(", ", Types)}");
        }
    }

    static T Bind<T>(T start, YamlMappingNode options, string source) where T : class => OptionsBinder.Apply(start, options, source);

    /// <summary>Stages that wrap a library options record take its keys directly, beside their own (e.g. `dataset`).</summary>
    static TStage BindNested<TStage, TInner>(YamlMappingNode options, string source, string ownKey, Func<TStage, TInner, TStage> set, TInner inner)
        where TStage : class, new() where TInner : class
    {
        var own = new YamlMappingNode();
        var rest = new YamlMappingNode();
        foreach (var (key, value) in options.Children)
            (((YamlScalarNode)key).Value == ownKey ? own : rest).Add(key, value);
        var stage = OptionsBinder.Apply(new TStage(), own, source);
        return set(stage, OptionsBinder.Apply(inner, rest, source));
    }

    static string RequireModel(StageContext context) =>
        context.Model ?? throw new ReasonSharpException($"stage '{context.Name}' needs a model: give `model:` or put a stage that makes one (init, sft, grpo…) before it");

    static StageOutput Data(DataStageOptions o, StageContext context)
    {
        var task = SyntheticTasks.ByName(o.Task);
        int seed = (int)(o.Seed ?? context.Seed);
        var split = SyntheticDataset.GenerateSplit(task, o.N, o.Difficulty, seed, o.TestFraction);
        var trainProblems = SyntheticDataset.WithAnswerOnlyTraces(split.Train, o.AnswerOnlyFraction, seed);
        Directory.CreateDirectory(context.OutputDir);
        var (train, test) = SyntheticDataset.SplitPaths(Path.Combine(context.OutputDir, $"{task.Name}.jsonl"));
        SyntheticDataset.WriteJsonl(train, trainProblems);
        SyntheticDataset.WriteJsonl(test, split.Test);
        int answerOnly = trainProblems.Count(p => p.AnswerOnly);
        context.Progress.WriteLine($"{task.Name} (difficulty {o.Difficulty}): {split.Train.Count} train, {split.Test.Count} test problems"
            + (answerOnly > 0 ? $"; the teacher shows its working in {split.Train.Count - answerOnly} training traces and only the answer in {answerOnly}" : ""));
        return new StageOutput(new Dictionary<string, string> { ["train"] = train, ["test"] = test, ["reward"] = task.RewardName },
            new Dictionary<string, double> { ["train"] = split.Train.Count, ["test"] = split.Test.Count });
    }

    static StageOutput TokenizerStage(TokenizerStageOptions o, StageContext context)
    {
        if (o.Input.Count == 0) throw new ReasonSharpException($"stage '{context.Name}': option 'input' needs at least one text or JSONL file");
        var texts = o.Input.SelectMany(path => TrainingCorpus.Read(path));
        var model = BpeTrainer.TrainToFolder(texts, new BpeTrainerOptions { VocabSize = o.VocabSize, ChatTemplate = BpeTrainerOptions.TemplateFor(o.ChatFormat) }, context.OutputDir);
        context.Progress.WriteLine($"byte-level BPE tokenizer: {model.VocabSize} tokens");
        return new StageOutput(new Dictionary<string, string> { ["folder"] = context.OutputDir }, new Dictionary<string, double> { ["vocab_size"] = model.VocabSize });
    }

    static StageOutput Init(InitStageOptions o, StageContext context)
    {
        var preset = ModelPresets.Get(o.Size);
        var shape = preset with
        {
            HiddenSize = o.HiddenSize ?? preset.HiddenSize, IntermediateSize = o.IntermediateSize ?? preset.IntermediateSize,
            Layers = o.Layers ?? preset.Layers, Heads = o.Heads ?? preset.Heads, KvHeads = o.KvHeads ?? preset.KvHeads,
        };
        using var model = LanguageModel.Initialize(o.Arch, shape, o.Tokenizer, o.Seed ?? context.Seed, o.MaxPositions, device: "cpu");
        model.Save(context.OutputDir);
        context.Progress.WriteLine($"{model.Model.Config.Architecture}: {model.ParameterCount() / 1e6:F2}M parameters");
        return new StageOutput(new Dictionary<string, string> { ["model"] = context.OutputDir }, new Dictionary<string, double> { ["parameters"] = model.ParameterCount() });
    }

    static StageOutput Sft(SftConfig config, StageContext context)
    {
        var result = SftTrainer.Run(ResumeIfStarted(config), context.Progress);
        var model = config.UsePeft ? MergeAdapter(config.ModelNameOrPath!, config.OutputDir, Path.Combine(config.OutputDir, "merged")) : config.OutputDir;
        var metrics = new Dictionary<string, double> { ["steps"] = result.Training.GlobalStep, ["seconds"] = result.Training.Seconds };
        if (result.Training.Losses.Count > 0) metrics["final_loss"] = result.Training.Losses[^1];
        if (result.Accuracy.LastOrDefault() is { } accuracy) metrics["eval_accuracy"] = accuracy.Accuracy;
        return new StageOutput(new Dictionary<string, string> { ["model"] = model, ["metrics"] = Path.Combine(config.OutputDir, "metrics.jsonl") }, metrics);
    }

    static StageOutput Grpo(GrpoConfig config, StageContext context)
    {
        var result = GrpoTrainer.Run(ResumeIfStarted(config), progress: context.Progress);
        var model = config.UsePeft ? MergeAdapter(config.ModelNameOrPath!, config.OutputDir, Path.Combine(config.OutputDir, "merged")) : config.OutputDir;
        return new StageOutput(new Dictionary<string, string> { ["model"] = model, ["metrics"] = Path.Combine(config.OutputDir, "metrics.jsonl") },
            new Dictionary<string, double> { ["steps"] = result.GlobalStep, ["seconds"] = result.Seconds });
    }

    static StageOutput Star(StarConfig config, StageContext context)
    {
        var result = StarTrainer.Run(ResumeStarIfStarted(config), context.Progress);
        return new StageOutput(new Dictionary<string, string> { ["model"] = result.FinalModel, ["data"] = result.Iterations[^1].Data },
            new Dictionary<string, double> { ["iterations"] = result.Iterations.Count, ["eval_accuracy"] = result.Iterations[^1].Accuracy });
    }

    /// <summary>
    /// A training stage that did not finish (pipeline_state.json does not list it) continues from its latest
    /// checkpoint; with none yet, the files it left are its own partial run, deleted (overwrite_output_dir) before it
    /// starts over.
    /// </summary>
    static T ResumeIfStarted<T>(T config) where T : TrainingOptions
    {
        if (config.ResumeFromCheckpoint is not null || config.OverwriteOutputDir) return config;
        if (Checkpoints.List(config.OutputDir).Count > 0) return config with { ResumeFromCheckpoint = "latest" };
        return RunFolder.RunEntries(config.OutputDir).Count > 0 ? config with { OverwriteOutputDir = true } : config;
    }

    /// <summary>An unfinished STaR stage goes on after its last finished iteration, or starts over.</summary>
    static StarConfig ResumeStarIfStarted(StarConfig config)
    {
        if (config.ResumeFromCheckpoint is not null || config.OverwriteOutputDir) return config;
        if (File.Exists(Path.Combine(config.OutputDir, StarTrainer.StateFile)))
            return config with { ResumeFromCheckpoint = "latest" };
        return RunFolder.RunEntries(config.OutputDir).Count > 0 ? config with { OverwriteOutputDir = true } : config;
    }

    static StageOutput Sample(SampleStageOptions o, StageContext context)
    {
        using var model = LanguageModel.Load(RequireModel(context), context.Device);
        var sampler = new RejectionSampler(o.Sample);
        var examples = sampler.LoadExamples(o.Dataset);
        var kept = Path.Combine(context.OutputDir, "kept.jsonl");
        Directory.CreateDirectory(context.OutputDir);
        var summary = sampler.RunAsync(model, examples, kept, context.Progress.WriteLine).GetAwaiter().GetResult();
        return new StageOutput(new Dictionary<string, string> { ["data"] = kept },
            new Dictionary<string, double> { ["kept_rows"] = summary.KeptRows, ["mean_pass_rate"] = summary.MeanPassRate, ["prompts"] = summary.Prompts });
    }

    static StageOutput Eval(EvalStageOptions o, StageContext context)
    {
        var modelPath = RequireModel(context);
        var evaluator = new Evaluator(o.Eval);
        var examples = evaluator.LoadExamples(o.Dataset);
        IReadOnlyList<EvalResult> results;
        using (var model = LanguageModel.Load(modelPath, context.Device))
            results = evaluator.EvaluateAsync(model, context.Name, examples, context.Progress.WriteLine).GetAwaiter().GetResult();
        var json = Path.Combine(context.OutputDir, "results.json");
        EvalReport.Write(json, results, o.Eval, o.Dataset);
        context.Progress.WriteLine(EvalReport.Table(results));
        var metrics = new Dictionary<string, double>();
        foreach (var r in results)
        {
            var mode = OptionsBinder.SnakeCase(r.Mode.ToString());
            metrics[$"{mode}/pass@1"] = r.Metrics.PassAt1;
            metrics[$"{mode}/pass@{r.Metrics.K}"] = r.Metrics.PassAtK;
            metrics[$"{mode}/maj@{r.Metrics.K}"] = r.Metrics.MajAtK;
            metrics[$"{mode}/format_rate"] = r.Metrics.FormatRate;
            metrics[$"{mode}/mean_think_tokens"] = r.Metrics.ThinkTokens.Mean;
            metrics[$"{mode}/mean_completion_tokens"] = r.Metrics.CompletionTokens.Mean;
        }
        return new StageOutput(new Dictionary<string, string> { ["results"] = json, ["evaluated_model"] = modelPath }, metrics);
    }

    static StageOutput Merge(MergeStageOptions o, StageContext context)
    {
        var merged = MergeAdapter(o.Base, o.Adapter, context.OutputDir);
        return new StageOutput(new Dictionary<string, string> { ["model"] = merged }, new Dictionary<string, double>());
    }

    /// <summary>Base + LoRA adapter → a full model folder with the tokenizer.</summary>
    public static string MergeAdapter(string baseFolder, string adapterFolder, string output)
    {
        using var lm = LanguageModel.Load(baseFolder, "cpu");
        var adapters = LoraAdapters.Load(lm.Model, adapterFolder);
        var merged = adapters.MergeAndUnload();
        ModelFolder.Save(merged, output, new ModelSaveOptions { TokenizerFolder = lm.Tokenizer.Folder });
        return output;
    }

    static StageOutput ExportStage(ExportStageOptions o, StageContext context)
    {
        var model = RequireModel(context);
        Directory.CreateDirectory(context.OutputDir);
        var path = Path.Combine(context.OutputDir, o.FileName ?? $"model-{o.GgufType.ToString().ToLowerInvariant()}.gguf");
        var result = GgufExporter.ExportFolder(model, path, new GgufExportOptions { Type = o.GgufType });
        context.Progress.WriteLine($"GGUF ({result.FileType}): {path}, {result.FileBytes / 1e6:F1} MB");
        return new StageOutput(new Dictionary<string, string> { ["file"] = path }, new Dictionary<string, double> { ["bytes"] = result.FileBytes });
    }
}
