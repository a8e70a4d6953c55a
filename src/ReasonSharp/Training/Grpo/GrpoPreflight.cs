using System.Diagnostics;
using System.Globalization;
using System.Text;
using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Rewards;
using static TorchSharp.torch;

namespace ReasonSharp.Training.Grpo;

/// <summary>Options of `reason grpo --preflight`; the run's own settings come from its
/// <see cref="GrpoConfig"/>.</summary>
public sealed record GrpoPreflightOptions
{
    /// <summary>Prompts to sample (drawn with the run's seed); 0 means every prompt of the dataset.</summary>
    public int NumPrompts { get; init; } = 64;
    /// <summary>A completion passes when the first reward function gives at least this.</summary>
    public double PassThreshold { get; init; } = 1.0;
    /// <summary>Where to write the learnable prompts (some but not all completions pass) as dataset rows; null:
    /// nowhere.</summary>
    public string? WriteLearnable { get; init; }
    /// <summary>Share of prompts with no passing completion (or with only passing ones) above which the data is too
    /// hard (too easy).</summary>
    public double VerdictShare { get; init; } = 0.8;

    public void Validate()
    {
        if (NumPrompts < 0) throw new ReasonSharpException($"--prompts: expected an integer ≥ 0 (0 = all), got " +
            $"{NumPrompts}");
        if (!double.IsFinite(PassThreshold)) throw new ReasonSharpException($"--pass-threshold: expected a number, " +
            $"got {PassThreshold}");
        if (VerdictShare is <= 0 or > 1) throw new ReasonSharpException($"verdict share: expected a number in (0, " +
            $"1], got {VerdictShare}");
    }
}

public enum PreflightVerdict { TooHard, TooEasy, Learnable }

/// <summary>One reward function's values over every sampled completion.</summary>
public sealed record RewardDistribution(string Name, double Mean, double Std, double Min, double Max, int Count);

/// <summary>What `--preflight` found about a GRPO run before it starts.</summary>
public sealed record GrpoPreflightReport
{
    public required int Prompts { get; init; }
    public required int Generations { get; init; }
    public required string PassReward { get; init; }
    public required double PassThreshold { get; init; }
    public required IReadOnlyList<RewardDistribution> Rewards { get; init; }
    /// <summary>Prompts whose pass rate is 0, in (0, ¼], (¼, ½], (½, ¾], (¾, 1) and 1.</summary>
    public required IReadOnlyList<int> PassRateHistogram { get; init; }
    public required double MeanPassRate { get; init; }
    /// <summary>Share of prompt groups whose total rewards all tie: the frac_reward_zero_std training will
    /// log.</summary>
    public required double ExpectedFracRewardZeroStd { get; init; }
    public required double TruncationRate { get; init; }
    public required double MeanPromptTokens { get; init; }
    public required double MeanCompletionTokens { get; init; }
    /// <summary>Prompt + completion tokens of one optimizer step (generation_batch_size completions).</summary>
    public required double TokensPerStep { get; init; }
    public required double GenerationSecondsPerStep { get; init; }
    /// <summary>Measured forward + backward of one step's completions.</summary>
    public required double BackwardSecondsPerStep { get; init; }
    /// <summary>Peak resident memory while sampling and during that forward + backward.</summary>
    public required long PeakRssBytes { get; init; }
    /// <summary>AdamW's two moments for the trainable parameters, allocated at the first real step (computed, not
    /// measured).</summary>
    public required long OptimizerStateBytes { get; init; }
    public required PreflightVerdict Verdict { get; init; }
    public required int LearnablePrompts { get; init; }
    public string? LearnablePath { get; init; }

