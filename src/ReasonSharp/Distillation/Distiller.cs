using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ReasonSharp.Data;
using ReasonSharp.Reporting;
using ReasonSharp.Rewards;

namespace ReasonSharp.Distillation;

/// <summary>The files of a distill run: the traces, per-prompt stats and the summary beside them, and the request
/// cache.</summary>
public sealed record DistillFiles(string Traces, string Stats, string Summary, string Cache)
{
    public static DistillFiles For(string traces, string? cacheDir)
    {
        var stem = traces.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? traces[..^".jsonl".Length] : traces;
        return new DistillFiles(traces, stem + ".stats.jsonl", stem + ".summary.json", cacheDir ?? stem + ".cache");
    }
}

/// <summary>What became of one prompt: completions asked for, verified and kept, errors, and tokens.</summary>
public sealed record DistillPromptOutcome(int PromptIndex, string Source, int Completions, int Verified, int Kept,
    int FromCache, string? Error, TokenUsage Usage)
{
    public double PassRate => Completions == 0 ? 0 : (double)Verified / Completions;
}

/// <summary>Totals of a run (cached requests included in the traces, excluded from what was paid).</summary>
public sealed record DistillSummary(
    int Prompts, int PromptsKept, int KeptRows, int Completions, int Verified, double MeanPassRate,
    int RequestsSent, int CacheHits, int Retries, int PromptErrors,
    TokenUsage Usage, TokenUsage PaidUsage, double? Cost, double? PaidCost, double Seconds, DistillFiles Files);

/// <summary>
/// Distillation from an OpenAI-compatible teacher by rejection sampling: for each prompt, completions are asked for
/// one at a time (prompts run concurrently) until <see cref="DistillOptions.Keep"/> of them are verified by the
/// reward library or <see cref="DistillOptions.N"/> were asked for. Verified completions become SFT rows in the trace
/// format (prompt, completion `&lt;think&gt;…&lt;/think&gt;&lt;answer&gt;…&lt;/answer&gt;`, the gold columns).
/// Every finished request is cached on disk and every request is deterministic (its seed is fixed by prompt and
/// sample), so a rerun after an interruption replays finished requests for free and rewrites the same rows: the
/// output, written atomically in prompt order, holds no duplicates.
/// </summary>
public sealed class Distiller(DistillOptions options, RewardRegistry? registry = null)
{
    readonly CompositeReward _reward = RewardSpecs.Create(registry ?? RewardRegistry.CreateDefault(), options.Reward);

    public DistillOptions Options => options;
    /// <summary>Diagnostics (retries, progress lines, prompts the teacher refused).</summary>
    public Action<string>? Log { get; init; }
    public ProgressDisplay? Progress { get; init; }
    /// <summary>How often the output is rewritten while running.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Called after each finished prompt (tests cancel a run midway from here).</summary>
    public Action<DistillPromptOutcome>? PromptFinished { get; init; }

