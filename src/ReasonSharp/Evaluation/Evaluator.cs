using System.Diagnostics;
using ReasonSharp.Data;
using ReasonSharp.Generation;
using ReasonSharp.Hub;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Evaluation;

/// <summary>
/// Settings of `reason eval` and of a pipeline's eval stage: k samples per example (<see cref="Greedy"/>: one, by
/// argmax) scored for correctness, format and length in each thinking mode; dataset, reward and decoding keys as in
/// <see cref="VerifiedGenerationOptions"/>, with dataset_split test.
/// </summary>
public sealed record EvalOptions() : VerifiedGenerationOptions(datasetSplit: "test")
{
    /// <summary>Samples per example: pass@1 averages over them, pass@k and maj@k use all of them.</summary>
    public int K { get; init; } = 4;
    /// <summary>Argmax decoding; implies k = 1.</summary>
    public bool Greedy { get; init; }
    /// <summary>Thinking modes to evaluate, each reported separately (no_think needs a qwen3 or dual-mode chat
    /// format).</summary>
    public IReadOnlyList<ThinkingMode> Modes { get; init; } = [ThinkingMode.Think];
    /// <summary>Style of the library's `format` reward used for format compliance: think (R1: a think block, then the
    /// answer) or think_answer.</summary>
    public string FormatStyle { get; init; } = "think";
    /// <summary>What maj@k votes on.</summary>
    public AnswerVote Vote { get; init; } = AnswerVote.Auto;
    /// <summary>A reward spec that scores every sample for best_of_k and weighted_maj@k (e.g.
    /// "process_lm(model=prm,aggregation=min)" or a reward model); null: neither is computed.</summary>
    public string? SelectionReward { get; init; }
    /// <summary>Samples actually drawn per example.</summary>
    public int EffectiveK => Greedy ? 1 : K;

    public override void Validate()
    {
        if (K < 1) throw new ReasonSharpException($"k must be at least 1, got {K}");
        if (Modes.Count == 0) throw new ReasonSharpException("modes: expected think, no_think or both");
        base.Validate();
    }
}

/// <summary>One model in one thinking mode: its metrics and each example's outcome.</summary>
public sealed record EvalResult(string Model, ThinkingMode Mode, EvalMetrics Metrics,
    IReadOnlyList<ExampleOutcome> Examples, IReadOnlyList<Example> Inputs,
    TimeSpan Elapsed);

/// <summary>
/// Evaluates models on a dataset: k samples per example with the batched engine, scored by the reward library, in each
/// thinking mode; see <see cref="EvalMetrics"/> for the metrics and <see cref="EvalReport"/> for the files.
/// </summary>
public sealed class Evaluator : IDisposable
{
    readonly CompositeReward _reward;
    readonly IRewardFunction _format;
    readonly CompositeReward? _selection;

    public EvalOptions Options { get; }

    /// <summary>Disposes the rewards (and the models a reward_model or process_lm reward loaded).</summary>
    public void Dispose()
    {
        _reward.Dispose();
        _selection?.Dispose();
    }

    public Evaluator(EvalOptions options, RewardRegistry? registry = null)
    {
        Validation.Once(options, options.Validate);
        Options = options;
        _reward = options.CreateReward(registry);
        _format = RewardSpecs.Format(options.FormatStyle);
        if (!string.IsNullOrWhiteSpace(options.SelectionReward))
        {
            try
            {
                _selection = RewardSpecs.Create(registry ?? RewardRegistry.CreateDefault(), options.SelectionReward);
            }
            catch (ReasonSharpException e) { throw new ReasonSharpException($"selection_reward: {e.Message}", e); }
        }
    }

