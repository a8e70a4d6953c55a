using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Steps;

namespace ReasonSharp.Evaluation;

/// <summary>
/// Settings of `reason prm label`: Math-Shepherd's automatic step labels. Dataset, verifier (reward, threshold) and
/// decoding keys as in <see cref="VerifiedGenerationOptions"/> (dataset_split train); the same decoding settings draw
/// the solutions and the continuations.
/// </summary>
public sealed record PrmLabelOptions() : VerifiedGenerationOptions(datasetSplit: "train")
{
    /// <summary>Solutions sampled per problem (each becomes one labelled row).</summary>
    public int NumGenerations { get; init; } = 4;
    /// <summary>Continuations sampled from each step's prefix (Math-Shepherd's N).</summary>
    public int NumContinuations { get; init; } = 8;
    /// <summary>How a solution is cut into steps: paragraphs, lines, step_markers or separator.</summary>
    public StepSplitMode Split { get; init; } = StepSplitMode.Paragraphs;
    /// <summary>The regex between steps when split is separator.</summary>
    public string? Separator { get; init; }
    /// <summary>Problems per chunk: rows and progress are committed after each chunk.</summary>
    public int ChunkSize { get; init; } = 16;
    /// <summary>Start again instead of resuming.</summary>
    public bool Overwrite { get; init; }

    public override void Validate()
    {
        if (NumGenerations < 1) throw new ReasonSharpException($"num_generations must be at least 1, got " +
            $"{NumGenerations}");
        if (NumContinuations < 1) throw new ReasonSharpException($"num_continuations must be at least 1, got " +
            $"{NumContinuations}");
        if (ChunkSize < 1) throw new ReasonSharpException($"chunk_size must be at least 1, got {ChunkSize}");
        if (!Enum.IsDefined(Split)) throw new ReasonSharpException($"split must be paragraphs, lines, step_markers " +
            $"or separator, got {Split}");
        _ = Splitter();
        base.Validate();
    }

    public StepSplitter Splitter()
    {
        try { return new StepSplitter(new StepSplitterOptions { Mode = Split, Separator = Separator }); }
        catch (ReasonSharpException e) { throw new ReasonSharpException($"separator: {e.Message}", e); }
    }
}

/// <summary>Totals of a labelling run, over every finished problem (resumed runs included).</summary>
public sealed record PrmLabelSummary(int Problems, int Rows, int Steps, int GoodSteps, int CorrectSolutions,
    int SolutionsWithoutSteps, long Continuations, RejectionSamplingFiles Files)
{
    public double GoodStepRate => Steps == 0 ? 0 : (double)GoodSteps / Steps;
}

/// <summary>
/// Math-Shepherd's automatic process labels (Wang et al., 2024): for each problem, num_generations solutions from the
/// policy; each is cut into steps, and from the prefix ending at each step but the last, num_continuations
/// continuations are sampled and checked by the verifier. A step's hard label (HE) is whether any continuation reached
/// a verified answer, its soft label (SE) the fraction that did; the last step's labels are the solution's own verdict.
/// Rows are TRL's stepwise-supervision format (prompt, completions, labels) with soft_labels. Continuations of a chunk
/// are generated in batches of generation_batch_size; the run commits after each chunk and resumes like rejection
/// sampling (<see cref="SamplingCheckpoint"/>: labels.jsonl, labels.stats.jsonl, labels.jsonl.progress.json).
/// </summary>
public sealed class PrmLabeler
{
    /// <summary>Added to the continuation seeds so they never coincide with the solutions'. Below 2^32 (libtorch keeps
    /// a seed's low 32 bits).</summary>
    public const long ContinuationSeedOffset = 500_000_003;

    readonly CompositeReward _reward;
    readonly StepSplitter _splitter;

    public PrmLabelOptions Options { get; }

    public PrmLabeler(PrmLabelOptions options, RewardRegistry? registry = null)
    {
        Validation.Once(options, options.Validate);
        Options = options;
        _reward = options.CreateReward(registry);
        _splitter = options.Splitter();
    }

    public IReadOnlyList<Example> LoadExamples(string dataset) => Options.LoadExamples(dataset);