    /// <summary>The request body for sample <paramref name="sample"/> of a prompt: the model, the prompt messages,
    /// n = 1 and the decoding settings, with a seed of its own.</summary>
    public string RequestJson(string model, Example example, int promptIndex, int sample)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = new JsonArray(example.Prompt
                .Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray()),
            ["max_tokens"] = options.MaxTokens,
            ["temperature"] = options.Temperature,
            ["top_p"] = options.TopP,
            ["seed"] = options.Seed + (long)promptIndex * options.N + sample,
            ["n"] = 1,
        };
        if (options.EnableThinking is { } thinking)
            body["chat_template_kwargs"] = new JsonObject { ["enable_thinking"] = thinking };
        return body.ToJsonString();
    }

    public async Task<DistillSummary> RunAsync(TeacherClient teacher, string model, IReadOnlyList<Example> examples,
        string tracesPath, CancellationToken cancellationToken = default)
    {
        if (examples.Count == 0) throw new ReasonSharpException("nothing to distill: the dataset has no examples");
        var files = DistillFiles.For(tracesPath, options.CacheDir);
        var cache = new RequestCache(files.Cache);
        int cachedBefore = cache.Count;
        if (cachedBefore > 0) Log?.Invoke($"request cache {files.Cache}: {cachedBefore} finished requests from " +
            "earlier runs are replayed free");
        var rows = new List<JsonObject>?[examples.Count];
        var outcomes = new DistillPromptOutcome?[examples.Count];
        int finished = 0, cacheHits = 0;
        TokenUsage paid = default;
        var usageLock = new object();
        var clock = Stopwatch.StartNew();
        var lastFlush = Stopwatch.StartNew();
        var flushLock = new object();
        int attemptsBefore = teacher.Attempts, retriesBefore = teacher.Retries;

        void Flush()
        {
            lock (flushLock)
            {
                var kept = new List<string>();
                var stats = new List<string>();
                for (int i = 0; i < examples.Count; i++)
                {
                    if (outcomes[i] is not { } o) continue;
                    kept.AddRange(rows[i]!.Select(r => r.ToJsonString(JsonlWriter.Options)));
                    stats.Add(StatsRow(o).ToJsonString(JsonlWriter.Options));
                }
                AtomicFile.WriteAllText(files.Traces, string.Concat(kept.Select(l => l + "\n")));
                AtomicFile.WriteAllText(files.Stats, string.Concat(stats.Select(l => l + "\n")));
                lastFlush.Restart();
            }
        }

        async ValueTask OnePrompt(int index, CancellationToken token)
        {
            var example = examples[index];
            var kept = new List<JsonObject>();
            int completions = 0, verified = 0, fromCache = 0;
            string? error = null;
            TokenUsage usage = default;
            for (int sample = 0; sample < options.N && verified < options.Keep; sample++)
            {
                var request = RequestJson(model, example, index, sample);
                var key = RequestCache.Key(teacher.BaseAddress, request);
                var body = cache.Get(key);
                var where = $"{example.Source}, sample {sample}";
                if (body is null)
                {
                    try { body = await teacher.ChatAsync(request, where, token); }
                    catch (TeacherException e) when (e.Status is 400 or 413 or 422)
                    {
                        error = e.Message;
                        Log?.Invoke($"skipping {example.Source}: {e.Message}");
                        break;
                    }
                    var fresh = TeacherReply.Parse(body, where);
                    cache.Put(key, body);
                    lock (usageLock) paid += fresh.Usage;
                }
                else
                {
                    fromCache++;
                    Interlocked.Increment(ref cacheHits);
                }
                var reply = TeacherReply.Parse(body, where);
                usage += reply.Usage;
                completions++;
                var trace = reply.Trace;
                var score = (await Score(example, trace, token)).Total[0];
                if (score < options.Threshold) continue;
                verified++;
                kept.Add(Row(example, index, sample, trace, score, reply));
            }
            rows[index] = kept;
            var outcome = new DistillPromptOutcome(index, example.Source, completions, verified, kept.Count, fromCache,
                error, usage);
            outcomes[index] = outcome;
            int done = Interlocked.Increment(ref finished);
            Report(done, examples.Count, clock.Elapsed);
            PromptFinished?.Invoke(outcome);
            if (lastFlush.Elapsed >= FlushInterval) Flush();
        }

        // A dataset without the column the reward checks fails here, at its first row, before any request is paid.
        if (examples.Count > 0) await Score(examples[0], "", cancellationToken);
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, examples.Count),
                new ParallelOptions
                {
                    MaxDegreeOfParallelism = options.Concurrency, CancellationToken = cancellationToken,
                },
                OnePrompt);
        }
        finally
        {
            Flush();
            Progress?.Finish();
        }
        var all = outcomes.Select(o => o!).ToList();
        TokenUsage total = all.Aggregate(default(TokenUsage), (sum, o) => sum + o.Usage);
        var summary = new DistillSummary(
            all.Count, all.Count(o => o.Kept > 0), all.Sum(o => o.Kept), all.Sum(o => o.Completions),
            all.Sum(o => o.Verified), all.Average(o => o.PassRate),
            teacher.Attempts - attemptsBefore, cacheHits, teacher.Retries - retriesBefore,
            all.Count(o => o.Error != null),
            total, paid, total.Cost(options.PromptCostPerMillion, options.CompletionCostPerMillion),
            paid.Cost(options.PromptCostPerMillion, options.CompletionCostPerMillion), clock.Elapsed.TotalSeconds,
            files);
        WriteSummary(summary, model);
        return summary;
    }

    async Task<RewardScores> Score(Example example, string completion, CancellationToken token)
    {
        var columns = new Dictionary<string, JsonElement>(example.Extra);
        if (example.GoldAnswer is { } gold && !columns.ContainsKey("answer") && !columns.ContainsKey("solution"))
            columns["answer"] = JsonSerializer.SerializeToElement(gold);
        var input = new RewardInput(RewardPrompt.FromMessages(example.Prompt), completion, null, columns);
        try { return await _reward.ScoreAsync([input], token); }
        catch (RewardInputException e)
        {
            throw new ReasonSharpException($"{FileLine(example.Source)}: {e.Field}: {e.Problem}; expected the column " +
                $"the reward '{options.Reward}' verifies against (e.g. answer with the gold answer)");
        }
    }

    /// <summary>"data.jsonl line 3" → "data.jsonl:3".</summary>
    public static string FileLine(string source) =>
        Regex.Replace(source, @" (?:line|item|row) (\d+)$", ":$1");

    /// <summary>An SFT row: prompt (text for one user turn, else the message list), the trace as completion, the
    /// example's other columns (gold included) and where it came from.</summary>
    public static JsonObject Row(Example example, int promptIndex, int sample, string trace, double reward,
        TeacherReply reply)
    {
        var prompt = example.Prompt;
        var row = new JsonObject
        {
            ["prompt"] = prompt.Count == 1 && prompt[0].Role == ChatMessage.User
                ? prompt[0].Content
                : new JsonArray(prompt.Select(m =>
                    (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray()),
            ["completion"] = trace,
        };
        foreach (var (key, value) in example.Extra)
            if (!row.ContainsKey(key)) row[key] = JsonNode.Parse(value.GetRawText());
        if (example.GoldAnswer is { } gold && !row.ContainsKey("answer") && !row.ContainsKey("solution"))
            row["answer"] = gold;
        row["distill"] = new JsonObject
        {
            ["prompt_index"] = promptIndex,
            ["sample_index"] = sample,
            ["reward"] = reward,
            ["finish_reason"] = reply.FinishReason,
            ["completion_tokens"] = reply.Usage.CompletionTokens,
            ["source"] = example.Source,
        };
        return row;
    }

    static JsonObject StatsRow(DistillPromptOutcome o) => new()
    {
        ["prompt_index"] = o.PromptIndex,
        ["source"] = o.Source,
        ["completions"] = o.Completions,
        ["verified"] = o.Verified,
        ["pass_rate"] = o.PassRate,
        ["kept"] = o.Kept,
        ["from_cache"] = o.FromCache,
        ["prompt_tokens"] = o.Usage.PromptTokens,
        ["completion_tokens"] = o.Usage.CompletionTokens,
        ["error"] = o.Error,
    };

    DateTime _lastLog = DateTime.MinValue;
    readonly Lock _reportLock = new();

    void Report(int done, int total, TimeSpan elapsed)
    {
        lock (_reportLock) ReportLocked(done, total, elapsed);
    }

    void ReportLocked(int done, int total, TimeSpan elapsed)
    {
        double rate = done / Math.Max(elapsed.TotalSeconds, 1e-3);
        var eta = TimeSpan.FromSeconds(rate > 0 ? (total - done) / rate : 0);
        Progress?.UpdateCount("prompts", done, total, rate, eta);
        if (done != total && DateTime.UtcNow - _lastLog < TimeSpan.FromSeconds(10)) return;
        _lastLog = DateTime.UtcNow;
        Log?.Invoke($"distill: {done}/{total} prompts, {rate.ToString("0.##", CultureInfo.InvariantCulture)} " +
            $"prompts/s, ETA {(int)eta.TotalHours}:{eta:mm\\:ss}");
    }

    void WriteSummary(DistillSummary s, string model)
    {
        static JsonObject Usage(TokenUsage u) => new()
        {
            ["prompt_tokens"] = u.PromptTokens, ["completion_tokens"] = u.CompletionTokens,
        };
        var json = new JsonObject
        {
            ["teacher_model"] = model,
            ["prompts"] = s.Prompts,
            ["prompts_kept"] = s.PromptsKept,
            ["kept_rows"] = s.KeptRows,
            ["completions"] = s.Completions,
            ["verified"] = s.Verified,
            ["mean_pass_rate"] = s.MeanPassRate,
            ["requests_sent"] = s.RequestsSent,
            ["cache_hits"] = s.CacheHits,
            ["retries"] = s.Retries,
            ["prompt_errors"] = s.PromptErrors,
            ["usage"] = Usage(s.Usage),
            ["usage_paid_this_run"] = Usage(s.PaidUsage),
            ["cost"] = s.Cost,
            ["cost_paid_this_run"] = s.PaidCost,
            ["seconds"] = s.Seconds,
            ["files"] = new JsonObject
            {
                ["traces"] = s.Files.Traces, ["stats"] = s.Files.Stats, ["cache"] = s.Files.Cache,
            },
        };
        AtomicFile.WriteAllText(s.Files.Summary,
            json.ToJsonString(new JsonSerializerOptions(JsonlWriter.Options) { WriteIndented = true }) + "\n");
    }
}
