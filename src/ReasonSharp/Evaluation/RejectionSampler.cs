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
/// train).</summary>
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
    public ThinkingMode Mode { get; init; } = ThinkingMode.Think;
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
        base.Validate();
    }
}

/// <summary>What became of a prompt.</summary>
public enum PromptStatus
{
    /// <summary>Verified completions were kept.</summary>
    Kept,
    /// <summary>None of the samples was verified.</summary>
    NoneCorrect,
    /// <summary>Pass rate below min_pass_rate.</summary>
    TooHard,
    /// <summary>Pass rate above max_pass_rate.</summary>
    TooEasy,
}

/// <summary>A kept completion: the rollout and its whole assistant turn (template prefill + completion).</summary>
public sealed record KeptCompletion(Rollout Rollout, string Response);

/// <summary>One prompt's statistics and kept completions. PassAtK holds k = 1, 2, 4, … and n.</summary>
public sealed record PromptOutcome(int PromptIndex, int Samples, int Correct, IReadOnlyDictionary<int, double> PassAtK,
    PromptStatus Status,
    IReadOnlyList<KeptCompletion> Kept, int Duplicates)
{
    public double PassRate => Samples == 0 ? 0 : (double)Correct / Samples;
}

/// <summary>Progress after a committed chunk.</summary>
public sealed record SamplingProgress(int FinishedPrompts, int TotalPrompts, IReadOnlyList<PromptOutcome> Chunk);

/// <summary>Totals over every finished prompt, read back from the stats file (so they cover resumed runs).</summary>
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
    RejectionSamplingFiles Files);

/// <summary>
/// Rejection sampling: N completions per prompt from the batched engine, verified by the reward library; the verified
/// ones (optionally deduplicated, selected and pass-rate filtered) become an SFT dataset in the `messages` schema.
/// Runs in chunks and resumes after an interruption. Generation calls never span chunks and each is seeded with
/// seed + the index of its first prompt, so a resumed run reproduces the samples of an uninterrupted one.
/// </summary>
public sealed class RejectionSampler
{
    readonly CompositeReward _reward;

    public RejectionSamplingOptions Options { get; }

    /// <summary>Called after each chunk is committed (progress reporting; an exception here interrupts the
    /// run).</summary>
    public Action<SamplingProgress>? ChunkFinished { get; init; }

    public RejectionSampler(RejectionSamplingOptions options, RewardRegistry? registry = null)
    {
        options.Validate();
        Options = options;
        _reward = options.CreateReward(registry);
    }

    /// <summary>The examples of <paramref name="dataset"/> with the options' split, config and limit.</summary>
    public IReadOnlyList<Example> LoadExamples(string dataset) => Options.LoadExamples(dataset);

    public async Task<RejectionSamplingSummary> RunAsync(LanguageModel model, IReadOnlyList<Example> examples,
        string keptPath,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        if (examples.Count == 0) throw new ReasonSharpException("nothing to sample: the dataset has no examples");
        Options.Mode.RequireSupported(model, "model");
        var files = RejectionSamplingFiles.For(keptPath);
        var checkpoint = SamplingCheckpoint.Open(files, Settings(), examples, Options.Overwrite);
        if (checkpoint.FinishedPrompts > 0) log?.Invoke($"resuming after {checkpoint.FinishedPrompts} of " +
            $"{examples.Count} finished prompts");

        var runner = new RolloutRunner(model, _reward);
        bool thinking = Options.Mode.EnablesThinking();
        var rolloutOptions = new RolloutOptions
        {
            NumSamples = Options.NumGenerations, EnableThinking = thinking,
            GenerationBatchSize = Options.GenerationBatchSize, Sampling = Options.ToSampling(),
        };
        for (int start = checkpoint.FinishedPrompts; start < examples.Count; start += Options.ChunkSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = examples.Skip(start).Take(Options.ChunkSize).ToList();
            var rollouts =
                await runner.RunAsync(chunk,
                rolloutOptions with { Sampling = rolloutOptions.Sampling with { Seed = Options.Seed + start } },
                null, cancellationToken);
            var outcomes = new List<PromptOutcome>();
            var keptRows = new List<JsonNode>();
            var statsRows = new List<JsonNode>();
            foreach (var group in rollouts.GroupBy(r => r.ExampleIndex).OrderBy(g => g.Key))
            {
                var example = chunk[group.Key];
                var outcome =
                    Decide(start + group.Key, group.ToList(), runner.PromptPrefill(example, thinking), Options);
                outcomes.Add(outcome);
                var prompt = runner.PromptMessages(example, thinking);
                keptRows.AddRange(outcome.Kept.Select(k => (JsonNode)KeptRow(example, prompt, outcome.PromptIndex, k)));
                statsRows.Add(StatsRow(example, outcome));
            }
            checkpoint.Commit(chunk, keptRows, statsRows);
            log?.Invoke($"prompts {checkpoint.FinishedPrompts}/{examples.Count}: this chunk kept {keptRows.Count} " +
                        $"completions from {outcomes.Count(o => o.Status == PromptStatus.Kept)} of {chunk.Count} " +
                        $"prompts");
            ChunkFinished?.Invoke(new SamplingProgress(checkpoint.FinishedPrompts, examples.Count, outcomes));
        }
        var summary = Summarize(files);
        WriteSummary(summary);
        return summary;
    }