    public async Task<PrmLabelSummary> RunAsync(LanguageModel policy, IReadOnlyList<Example> examples,
        string outputPath, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        if (examples.Count == 0) throw new ReasonSharpException("nothing to label: the dataset has no examples");
        var files = RejectionSamplingFiles.For(outputPath);
        var settings = JsonSerializer.SerializeToNode(Options with { Limit = null, Overwrite = false },
            EvalReport.OptionsJson)!.AsObject();
        var checkpoint = SamplingCheckpoint.Open(files, settings, examples, Options.Overwrite);
        if (checkpoint.FinishedPrompts > 0)
            log?.Invoke($"resuming after {checkpoint.FinishedPrompts} of {examples.Count} finished problems");
        var runner = new RolloutRunner(policy, _reward);
        var sampling = Options.ToSampling();
        for (int start = checkpoint.FinishedPrompts; start < examples.Count; start += Options.ChunkSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = examples.Skip(start).Take(Options.ChunkSize).ToList();
            var solutions = await runner.RunAsync(chunk, new RolloutOptions
            {
                NumSamples = Options.NumGenerations, GenerationBatchSize = Options.GenerationBatchSize,
                Sampling = sampling with { Seed = Options.Seed + start },
            }, null, cancellationToken);
            var labelled = await LabelAsync(runner, solutions, sampling with
            {
                Seed = Options.Seed + ContinuationSeedOffset + start,
            }, cancellationToken);
            var rows = new List<JsonNode>();
            var stats = new List<JsonNode>();
            foreach (var group in labelled.GroupBy(l => l.Solution.ExampleIndex))
            {
                var example = chunk[group.Key];
                var withSteps = group.Where(l => l.Steps.Count > 0).ToList();
                rows.AddRange(withSteps.Select(l => (JsonNode)Row(example, start + group.Key, l)));
                stats.Add(new JsonObject
                {
                    ["prompt_index"] = start + group.Key,
                    ["solutions"] = group.Count(),
                    ["correct_solutions"] = group.Count(l => l.Solution.Reward >= Options.Threshold),
                    ["without_steps"] = group.Count() - withSteps.Count,
                    ["steps"] = withSteps.Sum(l => l.Steps.Count),
                    ["good_steps"] = withSteps.Sum(l => l.Hard.Count(h => h)),
                    ["continuations"] = withSteps.Sum(l => (l.Steps.Count - 1) * Options.NumContinuations),
                });
            }
            checkpoint.Commit(chunk, rows, stats);
            log?.Invoke($"problems {checkpoint.FinishedPrompts}/{examples.Count}: {rows.Count} labelled solutions " +
                $"in this chunk");
        }
        var summary = Summarize(files);
        AtomicFile.WriteAllText(files.Summary, JsonSerializer.SerializeToNode(summary with { Files = files },
            EvalReport.OptionsJson)!.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return summary;
    }

    /// <summary>A solution's steps with their hard and soft labels.</summary>
    public sealed record LabelledSolution(Rollout Solution, IReadOnlyList<string> Steps, bool[] Hard, double[] Soft);

    /// <summary>Labels every solution's steps: all continuations of the batch's prefixes in generation_batch_size
    /// rows per engine call, then verified in one reward call.</summary>
    public async Task<IReadOnlyList<LabelledSolution>> LabelAsync(RolloutRunner runner,
        IReadOnlyList<Rollout> solutions,
        SamplingOptions sampling, CancellationToken cancellationToken = default)
    {
        var model = runner.Model;
        sampling = sampling with
        {
            EosTokenIds = sampling.EosTokenIds.Count > 0 ? sampling.EosTokenIds : model.StopTokenIds,
        };
        var split = solutions.Select(s => StepPrefixes(s.Generation.CompletionText)).ToList();
        // One row per (solution, non-final step, continuation).
        var rows = new List<(int Solution, int Step, string Prefix, int[] Ids)>();
        for (int i = 0; i < solutions.Count; i++)
        {
            var (steps, prefixes) = split[i];
            for (int k = 0; k + 1 < steps.Count; k++)
            {
                var ids = solutions[i].PromptIds.Concat(model.Tokenizer.Encode(prefixes[k])).ToArray();
                for (int c = 0; c < Options.NumContinuations; c++) rows.Add((i, k, prefixes[k], ids));
            }
        }
        var verified = new bool[rows.Count];
        var engine = model.Engine();
        for (int start = 0, call = 0; start < rows.Count; start += Options.GenerationBatchSize, call++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = rows.Skip(start).Take(Options.GenerationBatchSize).ToList();
            // The continuation keeps the solution's budget: max_new_tokens counts the prefix's tokens too.
            var prefixTokens = batch.Min(r => r.Ids.Length - solutions[r.Solution].PromptIds.Length);
            var results = engine.Generate(batch.Select(r => r.Ids).ToList(), sampling with
            {
                Seed = sampling.Seed + call,
                MaxNewTokens = Math.Max(1, sampling.MaxNewTokens - prefixTokens),
            }, null, cancellationToken);
            var inputs = batch.Select((r, j) =>
                RolloutRunner.RewardInputFor(solutions[r.Solution].Example, results[j], 0)
                with
                { Completion = r.Prefix + results[j].CompletionText }).ToList();
            var scores = await _reward.ScoreAsync(inputs, cancellationToken);
            for (int j = 0; j < batch.Count; j++) verified[start + j] = scores.Total[j] >= Options.Threshold;
        }
        var labelled = new List<LabelledSolution>();
        var next = 0;
        for (int i = 0; i < solutions.Count; i++)
        {
            var steps = split[i].Steps;
            var soft = new double[steps.Count];
            for (int k = 0; k + 1 < steps.Count; k++)
            {
                soft[k] = verified.Skip(next).Take(Options.NumContinuations).Count(v => v) /
                    (double)Options.NumContinuations;
                next += Options.NumContinuations;
            }
            if (steps.Count > 0) soft[^1] = solutions[i].Reward >= Options.Threshold ? 1 : 0;
            labelled.Add(new LabelledSolution(solutions[i], steps, soft.Select(s => s > 0).ToArray(), soft));
        }
        return labelled;
    }

    /// <summary>The steps of a completion and, for each, the completion's text up to the end of that step.</summary>
    public (IReadOnlyList<string> Steps, IReadOnlyList<string> Prefixes) StepPrefixes(string completion)
    {
        var text = completion.Replace("\r\n", "\n");
        var steps = _splitter.Split(text);
        var prefixes = new List<string>(steps.Count);
        var cursor = 0;
        foreach (var step in steps)
        {
            var at = text.IndexOf(step, cursor, StringComparison.Ordinal);
            if (at < 0) throw new ReasonSharpException($"step '{step}' is not in the completion it was split from");
            cursor = at + step.Length;
            prefixes.Add(text[..cursor]);
        }
        return (steps, prefixes);
    }

    JsonObject Row(Example example, int promptIndex, LabelledSolution l) => new()
    {
        ["prompt"] = LmStepScorer.Question(RewardPrompt.FromMessages(example.Prompt)),
        ["completions"] = new JsonArray(l.Steps.Select(s => (JsonNode)s).ToArray()),
        ["labels"] = new JsonArray(l.Hard.Select(h => (JsonNode)h).ToArray()),
        ["soft_labels"] = new JsonArray(l.Soft.Select(s => (JsonNode)Math.Round(s, 6)).ToArray()),
        ["solution_correct"] = l.Solution.Reward >= Options.Threshold,
        ["prompt_index"] = promptIndex,
        ["sample"] = l.Solution.SampleIndex,
        ["answer"] = example.GoldAnswer,
        ["source"] = example.Source,
    };

    static PrmLabelSummary Summarize(RejectionSamplingFiles files)
    {
        int problems = 0, rows = 0, steps = 0, good = 0, correct = 0, without = 0;
        long continuations = 0;
        foreach (var line in File.ReadLines(files.Stats))
        {
            if (line.Length == 0) continue;
            var s = JsonNode.Parse(line)!;
            problems++;
            var solutions = s["solutions"]!.GetValue<int>();
            without += s["without_steps"]!.GetValue<int>();
            rows += solutions - s["without_steps"]!.GetValue<int>();
            steps += s["steps"]!.GetValue<int>();
            good += s["good_steps"]!.GetValue<int>();
            correct += s["correct_solutions"]!.GetValue<int>();
            continuations += s["continuations"]!.GetValue<long>();
        }
        return new PrmLabelSummary(problems, rows, steps, good, correct, without, continuations, files);
    }
}
