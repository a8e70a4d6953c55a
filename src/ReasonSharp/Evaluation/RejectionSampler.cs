using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;

namespace ReasonSharp.Evaluation;

/// <summary>Settings of `reason sample` and of a pipeline's sample stage: what becomes of the verified completions
/// (dataset, reward, threshold and decoding keys as in <see cref="VerifiedGenerationOptions"/>, with dataset_split
/// train). With <see cref="Pairs"/> the output is preference pairs instead of SFT rows.</summary>
public sealed record RejectionSamplingOptions() : VerifiedGenerationOptions(datasetSplit: "train")
{
    /// <summary>Completions sampled per prompt.</summary>
    public int NumGenerations { get; init; } = 8;
    public SelectionMode Select { get; init; } = SelectionMode.All;
    /// <summary>How many verified completions first, shortest and diverse keep per prompt.</summary>
    public int Keep { get; init; } = 1;
    /// <summary>Drop verified completions identical to an earlier one once whitespace is normalised.</summary>
    public bool Dedup { get; init; }
    /// <summary>Prompts whose pass rate is below this contribute nothing (too hard).</summary>
    public double MinPassRate { get; init; }
    /// <summary>Prompts whose pass rate is above this contribute nothing (too easy).</summary>
    public double MaxPassRate { get; init; } = 1.0;
    /// <summary>think, no_think, or both: every prompt sampled in each mode, rows recording their mode.</summary>
    public SampleMode Mode { get; init; } = SampleMode.Think;
    /// <summary>Write preference pairs (a verified completion as chosen, a failed one of the same prompt and mode as
    /// rejected) instead of SFT rows; select and keep do not apply.</summary>
    public bool Pairs { get; init; }
    /// <summary>random (default) or shortest_longest. Random, because shortest verified against longest failed
    /// teaches a model to skip its working (DpoLearningTests: sigmoid DPO 0.5 % against 35.5 % random, seed 2).
    /// </summary>
    public PairSelection PairSelection { get; init; } = PairSelection.Random;
    /// <summary>At most this many pairs per prompt and mode.</summary>
    public int MaxPairsPerPrompt { get; init; } = 1;
    /// <summary>Prompts per chunk: outputs and progress are committed after each chunk.</summary>
    public int ChunkSize { get; init; } = 16;
    /// <summary>Start again instead of resuming.</summary>
    public bool Overwrite { get; init; }

    public override void Validate()
    {
        if (NumGenerations < 1) throw new ReasonSharpException($"num_generations must be at least 1, got " +
            $"{NumGenerations}");
        if (Keep < 1) throw new ReasonSharpException($"keep must be at least 1, got {Keep}");
        if (MinPassRate is < 0 or > 1 || double.IsNaN(MinPassRate)) throw new ReasonSharpException($"min_pass_rate " +
            $"must be in [0, 1], got {MinPassRate}");
        if (MaxPassRate is < 0 or > 1 || double.IsNaN(MaxPassRate)) throw new ReasonSharpException($"max_pass_rate " +
            $"must be in [0, 1], got {MaxPassRate}");
        if (MinPassRate > MaxPassRate) throw new ReasonSharpException($"min_pass_rate ({MinPassRate}) must not " +
            $"exceed max_pass_rate ({MaxPassRate})");
        if (ChunkSize < 1) throw new ReasonSharpException($"chunk_size must be at least 1, got {ChunkSize}");
        if (MaxPairsPerPrompt < 1) throw new ReasonSharpException($"max_pairs_per_prompt must be at least 1, got " +
            $"{MaxPairsPerPrompt}");
        if (!Enum.IsDefined(Mode)) throw new ReasonSharpException($"mode must be think, no_think or both, got {Mode}");
        if (!Enum.IsDefined(PairSelection)) throw new ReasonSharpException($"pair_selection must be " +
            $"shortest_longest or random, got {PairSelection}");
        base.Validate();
    }
}