    /// <summary>
    /// One prompt's verdict: verified = total reward ≥ threshold; a pass rate outside [min, max] keeps nothing; else
    /// the verified completions are deduplicated (when enabled) and selected.
    /// </summary>
    public static PromptOutcome Decide(int promptIndex, IReadOnlyList<Rollout> rollouts, string prefill,
        RejectionSamplingOptions options)
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
            : PromptStatus.Kept;
        if (status != PromptStatus.Kept) return new PromptOutcome(promptIndex, n, c, passAtK, status, [], 0);
        var unique = options.Dedup ? CompletionSelection.Deduplicate(verified, k => k.Response) : verified;
        var kept =
            CompletionSelection.Select(unique, options.Select, options.Keep, k => k.Rollout.Generation.CompletionIds);
        return new PromptOutcome(promptIndex, n, c, passAtK, status, kept, verified.Count - unique.Count);
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
        KeptCompletion kept)
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
        };
        return row;
    }

    public static JsonObject StatsRow(Example example, PromptOutcome outcome) => new()
    {
        ["prompt_index"] = outcome.PromptIndex,
        ["source"] = example.Source,
        ["samples"] = outcome.Samples,
        ["correct"] = outcome.Correct,
        ["pass_rate"] = outcome.PassRate,
        ["pass@k"] =
            new JsonObject(outcome.PassAtK.Select(p =>
            KeyValuePair.Create(p.Key.ToString(CultureInfo.InvariantCulture), (JsonNode?)p.Value))),
        ["status"] = JsonNamingPolicy.SnakeCaseLower.ConvertName(outcome.Status.ToString()),
        ["kept"] = outcome.Kept.Count,
        ["duplicates"] = outcome.Duplicates,
    };

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
        return new RejectionSamplingSummary(
            rows.Count,
            rows.Sum(r => (int)r["samples"]!),
            rows.Sum(r => (int)r["correct"]!),
            rows.Count == 0 ? 0 : rows.Average(r => (double)r["pass_rate"]!),
            passAtK,
            rows.Sum(r => (int)r["kept"]!),
            Count("kept"), Count("none_correct"), Count("too_hard"), Count("too_easy"),
            rows.Sum(r => (int)r["duplicates"]!),
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
            ["kept_rows"] = s.KeptRows,
            ["prompts_kept"] = s.PromptsKept,
            ["prompts_none_correct"] = s.NoneCorrect,
            ["prompts_too_hard"] = s.TooHard,
            ["prompts_too_easy"] = s.TooEasy,
            ["duplicates_removed"] = s.Duplicates,
            ["files"] =
                new JsonObject { ["kept"] = s.Files.Kept, ["stats"] = s.Files.Stats, ["progress"] = s.Files.Progress },
            ["options"] = JsonSerializer.SerializeToNode(Options, EvalReport.OptionsJson),
        };
        AtomicFile.WriteAllText(s.Files.Summary,
            json.ToJsonString(new JsonSerializerOptions(JsonlWriter.Options) { WriteIndented = true }) + "\n");
    }

    /// <summary>The settings a resumed run must share with the original: all options but limit and overwrite.</summary>
    JsonObject Settings() =>
        JsonSerializer.SerializeToNode(Options with { Limit = null, Overwrite = false },
        EvalReport.OptionsJson)!.AsObject();
}
