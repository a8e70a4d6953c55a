using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Configuration;
using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Reporting;
using ReasonSharp.Rewards;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Training.Star;

/// <summary>
/// STaR (Zelikman et al., 2022) settings: the SFT options of each iteration's fine-tuning, plus how rationales are
/// sampled, verified and (optionally) rationalised with the answer as a hint.
/// </summary>
public sealed record StarConfig : SftConfig
{
    /// <summary>Sample → filter → SFT → evaluate rounds.</summary>
    public int Iterations { get; init; } = 3;
    /// <summary>Rationales sampled per problem.</summary>
    public int NumGenerations { get; init; } = 4;
    /// <summary>temperature, top_p, top_k, min_p and repetition_penalty of the rationales (0.7, 1.0, 0, 0,
    /// 1.0).</summary>
    [Flatten] public SamplingSettings Sampling { get; init; } = new() { Temperature = 0.7 };
    public int MaxNewTokens { get; init; } = 512;
    /// <summary>Reward functions that verify a rationale; a rationale is kept when the total reaches
    /// threshold.</summary>
    public string Reward { get; init; } = "accuracy";
    public double Threshold { get; init; } = 1.0;
    /// <summary>Correct rationales kept per problem (the shortest first).</summary>
    public int KeepPerProblem { get; init; } = 1;
    /// <summary>For failed problems, sample again with the gold answer as a hint and train on correct rationales
    /// without it.</summary>
    public bool Rationalization { get; init; }
    /// <summary>The hinted prompt: {prompt} and {answer} are replaced.</summary>
    public string HintTemplate { get; init; } = "{prompt}\n(Hint: the answer is {answer}.)";
    /// <summary>Fine-tune each iteration from the original model (as the paper does) rather than from the previous
    /// iteration.</summary>
    public bool RestartFromBase { get; init; } = true;
    /// <summary>Training problems used per iteration (null: all).</summary>
    public int? ProblemsPerIteration { get; init; }
    public int GenerationBatchSize { get; init; } = 64;

    public override void Validate()
    {
        base.Validate();
        Check(Iterations >= 1, "iterations", "an integer ≥ 1", Iterations);
        Check(NumGenerations >= 1, "num_generations", "an integer ≥ 1", NumGenerations);
        Sampling.Validate();
        Check(KeepPerProblem >= 1, "keep_per_problem", "an integer ≥ 1", KeepPerProblem);
        Check(HintTemplate.Contains("{prompt}") && HintTemplate.Contains("{answer}"), "hint_template",
            "a text containing {prompt} and {answer}", HintTemplate);
        CheckModelAndDataset("a dataset with gold answers");
    }
}

/// <summary>One STaR iteration: how much data it made, from where, and the held-out accuracy of its model.</summary>
public sealed record StarIteration(int Iteration, int Problems, int SolvedDirectly, int Rationalized, int TrainRows,
    string Data, string Model, double Accuracy, double Seconds);

public sealed record StarResult(IReadOnlyList<StarIteration> Iterations, string FinalModel);

/// <summary>Iterates sample → verify → (rationalise) → SFT → evaluate, reusing the rollout runner, the reward library
/// and SftTrainer.</summary>
public static class StarTrainer
{
    public static StarResult Run(StarConfig config, ProgressDisplay? progress = null, RewardRegistry? registry = null)
    {
        Validation.Once(config, config.Validate);
        progress ??= ProgressDisplay.ForConsole(config.DisableTqdm);
        registry ??= RewardRegistry.CreateDefault();
        using var reward = RewardSpecs.Create(registry, config.Reward);
        var train = ModelTrainerSetup.ReadTrainExamples(config);
        var eval = ModelTrainerSetup.ReadEvalExamples(config);
        PrepareFolder(config, progress);

        var iterations = LoadFinished(config.OutputDir);
        string current = iterations.LastOrDefault()?.Model ?? config.ModelNameOrPath!;
        for (int i = iterations.Count + 1; i <= config.Iterations; i++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var folder = Path.Combine(config.OutputDir, $"iteration-{i}");
            var problems = Problems(train, config, i);
            progress.WriteLine($"STaR iteration {i}/{config.Iterations}: sampling {config.NumGenerations} " +
                $"rationales for {problems.Count} problems with {current}");
            var (rows, solved, rationalized) = CollectRationales(current, problems, reward, config, i);
            var data = Path.Combine(folder, "rationales.jsonl");
            Directory.CreateDirectory(folder);
            AtomicFile.WriteAllText(data, string.Concat(rows.Select(r => r.ToJsonString() + "\n")));
            progress.WriteLine($"  kept {rows.Count} rationales: {solved} problems solved directly, {rationalized} " +
                $"by rationalisation");
            if (rows.Count == 0) throw new ReasonSharpException($"STaR iteration {i}: no correct rationale was " +
                $"found for any of {problems.Count} problems; start from a model that solves some (e.g. after SFT)");

            var model = Path.Combine(folder, "model");
            // An iteration that was interrupted is redone from its sampling, so its partial SFT run is started over.
            var sft = config with
            {
                ModelNameOrPath = config.RestartFromBase ? config.ModelNameOrPath : current,
                DatasetName = data,
                OutputDir = model,
                EvalDatasetName = null,
                EvalReward = null,
                EvalStrategy = "no",
                WriteReport = false,
                ResumeFromCheckpoint = null,
                OverwriteOutputDir = true,
            };
            SftTrainer.Run(ToSft(sft), progress, registry);
            double accuracy = eval is null ? double.NaN : Accuracy(model, eval, reward, config);
            var iteration =
                new StarIteration(i, problems.Count, solved, rationalized, rows.Count, data, model, accuracy,
                clock.Elapsed.TotalSeconds);
            iterations.Add(iteration);
            SaveFinished(config.OutputDir, iterations);
            progress.WriteLine($"  iteration {i}: held-out accuracy {accuracy:P1} ({clock.Elapsed.TotalSeconds:F0}s)");
            current = model;
        }
        WriteReport(config.OutputDir, iterations);
        return new StarResult(iterations, current);
    }