/// <summary>What became of a prompt.</summary>
public enum PromptStatus
{
    /// <summary>Verified completions were kept (with pairs: pairs were written).</summary>
    Kept,
    /// <summary>None of the samples was verified.</summary>
    NoneCorrect,
    /// <summary>Pass rate below min_pass_rate.</summary>
    TooHard,
    /// <summary>Pass rate above max_pass_rate.</summary>
    TooEasy,
    /// <summary>Pairs only: every sample was verified, so nothing to reject.</summary>
    AllCorrect,
}

/// <summary>A kept completion: the rollout and its whole assistant turn (template prefill + completion).</summary>
public sealed record KeptCompletion(Rollout Rollout, string Response);

/// <summary>One prompt's statistics and kept completions (or pairs) in one mode. PassAtK holds k = 1, 2, 4, … and
/// n.</summary>
public sealed record PromptOutcome(int PromptIndex, int Samples, int Correct, IReadOnlyDictionary<int, double> PassAtK,
    PromptStatus Status,
    IReadOnlyList<KeptCompletion> Kept, int Duplicates)
{
    public double PassRate => Samples == 0 ? 0 : (double)Correct / Samples;
    public ThinkingMode Mode { get; init; }
    public IReadOnlyList<SampledPair> Pairs { get; init; } = [];
}

/// <summary>Progress after a committed chunk.</summary>
public sealed record SamplingProgress(int FinishedPrompts, int TotalPrompts, IReadOnlyList<PromptOutcome> Chunk);

/// <summary>Totals over every finished prompt, read back from the stats file (so they cover resumed runs). With mode
/// both, the per-prompt counts (kept, none correct, …, without pair) count each prompt once per mode.</summary>
public sealed record RejectionSamplingSummary(
    int Prompts,
    int Samples,
    int CorrectSamples,
    double MeanPassRate,
    IReadOnlyDictionary<int, double> PassAtK,
    int KeptRows,
    int PromptsKept,
    int NoneCorrect,
    int TooHard,
    int TooEasy,
    int Duplicates,
    int AllCorrect,
    int PairRows,
    int PromptsWithoutPair,
    RejectionSamplingFiles Files);

/// <summary>
/// Rejection sampling: N completions per prompt from the batched engine, verified by the reward library; the verified
/// ones (optionally deduplicated, selected and pass-rate filtered) become an SFT dataset in the `messages` schema, or,
/// with pairs, verified against failed ones become preference pairs. Runs in chunks and resumes after an
/// interruption. Generation calls never span chunks and each is seeded with seed + the index of its first prompt (in
/// mode both, no_think adds <see cref="SecondModeSeedOffset"/>), so a resumed run reproduces the samples of an
/// uninterrupted one.
/// </summary>
public sealed class RejectionSampler : IDisposable
{
    readonly CompositeReward _reward;

    /// <summary>Added to the no_think generation seeds in mode both, so the two modes draw independent samples (and
    /// the think half equals a think-only run). Below 2^32: libtorch's CPU generator keeps only a seed's low 32
    /// bits.</summary>
    public const long SecondModeSeedOffset = 1_000_000_007;

    public RejectionSamplingOptions Options { get; }

    /// <summary>Called after each chunk is committed (progress reporting; an exception here interrupts the
    /// run).</summary>
    public Action<SamplingProgress>? ChunkFinished { get; init; }

    public RejectionSampler(RejectionSamplingOptions options, RewardRegistry? registry = null)
    {
        Validation.Once(options, options.Validate);
        Options = options;
        _reward = options.CreateReward(registry);
    }

    /// <summary>Disposes the reward functions (a loaded reward model).</summary>
    public void Dispose() => _reward.Dispose();

    /// <summary>The examples of <paramref name="dataset"/> with the options' split, config and limit.</summary>
    public IReadOnlyList<Example> LoadExamples(string dataset) => Options.LoadExamples(dataset);