    /// <summary>One result per mode of <see cref="EvalOptions.Modes"/>.</summary>
    public async Task<IReadOnlyList<EvalResult>> EvaluateAsync(LanguageModel model, string modelName,
        IReadOnlyList<Example> examples,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        if (examples.Count == 0) throw new ReasonSharpException("nothing to evaluate: the dataset has no examples");
        foreach (var mode in Options.Modes) mode.RequireSupported(model, modelName);
        var runner = new RolloutRunner(model, _reward);
        int k = Options.EffectiveK;
        var analyzer =
            new CompletionAnalyzer(ids => model.Decode(ids, skipSpecialTokens: true), _format, Options.Threshold,
            Options.Vote);
        var results = new List<EvalResult>();
        foreach (var mode in Options.Modes)
        {
            var clock = Stopwatch.StartNew();
            var rolloutOptions = new RolloutOptions
            {
                NumSamples = k, EnableThinking = mode.EnablesThinking(),
                GenerationBatchSize = Options.GenerationBatchSize,
                Sampling = Options.ToSampling(Options.Greedy),
            };
            var rollouts = await runner.RunAsync(examples, rolloutOptions,
                (done, total) => log?.Invoke($"{modelName} [{mode.Name()}]: {done}/{total} examples"),
                cancellationToken);
            var prefills = examples.Select(e => runner.PromptPrefill(e, mode.EnablesThinking())).ToList();
            var samples = await analyzer.AnalyzeAsync(rollouts, r => prefills[r.ExampleIndex], cancellationToken);
            var selection = await SelectionScoresAsync(rollouts, cancellationToken);
            var outcomes = EvalMetrics.Outcomes(samples, k,
                selection is null ? null : s => selection[(s.ExampleIndex, s.SampleIndex)]);
            results.Add(new EvalResult(modelName, mode, EvalMetrics.Compute(outcomes, k), outcomes, examples,
                clock.Elapsed));
        }
        return results;
    }

    /// <summary>Each sample's selection score: the selection reward's weighted total, null where none of its functions
    /// scored the sample; null without a selection reward.</summary>
    async Task<Dictionary<(int, int), float?>?> SelectionScoresAsync(IReadOnlyList<Rollout> rollouts,
        CancellationToken cancellationToken)
    {
        if (_selection is null) return null;
        var scores = await _selection.ScoreAsync(
            rollouts.Select(r => RolloutRunner.RewardInputFor(r.Example, r.Generation, 0)).ToList(), cancellationToken);
        return rollouts.Select((r, i) => (r, i)).ToDictionary(x => (x.r.ExampleIndex, x.r.SampleIndex),
            x => scores.Functions.Any(f => f.Values[x.i] is not null) ? scores.Total[x.i] : (float?)null);
    }

    /// <summary>Loads each model folder in turn (disposing it after), evaluating all of them on the same
    /// examples.</summary>
    public async Task<IReadOnlyList<EvalResult>> EvaluateAsync(IReadOnlyList<string> modelFolders,
        IReadOnlyList<Example> examples, string device = "auto",
        string? chatTemplate = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        if (modelFolders.Count == 0) throw new ReasonSharpException("give at least one model folder to evaluate");
        var results = new List<EvalResult>();
        foreach (var given in modelFolders)
        {
            var folder = HubPaths.Model(given);
            if (!Directory.Exists(folder)) throw new ReasonSharpException($"model {folder}: folder not found");
            using var model = LanguageModel.Load(folder, device, chatTemplate, Options.ChatTemplateKwargs);
            results.AddRange(await EvaluateAsync(model, given, examples, log, cancellationToken));
        }
        return results;
    }

    /// <summary>The examples of <paramref name="dataset"/> (a file or dataset folder) with the options' split, config
    /// and limit.</summary>
    public IReadOnlyList<Example> LoadExamples(string dataset) => Options.LoadExamples(dataset);
}

/// <summary>Reading the examples an evaluation or sampling run works on, with errors that name the dataset.</summary>
public static class DatasetLoading
{
    public static IReadOnlyList<Example> Load(string dataset, string? split, string? config, int? limit)
    {
        if (string.IsNullOrWhiteSpace(dataset)) throw new ReasonSharpException("dataset: expected a " +
            ".jsonl/.json/.parquet file or a dataset folder");
        dataset = HubPaths.Dataset(dataset, config);
        if (!File.Exists(dataset) && !Directory.Exists(dataset)) throw new ReasonSharpException($"dataset " +
            $"{dataset}: no such file or folder");
        if (limit is < 1) throw new ReasonSharpException($"limit must be at least 1, got {limit}");
        var source = new DatasetSource(dataset) { Split = Directory.Exists(dataset) ? split : null, Config = config };
        var examples = DatasetReader.ReadExamples(source).Take(limit ?? int.MaxValue).ToList();
        if (examples.Count == 0) throw new ReasonSharpException($"dataset {dataset}: no examples");
        return examples;
    }
}