    public string Format()
    {
        var text = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.AppendLine(inv, $"GRPO preflight: {Prompts} prompts × {Generations} completions from the starting model");
        text.AppendLine();
        text.AppendLine("| reward | mean | std | min | max | scored |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var r in Rewards)
            text.AppendLine(inv, $"| {r.Name} | {r.Mean:F3} | {r.Std:F3} | {r.Min:F3} | {r.Max:F3} | {r.Count} |");
        text.AppendLine();
        text.AppendLine(inv, $"pass rate per prompt ({PassReward} ≥ {PassThreshold}), mean {MeanPassRate:P1}:");
        string[] labels = ["0", "(0, 0.25]", "(0.25, 0.5]", "(0.5, 0.75]", "(0.75, 1)", "1"];
        int widest = Math.Max(1, PassRateHistogram.Max());
        for (int i = 0; i < labels.Length; i++)
            text.AppendLine(inv, $"  {labels[i],-12} {PassRateHistogram[i],5}  " +
                $"{new string('#', (int)Math.Ceiling(40.0 * PassRateHistogram[i] / widest))}");
        text.AppendLine();
        text.AppendLine(inv, $"expected frac_reward_zero_std: {ExpectedFracRewardZeroStd:F2}   truncated " +
            $"completions: {TruncationRate:P1}");
        text.AppendLine(inv, $"tokens: prompt {MeanPromptTokens:F0} + completion {MeanCompletionTokens:F0} on " +
            $"average; {TokensPerStep:F0} per optimizer step");
        text.AppendLine(inv, $"time per step: generation {GenerationSecondsPerStep:F1} s + forward/backward " +
            $"{BackwardSecondsPerStep:F1} s (measured), plus the optimizer");
        text.AppendLine(inv, $"memory: peak RSS {PeakRssBytes / 1048576.0:F0} MB while sampling and in one step's " +
            $"backward (measured), "
                             + $"plus {OptimizerStateBytes / 1048576.0:F0} MB of AdamW state (computed)");
        text.AppendLine();
        text.AppendLine($"verdict: {VerdictText()}");
        var written = LearnablePath is null ? "" : $", written to {LearnablePath}";
        text.AppendLine(inv, $"learnable prompts (some completions pass, some fail): {LearnablePrompts} of " +
            $"{Prompts}{written}");
        return text.ToString();
    }

    string VerdictText() => Verdict switch
    {
        PreflightVerdict.TooHard => "too hard — almost no prompt has a passing completion, so groups tie at 0 and " +
                                    "GRPO has no signal. Try SFT first, easier prompts, more num_generations or a " +
                                    "higher temperature.",
        PreflightVerdict.TooEasy => "too easy — almost every completion already passes, so groups tie and GRPO has " +
                                    "nothing to learn. Try harder prompts or a stricter reward.",
        _ => "learnable — enough prompts have both passing and failing completions for group-relative advantages.",
    };
}

/// <summary>
/// `reason grpo --preflight`: samples the run's num_generations completions for n prompts from the starting model, with
/// the run's decoding settings and rewards, and reports what training will see: reward distributions, pass rates, the
/// frac_reward_zero_std to expect, truncation, tokens, time and memory per step, and a verdict.
/// </summary>
public static class GrpoPreflight
{
    public static GrpoPreflightReport Run(GrpoConfig config, GrpoPreflightOptions options,
        RewardRegistry? registry = null,
        Action<string>? log = null)
    {
        Validation.Once(config, config.Validate);
        Validation.Once(options, options.Validate);
        using var lm = ModelTrainerSetup.LoadModel(config);
        var source = new DatasetSource(config.DatasetName!)
        {
            Split = config.DatasetTrainSplit, Config = config.DatasetConfig,
        };
        var rows = DatasetReader.ReadRowExamples(source, new ExampleConverter()).ToList();
        if (rows.Count == 0) throw new ReasonSharpException($"{config.DatasetName}: no prompts to sample");
        return Run(lm, rows, config, options, registry, log);
    }

    public static GrpoPreflightReport Run(LanguageModel lm, IReadOnlyList<RowExample> rows, GrpoConfig config,
        GrpoPreflightOptions options,
        RewardRegistry? registry = null, Action<string>? log = null)
    {
        using var reward = GrpoTrainer.CreateReward(config, registry ?? RewardRegistry.CreateDefault());
        int n = options.NumPrompts == 0 ? rows.Count : Math.Min(options.NumPrompts, rows.Count);
        var chosen =
            TrainingRandom.Derive(config.Seed, 0).Permutation(rows.Count).Take(n).Select(i => rows[i]).ToList();
        var runner = new RolloutRunner(lm, reward);
        int k = config.NumGenerations;

        ProcessMemory.ResetPeak();
        lm.Model.eval();
        var clock = Stopwatch.StartNew();
        IReadOnlyList<Rollout> rollouts;
        using (no_grad())
            rollouts = runner.RunAsync(chosen.Select(r => r.Example).ToList(), GrpoTask.RolloutOptionsFor(config, 0, 0),
                (done, total) => log?.Invoke($"preflight: sampled {done}/{total} prompts")).GetAwaiter().GetResult();
        double generationSeconds = clock.Elapsed.TotalSeconds;

        var groups = rollouts.GroupBy(r => r.ExampleIndex).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
        string passReward = reward.Rewards[0].Function.Name;
        var passRates =
            groups.Select(g =>
            g.Count(r => r.Rewards[passReward] is { } v && v >= options.PassThreshold) / (double)g.Count).ToList();
        var histogram = new int[6];
        foreach (var p in passRates) histogram[Bucket(p)]++;
        double share = 1.0 / groups.Count;
        var verdict = histogram[0] * share >= options.VerdictShare ? PreflightVerdict.TooHard
            : histogram[5] * share >= options.VerdictShare ? PreflightVerdict.TooEasy
            : PreflightVerdict.Learnable;

        var learnable =
            groups.Select((g, i) => (Row: chosen[g[0].ExampleIndex].Row, Rate: passRates[i])).Where(x =>
            x.Rate is > 0 and < 1).ToList();
        if (options.WriteLearnable is { } path) JsonlWriter.Write(path, learnable.Select(x => x.Row));

        var (backwardSeconds, stepCompletions) = MeasureBackward(lm.Model, groups, config);
        double promptTokens = rollouts.Average(r => r.PromptIds.Length),
            completionTokens = rollouts.Average(r => r.Generation.CompletionIds.Length);
        long trainable = lm.Model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
        return new GrpoPreflightReport
        {
            Prompts = groups.Count,
            Generations = k,
            PassReward = passReward,
            PassThreshold = options.PassThreshold,
            Rewards = Distributions(reward, rollouts),
            PassRateHistogram = histogram,
            MeanPassRate = passRates.Average(),
            ExpectedFracRewardZeroStd = groups.Count(g => g.All(r => r.Reward == g[0].Reward)) * share,
            TruncationRate = rollouts.Count(r => r.Generation.Truncated) / (double)rollouts.Count,
            MeanPromptTokens = promptTokens,
            MeanCompletionTokens = completionTokens,
            TokensPerStep = config.CompletionsPerStep * (promptTokens + completionTokens),
            // One generation batch serves steps_per_generation × num_iterations micro-steps.
            GenerationSecondsPerStep = generationSeconds / groups.Count * config.PromptsPerGeneration
                * config.GradientAccumulationSteps / (config.MicroStepsPerGeneration * config.NumIterations),
            BackwardSecondsPerStep = backwardSeconds / stepCompletions * config.CompletionsPerStep,
            PeakRssBytes = ProcessMemory.PeakBytes(),
            OptimizerStateBytes = 2 * trainable * 4,
            Verdict = verdict,
            LearnablePrompts = learnable.Count,
            LearnablePath = options.WriteLearnable,
        };
    }