    /// <summary>
    /// A new run refuses a folder holding another run's files unless overwrite_output_dir (<see cref="RunFolder"/>);
    /// resume_from_checkpoint: latest continues this folder's run after its last finished iteration.
    /// </summary>
    static void PrepareFolder(StarConfig config, ProgressDisplay progress)
    {
        if (config.ResumeFromCheckpoint is not { } resume)
        {
            ModelTrainerSetup.SaveOptions(config, ConfigFile, progress);
            return;
        }
        if (resume != "latest")
            throw new ReasonSharpException($"training option 'resume_from_checkpoint' is {resume}; expected latest " +
                                           "(STaR continues the run in output_dir after its last finished iteration)");
        if (config.OverwriteOutputDir)
            throw new ReasonSharpException(
                "training options 'resume_from_checkpoint' and 'overwrite_output_dir' are both set; expected one: " +
                "continue the STaR run in output_dir, or delete it and start over");
        if (!File.Exists(Path.Combine(config.OutputDir, StateFile)))
            throw new ReasonSharpException(
                $"resume_from_checkpoint is latest, but {config.OutputDir} holds no finished STaR iteration " +
                $"({StateFile}); expected overwrite_output_dir: true (--overwrite) to start over there, or a new " +
                "output_dir without resume_from_checkpoint");
        AtomicFile.WriteAllText(Path.Combine(config.OutputDir, ConfigFile), OptionsBinder.ToYaml(config));
    }

    /// <summary>The SftConfig part of a StarConfig, as a plain SftConfig (so the SFT run saves and validates only SFT
    /// options).</summary>
    static SftConfig ToSft(StarConfig star) => star.SftPart();

    static List<Example> Problems(List<Example> train, StarConfig config, int iteration)
    {
        if (config.ProblemsPerIteration is not { } n || n >= train.Count) return train;
        var order = TrainingRandom.Derive(config.Seed, iteration).Permutation(train.Count);
        return order.Take(n).Select(j => train[j]).ToList();
    }

    static (List<JsonObject> Rows, int Solved, int Rationalized) CollectRationales(string modelPath,
        List<Example> problems, CompositeReward reward, StarConfig config, int iteration)
    {
        using var lm = ModelTrainerSetup.LoadModel(config, modelPath);
        var runner = new RolloutRunner(lm, reward);
        var options = new RolloutOptions
        {
            NumSamples = config.NumGenerations, GenerationBatchSize = config.GenerationBatchSize,
            Sampling = config.Sampling.ToSampling(config.MaxNewTokens, seed: config.Seed * 31 + iteration),
        };
        var rows = new List<JsonObject>();
        var rollouts = runner.RunAsync(problems, options).GetAwaiter().GetResult();
        var failed = new List<int>();
        int solved = 0;
        foreach (var group in rollouts.GroupBy(r => r.ExampleIndex))
        {
            var kept = Correct(group, config);
            if (kept.Count == 0) { failed.Add(group.Key); continue; }
            solved++;
            rows.AddRange(kept.Select(r => Row(problems[group.Key], r.Generation.CompletionText)));
        }
        int rationalized = 0;
        if (config.Rationalization && failed.Count > 0)
        {
            var hinted = failed.Select(i => WithHint(problems[i], config.HintTemplate)).ToList();
            var second = runner.RunAsync(hinted, options with { Sampling = options.Sampling with { Seed = options.Sampling.Seed + 7 } }).GetAwaiter().GetResult();
            foreach (var group in second.GroupBy(r => r.ExampleIndex))
            {
                var kept = Correct(group, config);
                if (kept.Count == 0) continue;
                rationalized++;
                // The rationale is trained on the original prompt, without the hint.
                rows.AddRange(kept.Select(r => Row(problems[failed[group.Key]], r.Generation.CompletionText)));
            }
        }
        return (rows, solved, rationalized);
    }