    public async Task<RejectionSamplingSummary> RunAsync(LanguageModel model, IReadOnlyList<Example> examples,
        string keptPath,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        if (examples.Count == 0) throw new ReasonSharpException("nothing to sample: the dataset has no examples");
        var modes = Options.Mode.Modes();
        foreach (var mode in modes) mode.RequireSupported(model, "model");
        var files = RejectionSamplingFiles.For(keptPath);
        var checkpoint = SamplingCheckpoint.Open(files, Settings(), examples, Options.Overwrite);
        if (checkpoint.FinishedPrompts > 0) log?.Invoke($"resuming after {checkpoint.FinishedPrompts} of " +
            $"{examples.Count} finished prompts");

        var runner = new RolloutRunner(model, _reward);
        var rolloutOptions = new RolloutOptions
        {
            NumSamples = Options.NumGenerations, GenerationBatchSize = Options.GenerationBatchSize,
            Sampling = Options.ToSampling(),
        };
        for (int start = checkpoint.FinishedPrompts; start < examples.Count; start += Options.ChunkSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = examples.Skip(start).Take(Options.ChunkSize).ToList();
            var byMode = new List<ILookup<int, Rollout>>();
            for (int m = 0; m < modes.Count; m++)
            {
                var seed = Options.Seed + start + m * SecondModeSeedOffset;
                var rollouts = await runner.RunAsync(chunk, rolloutOptions with
                {
                    EnableThinking = modes[m].EnablesThinking(),
                    Sampling = rolloutOptions.Sampling with { Seed = seed },
                }, null, cancellationToken);
                byMode.Add(rollouts.ToLookup(r => r.ExampleIndex));
            }
            var outcomes = new List<PromptOutcome>();
            var rows = new List<JsonNode>();
            var statsRows = new List<JsonNode>();
            for (int i = 0; i < chunk.Count; i++)
                for (int m = 0; m < modes.Count; m++)
                {
                    var (example, thinking) = (chunk[i], modes[m].EnablesThinking());
                    var outcome = Decide(start + i, byMode[m][i].ToList(), runner.PromptPrefill(example, thinking),
                        Options, modes[m]);
                    outcomes.Add(outcome);
                    var prompt = runner.PromptMessages(example, thinking);
                    rows.AddRange(outcome.Kept.Select(k =>
                        (JsonNode)KeptRow(example, prompt, outcome.PromptIndex, k, modes[m])));
                    rows.AddRange(outcome.Pairs.Select(p =>
                        (JsonNode)PreferencePairs.Row(prompt, outcome.PromptIndex, modes[m], p)));
                    statsRows.Add(StatsRow(example, outcome, Options.Pairs));
                }
            checkpoint.Commit(chunk, rows, statsRows);
            var what = Options.Pairs ? "pairs" : "completions";
            log?.Invoke($"prompts {checkpoint.FinishedPrompts}/{examples.Count}: this chunk wrote {rows.Count} " +
                        $"{what} from {outcomes.Count(o => o.Status == PromptStatus.Kept)} of {outcomes.Count} " +
                        (modes.Count > 1 ? "prompt-modes" : "prompts"));
            ChunkFinished?.Invoke(new SamplingProgress(checkpoint.FinishedPrompts, examples.Count, outcomes));
        }
        var summary = Summarize(files);
        WriteSummary(summary);
        return summary;
    }