    static int Bucket(double passRate) => passRate switch
    {
        0 => 0,
        <= 0.25 => 1,
        <= 0.5 => 2,
        <= 0.75 => 3,
        < 1 => 4,
        _ => 5,
    };

    static IReadOnlyList<RewardDistribution> Distributions(CompositeReward reward, IReadOnlyList<Rollout> rollouts)
    {
        var result = new List<RewardDistribution>();
        void Add(string name, List<double> values)
        {
            if (values.Count == 0) return;
            var (mean, std, count) = CompositeReward.Statistics(values);
            result.Add(new RewardDistribution(name, mean ?? 0, std ?? 0, values.Min(), values.Max(), count));
        }
        foreach (var name in reward.Rewards.Select(r => r.Function.Name))
            Add(name,
                rollouts.Select(r => r.Rewards[name]).Where(v => v.HasValue).Select(v => (double)v!.Value).ToList());
        Add("total (weighted)", rollouts.Select(r => (double)r.Reward).ToList());
        return result;
    }

    /// <summary>
    /// Forward + backward of the GRPO loss over one optimizer step's completions (or all there are), in
    /// micro-batches of per_device_train_batch_size, as training runs them; the gradients are dropped, the weights are
    /// not changed.
    /// </summary>
    static (double Seconds, int Completions) MeasureBackward(CausalLM model, List<List<Rollout>> groups,
        GrpoConfig config)
    {
        var step = groups.Take((config.CompletionsPerStep + config.NumGenerations - 1) / config.NumGenerations)
            .ToList();
        var grouped = step.SelectMany(g => g).ToList();
        var advantages =
            GrpoMath.Advantages(grouped.Select(r => r.Reward).ToList(), config.NumGenerations,
            config.ScaleRewards).Advantages;
        var all = grouped.Take(config.CompletionsPerStep).ToList();
        var samples =
            all.Select((r, i) =>
            new GrpoSample(r.PromptIds, r.Generation.CompletionIds.Length == 0 ? [0] : r.Generation.CompletionIds,
            advantages[i], r.Generation.CompletionIds.Length == 0 ? [0f] : r.Generation.LogProbs,
            r.Generation.Truncated)).ToList();
        double activeTokens = samples.Sum(s => s.CompletionIds.Length);
        model.train();
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (var chunk in samples.Chunk(config.PerDeviceTrainBatchSize))
            {
                using var scope = NewDisposeScope();
                using var batch =
                    GrpoSequences.Build(chunk, model.Device, config.MaskTruncatedCompletions, withOldLogProbs: false,
                    weight: 1);
                var (logProbs, _) = GrpoSequences.LogProbs(model, batch, config.Sampling.Temperature, entropy: false);
                var loss =
                    GrpoMath.PolicyLoss(logProbs, null, null, batch.Advantages, batch.CompletionMask, config.Epsilon,
                    config.EpsilonUpper,
                    0, config.LossType, config.MaxCompletionLength, activeTokens).Loss;
                loss.backward();
            }
            return (clock.Elapsed.TotalSeconds, all.Count);
        }
        finally
        {
            foreach (var p in model.parameters()) p.grad?.zero_();
            model.eval();
        }
    }
}