    static List<Rollout> Correct(IEnumerable<Rollout> group, StarConfig config) =>
        group.Where(r => r.Reward >= config.Threshold && r.Generation.FinishReason == FinishReason.Stop)
            .GroupBy(r => r.Generation.CompletionText.Trim()).Select(g => g.First())
            .OrderBy(r => r.Generation.CompletionIds.Length).Take(config.KeepPerProblem).ToList();

    static Example WithHint(Example example, string template)
    {
        var messages = example.Prompt.ToList();
        int last = messages.FindLastIndex(m => m.Role == ChatMessage.User);
        var gold = example.GoldAnswer ?? "";
        messages[last] = messages[last] with { Content = template.Replace("{prompt}", messages[last].Content).Replace("{answer}", gold) };
        return example.WithMessages(messages);
    }

    /// <summary>An SFT row in the messages schema: the original prompt and the verified rationale, with the gold
    /// columns kept.</summary>
    static JsonObject Row(Example example, string completion)
    {
        var messages =
            new JsonArray(example.Prompt.Select(m =>
            (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray());
        messages.Add(new JsonObject { ["role"] = ChatMessage.Assistant, ["content"] = completion });
        var row = new JsonObject { ["messages"] = messages };
        foreach (var (name, value) in example.Extra)
            if (name is not ("prompt" or "completion" or "messages")) row[name] = JsonNode.Parse(value.GetRawText());
        return row;
    }

    static double Accuracy(string model, List<Example> eval, CompositeReward reward, StarConfig config)
    {
        using var lm = ModelTrainerSetup.LoadModel(config, model);
        var examples = config.EvalAccuracySamples is { } n ? eval.Take(n).ToList() : eval;
        var rollouts = new RolloutRunner(lm, reward).RunAsync(examples, new RolloutOptions
        {
            GenerationBatchSize = config.GenerationBatchSize, Sampling = SamplingOptions.Greedy(config.MaxNewTokens),
        }).GetAwaiter().GetResult();
        return rollouts.Count(r => r.Reward >= config.Threshold) / (double)Math.Max(1, rollouts.Count);
    }

    /// <summary>The finished iterations, in output_dir; resume_from_checkpoint: latest continues after them.</summary>
    public const string StateFile = "star_state.json";
    public const string ConfigFile = TrainingOptions.RecipeFile;

    static List<StarIteration> LoadFinished(string folder)
    {
        var path = Path.Combine(folder, StateFile);
        if (!File.Exists(path)) return [];
        try { return JsonSerializer.Deserialize<List<StarIteration>>(File.ReadAllText(path)) ?? []; }
        catch (JsonException e) { throw new ReasonSharpException($"{path}: malformed STaR state: {e.Message}", e); }
    }

    static void SaveFinished(string folder, List<StarIteration> iterations) =>
        AtomicFile.WriteAllText(Path.Combine(folder, StateFile),
            JsonSerializer.Serialize(iterations, new JsonSerializerOptions { WriteIndented = true }));

    static void WriteReport(string folder, List<StarIteration> iterations)
    {
        var report = new RunReport("STaR");
        report.AddTable("Iterations",
            ["iteration", "problems", "solved", "rationalised", "train rows", "held-out accuracy", "seconds"],
            iterations.Select(it =>
                (IReadOnlyList<string>)[it.Iteration.ToString(CultureInfo.InvariantCulture),
                it.Problems.ToString(CultureInfo.InvariantCulture),
                it.SolvedDirectly.ToString(CultureInfo.InvariantCulture),
                it.Rationalized.ToString(CultureInfo.InvariantCulture),
                it.TrainRows.ToString(CultureInfo.InvariantCulture),
                double.IsNaN(it.Accuracy) ? "n/a" : it.Accuracy.ToString("P1", CultureInfo.InvariantCulture),
                it.Seconds.ToString("F0", CultureInfo.InvariantCulture)]));
        report.AddPlot("Held-out accuracy", "iteration", "accuracy",
            [new PlotSeries("accuracy", iterations.Select(i => (double)i.Iteration).ToList(),
            iterations.Select(i => i.Accuracy).ToList())]);
        report.AddPlot("Training rows", "iteration", "rows",
            [new PlotSeries("rows", iterations.Select(i => (double)i.Iteration).ToList(),
            iterations.Select(i => (double)i.TrainRows).ToList())]);
        report.Write(folder);
    }
}