    /// <summary>
    /// One prompt's verdict in one mode: verified = total reward ≥ threshold; a pass rate outside [min, max] keeps
    /// nothing; else the verified completions are deduplicated (when enabled) and selected, or, with pairs, the
    /// verified and the failed ones are each deduplicated and paired (none when either side is empty: none_correct or
    /// all_correct).
    /// </summary>
    public static PromptOutcome Decide(int promptIndex, IReadOnlyList<Rollout> rollouts, string prefill,
        RejectionSamplingOptions options, ThinkingMode mode = ThinkingMode.Think)
    {
        var ordered = rollouts.OrderBy(r => r.SampleIndex).ToList();
        var verified =
            ordered.Where(r => r.Reward >= options.Threshold).Select(r =>
            new KeptCompletion(r, prefill + r.Generation.CompletionText)).ToList();
        int n = ordered.Count, c = verified.Count;
        var passAtK = PassAtKLevels(n).ToDictionary(k => k, k => PassAtK.Estimate(n, c, k));
        double rate = (double)c / n;
        var status = rate < options.MinPassRate ? PromptStatus.TooHard
            : rate > options.MaxPassRate ? PromptStatus.TooEasy
            : c == 0 ? PromptStatus.NoneCorrect
            : c == n && options.Pairs ? PromptStatus.AllCorrect
            : PromptStatus.Kept;
        if (status != PromptStatus.Kept)
            return new PromptOutcome(promptIndex, n, c, passAtK, status, [], 0) { Mode = mode };
        var unique = options.Dedup ? CompletionSelection.Deduplicate(verified, k => k.Response) : verified;
        if (options.Pairs)
        {
            var failed = ordered.Where(r => !(r.Reward >= options.Threshold))
                .Select(r => new KeptCompletion(r, prefill + r.Generation.CompletionText)).ToList();
            var uniqueFailed = options.Dedup ? CompletionSelection.Deduplicate(failed, k => k.Response) : failed;
            var pairs = PreferencePairs.Select(unique, uniqueFailed, options.PairSelection,
                    options.MaxPairsPerPrompt, k => k.Rollout.Generation.CompletionIds.Length,
                    PreferencePairs.PairSeed(options.Seed, promptIndex, mode))
                .Select(p => new SampledPair(p.Chosen, p.Rejected)).ToList();
            int duplicates = verified.Count - unique.Count + failed.Count - uniqueFailed.Count;
            return new PromptOutcome(promptIndex, n, c, passAtK, status, [], duplicates) { Mode = mode, Pairs = pairs };
        }
        var kept = CompletionSelection.Select(unique, options.Select, options.Keep,
            k => k.Rollout.Generation.CompletionIds, k => k.Rollout.Reward);
        return new PromptOutcome(promptIndex, n, c, passAtK, status, kept, verified.Count - unique.Count)
        {
            Mode = mode,
        };
    }

    /// <summary>1, 2, 4, … up to n, and n itself.</summary>
    public static IReadOnlyList<int> PassAtKLevels(int n)
    {
        var levels = new List<int>();
        for (int k = 1; k <= n; k *= 2) levels.Add(k);
        if (levels[^1] != n) levels.Add(n);
        return levels;
    }

    /// <summary>
    /// An SFT row in the `messages` schema: the prompt messages as the model saw them plus the kept assistant turn, the
    /// example's other columns (gold included; 'answer' added when the gold came from elsewhere) and where it came
    /// from.
    /// </summary>
    public static JsonObject KeptRow(Example example, IReadOnlyList<ChatMessage> prompt, int promptIndex,
        KeptCompletion kept, ThinkingMode mode = ThinkingMode.Think)
    {
        var messages = prompt.Append(ChatMessage.FromAssistant(kept.Response))
            .Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray();
        var row = new JsonObject { ["messages"] = new JsonArray(messages) };
        foreach (var (key, value) in example.Extra)
            if (key != "messages") row[key] = JsonNode.Parse(value.GetRawText());
        if (example.GoldAnswer is { } gold && !row.ContainsKey("answer")
            && !row.ContainsKey("solution")) row["answer"] = gold;
        row["rejection_sampling"] = new JsonObject
        {
            ["prompt_index"] = promptIndex,
            ["sample_index"] = kept.Rollout.SampleIndex,
            ["reward"] = kept.Rollout.Reward,
            ["completion_tokens"] = kept.Rollout.Generation.CompletionIds.Length,
            ["source"] = example.Source,
            ["mode"] = mode.Name(),
        };
        return row;
    }

    /// <summary>A stats row of one prompt and mode; with <paramref name="pairs"/> it counts the pairs
    /// written.</summary>
    public static JsonObject StatsRow(Example example, PromptOutcome outcome, bool pairs = false)
    {
        var row = new JsonObject
        {
            ["prompt_index"] = outcome.PromptIndex,
            ["mode"] = outcome.Mode.Name(),
            ["source"] = example.Source,
            ["samples"] = outcome.Samples,
            ["correct"] = outcome.Correct,
            ["pass_rate"] = outcome.PassRate,
            ["pass@k"] =
                new JsonObject(outcome.PassAtK.Select(p =>
                KeyValuePair.Create(p.Key.ToString(CultureInfo.InvariantCulture), (JsonNode?)p.Value))),
            ["status"] = JsonNamingPolicy.SnakeCaseLower.ConvertName(outcome.Status.ToString()),
            ["kept"] = outcome.Kept.Count,
        };
        if (pairs) row["pairs"] = outcome.Pairs.Count;
        row["duplicates"] = outcome.Duplicates;
        return row;
    }

    /// <summary>Totals over the stats file of a run.</summary>
    public static RejectionSamplingSummary Summarize(RejectionSamplingFiles files)
    {
        var rows =
            File.ReadLines(files.Stats).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        int Count(string status) => rows.Count(r => (string)r["status"]! == status);
        var passAtK =
            rows.SelectMany(r =>
            r["pass@k"]!.AsObject().Select(p =>
            (K: int.Parse(p.Key, CultureInfo.InvariantCulture), Value: (double)p.Value!)))
            .GroupBy(p => p.K).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Average(p => p.Value));
        var pairRows = rows.Where(r => r["pairs"] is not null).ToList();
        return new RejectionSamplingSummary(
            rows.Select(r => (int)r["prompt_index"]!).Distinct().Count(),
            rows.Sum(r => (int)r["samples"]!),
            rows.Sum(r => (int)r["correct"]!),
            rows.Count == 0 ? 0 : rows.Average(r => (double)r["pass_rate"]!),
            passAtK,
            rows.Sum(r => (int)r["kept"]!),
            Count("kept"), Count("none_correct"), Count("too_hard"), Count("too_easy"),
            rows.Sum(r => (int)r["duplicates"]!),
            Count("all_correct"),
            pairRows.Sum(r => (int)r["pairs"]!),
            pairRows.Count(r => (int)r["pairs"]! == 0),
            files);
    }

    void WriteSummary(RejectionSamplingSummary s)
    {
        var json = new JsonObject
        {
            ["prompts"] = s.Prompts,
            ["samples"] = s.Samples,
            ["correct_samples"] = s.CorrectSamples,
            ["mean_pass_rate"] = s.MeanPassRate,
            ["pass@k"] =
                new JsonObject(s.PassAtK.Select(p =>
                KeyValuePair.Create(p.Key.ToString(CultureInfo.InvariantCulture), (JsonNode?)p.Value))),
        };
        if (Options.Pairs)
        {
            json["pairs"] = s.PairRows;
            json["prompts_without_pair"] = s.PromptsWithoutPair;
            json["prompts_all_correct"] = s.AllCorrect;
        }
        else json["kept_rows"] = s.KeptRows;
        json["prompts_kept"] = s.PromptsKept;
        json["prompts_none_correct"] = s.NoneCorrect;
        json["prompts_too_hard"] = s.TooHard;
        json["prompts_too_easy"] = s.TooEasy;
        json["duplicates_removed"] = s.Duplicates;
        json["files"] = new JsonObject
        {
            [Options.Pairs ? "pairs" : "kept"] = s.Files.Kept, ["stats"] = s.Files.Stats,
            ["progress"] = s.Files.Progress,
        };
        json["options"] = JsonSerializer.SerializeToNode(Options, EvalReport.OptionsJson);
        AtomicFile.WriteAllText(s.Files.Summary,
            json.ToJsonString(new JsonSerializerOptions(JsonlWriter.Options) { WriteIndented = true }) + "\n");
    }

    /// <summary>The settings a resumed run must share with the original: all options but limit and overwrite (the
    /// pair options only with pairs, so runs recorded before they existed still resume).</summary>
    JsonObject Settings()
    {
        var settings = JsonSerializer.SerializeToNode(Options with { Limit = null, Overwrite = false },
            EvalReport.OptionsJson)!.AsObject();
        if (!Options.Pairs)
            foreach (var key in new[] { "pairs", "pair_selection", "max_pairs_per_prompt" }) settings.Remove(key);
        return settings;
    }
}
