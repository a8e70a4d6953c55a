using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Builtins;
using static TorchSharp.torch;

namespace ReasonSharp.Training.Grpo;

/// <summary>A row of the completions table written at logging steps (log_completions).</summary>
public sealed record CompletionLogRow(long Step, string Prompt, string Completion, float Reward, float Advantage,
    IReadOnlyDictionary<string, float?> Rewards);

/// <summary>
/// GRPO as a task of the shared training loop: each generation batch samples num_generations completions per prompt,
/// scores them, turns rewards into group-relative advantages and is trained on for num_iterations optimizer steps with
/// the clipped surrogate (plus k3 KL against a frozen reference when beta ≠ 0).
/// </summary>
public sealed class GrpoTask : ITrainingTask
{
    readonly LanguageModel _lm;
    readonly IReadOnlyList<Example> _train;
    readonly IReadOnlyList<Example> _eval;
    readonly RolloutRunner _runner;
    readonly GrpoConfig _config;
    CausalLM? _reference;
    long _epoch, _next, _orderEpoch = -1;
    int[] _order = [];
    List<GrpoSample>? _cached;
    // Micro-slices of the cached generation batch consumed so far, over all its iterations.
    int _slice;

    public GrpoTask(LanguageModel model, IReadOnlyList<Example> train, IReadOnlyList<Example>? eval,
        CompositeReward reward, GrpoConfig config)
    {
        if (train.Count == 0) throw new ReasonSharpException($"{config.DatasetName}: no prompts to train on");
        _lm = model;
        _train = train;
        _eval = eval ?? [];
        _runner = new RolloutRunner(model, reward);
        _config = config;
    }

    /// <summary>Rows of the completions table, appended at each logging step when log_completions is on.</summary>
    public List<CompletionLogRow> CompletionLog { get; } = [];

    /// <summary>The frozen full-model reference (null with beta 0, and with LoRA, whose reference is the base with
    /// adapters off).</summary>
    public CausalLM? ReferenceModel => _reference;

    /// <summary>Micro-steps per epoch (generation batches × steps_per_generation × num_iterations) over
    /// gradient_accumulation_steps.</summary>
    public long? StepsPerEpoch =>
        (long)Math.Ceiling(Math.Ceiling(_train.Count / (double)_config.PromptsPerGeneration)
            * _config.MicroStepsPerGeneration * _config.NumIterations / _config.GradientAccumulationSteps);

    public void Initialize(TrainingContext context)
    {
        if (_config.Beta != 0 && context.Adapters is null && _reference is null)
            _reference = FrozenModel.Copy(context.Model);
    }

    /// <summary>
    /// gradient_accumulation_steps micro-slices, as TRL: a generation batch of steps_per_generation slices of
    /// per_device_train_batch_size completions is trained slice by slice, num_iterations times over, then the next one
    /// is sampled.
    /// </summary>
    public TrainingStep NextStep(TrainingContext context)
    {
        int slices = _config.MicroStepsPerGeneration, perGeneration = slices * _config.NumIterations;
        var generations = new List<Dictionary<string, double>>();
        var taken = new List<(List<GrpoSample> Samples, double GenerationTokens)>();
        bool fresh = true;
        SyncReference(context);
        for (int k = 0; k < _config.GradientAccumulationSteps; k++)
        {
            if (_cached is null || _slice >= perGeneration)
            {
                var generated = new Dictionary<string, double>();
                _cached = GenerateSamples(context, generated, generations.Count);
                _slice = 0;
                generations.Add(generated);
            }
            else if (generations.Count == 0) fresh = false;
            int index = _slice++ % slices;
            // Equal shares of the batch (per_device_train_batch_size each unless dynamic sampling came up short).
            int from = index * _cached.Count / slices, to = (index + 1) * _cached.Count / slices;
            taken.Add((_cached.GetRange(from, to - from), ActiveTokens(_cached)));
        }
        var metrics = new Dictionary<string, double>();
        foreach (var name in generations.SelectMany(g => g.Keys).Distinct())
            metrics[name] = generations.Where(g => g.ContainsKey(name)).Average(g => g[name]);
        if (_config.NumIterations > 1) metrics["iteration"] = (_slice - 1) / slices + 1;
        return new TrainingStep(MicroBatches(taken, context.Device, fresh), metrics);
    }

    /// <summary>Completion tokens that count in the loss.</summary>
    double ActiveTokens(IEnumerable<GrpoSample> samples) =>
        samples.Where(s => !(_config.MaskTruncatedCompletions && s.Truncated)).Sum(s => s.CompletionIds.Length);

    /// <param name="indexInStep">Generation batches already sampled in this optimizer step (when
    /// steps_per_generation &lt; gradient_accumulation_steps): offsets the seed.</param>
    List<GrpoSample> GenerateSamples(TrainingContext context, Dictionary<string, double> metrics, int indexInStep)
    {
        int groupSize = _config.NumGenerations, wanted = _config.PromptsPerGeneration;
        var groups = new List<List<Rollout>>();
        List<List<Rollout>>? lastRound = null;
        int dropped = 0, rounds = 0, roundOffset = indexInStep * (_config.MaxDynamicSamplingRounds + 1);
        var clock = Stopwatch.StartNew();
        TimeSpan generationTime = TimeSpan.Zero;
        long generatedTokens = 0;
        while (groups.Count < wanted)
        {
            var prompts = TakePrompts(wanted - groups.Count);
            var options = RolloutOptionsFor(_config, context.GlobalStep, roundOffset + rounds);
            var start = clock.Elapsed;
            var rollouts = _runner.RunAsync(prompts, options).GetAwaiter().GetResult();
            generationTime += clock.Elapsed - start;
            generatedTokens += rollouts.Sum(r => r.Generation.CompletionIds.Length);
            lastRound = rollouts.GroupBy(r => r.ExampleIndex).Select(g => g.ToList()).ToList();
            foreach (var group in lastRound)
            {
                bool tied = group.All(r => r.Reward == group[0].Reward);
                if (_config.DynamicSampling && tied) { dropped++; continue; }
                groups.Add(group);
            }
            rounds++;
            if (!_config.DynamicSampling || rounds > _config.MaxDynamicSamplingRounds) break;
        }
        if (groups.Count == 0) groups = lastRound!;
        if (groups.Count > wanted) groups = groups.Take(wanted).ToList();

        var all = groups.SelectMany(g => g).ToList();
        var samples =
            all.Select(r =>
            new GrpoSample(Truncate(r.PromptIds),
            r.Generation.CompletionIds.Length == 0 ? [0] : r.Generation.CompletionIds,
            0, r.Generation.CompletionIds.Length == 0 ? [0f] : r.Generation.LogProbs,
            r.Generation.Truncated)).ToList();

        var referenceStart = clock.Elapsed;
        if (_config.Beta != 0) StoreLogProbs(context, samples, reference: true);
        var referenceTime = clock.Elapsed - referenceStart;
        if (_config.EngineImportanceSamplingCorrection) StoreLogProbs(context, samples, reference: false);
        var trainerTime = clock.Elapsed - referenceStart - referenceTime;

        var advantages = Advantages(all, samples, metrics);
        for (int i = 0; i < samples.Count; i++)
            samples[i] = samples[i] with
            {
                Advantage = advantages.Advantages[i],
                TokenAdvantages = advantages.TokenAdvantages?[i],
            };
        if (_config.EngineImportanceSamplingCorrection) ImportanceWeights(samples, metrics);

        RecordMetrics(metrics, all, advantages);
        metrics["dynamic_sampling/dropped_groups"] = dropped;
        metrics["time/generation"] = generationTime.TotalSeconds;
        metrics["time/reference"] = referenceTime.TotalSeconds;
        if (_config.EngineImportanceSamplingCorrection) metrics["time/old_logprobs"] = trainerTime.TotalSeconds;
        metrics["generation_tokens_per_second"] = generatedTokens / Math.Max(1e-9, generationTime.TotalSeconds);
        if (_config.LogCompletions && indexInStep == 0
            && ((context.GlobalStep + 1) % _config.LoggingSteps == 0 || context.GlobalStep == 0))
            LogCompletions(context.GlobalStep + 1, all, advantages.Advantages);
        // A batch trained over several optimizer steps is shuffled first, as TRL, so that each step mixes groups.
        if (_config.MicroStepsPerGeneration > _config.GradientAccumulationSteps)
            TrainingRandom.Derive(_config.Seed, -1 - context.GlobalStep * 64 - indexInStep).Shuffle(samples);
        return samples;
    }

    /// <summary>The advantage estimator on the batch's rewards, with β·KL (k1, the sampling policy against the
    /// reference) folded into the rewards when kl_in_reward.</summary>
    AdvantageResult Advantages(List<Rollout> rollouts, List<GrpoSample> samples, Dictionary<string, double> metrics)
    {
        var rewards = rollouts.Select(r => r.Reward).ToList();
        int groupSize = _config.NumGenerations;
        float[][]? tokenKl = null;
        if (_config.Beta != 0 && _config.KlInRewardResolved)
        {
            tokenKl = samples.Select(s => GrpoMath.KlK1(s.TrainerLogProbs ?? s.OldLogProbs, s.RefLogProbs!)).ToArray();
            var counted = tokenKl.Where((_, i) => !(_config.MaskTruncatedCompletions && samples[i].Truncated))
                .SelectMany(k => k).ToList();
            metrics["kl"] = counted.Count == 0 ? 0 : counted.Average(k => (double)k);
        }
        IReadOnlyList<float> Penalised() =>
            tokenKl is null ? rewards : GrpoMath.SequenceKlPenalty(rewards, tokenKl, _config.Beta);
        return _config.AdvantageEstimator switch
        {
            AdvantageEstimator.Grpo => GrpoMath.Advantages(Penalised(), groupSize, _config.ScaleRewards),
            AdvantageEstimator.Rloo => GrpoMath.RlooAdvantages(Penalised(), groupSize, _config.NormalizeAdvantages),
            AdvantageEstimator.ReinforcePlusPlus => GrpoMath.ReinforcePlusPlusAdvantages(rewards, groupSize,
                samples.Select(s => s.CompletionIds.Length).ToList(), tokenKl, _config.Beta),
            _ => throw new ArgumentOutOfRangeException(nameof(_config.AdvantageEstimator)),
        };
    }

    /// <summary>TRL's metric names for the engine importance weights and the log-prob gap they correct.</summary>
    public const string ImportanceRatioMetric = "sampling/importance_sampling_ratio";

    void ImportanceWeights(List<GrpoSample> samples, Dictionary<string, double> metrics)
    {
        var weights = GrpoMath.EngineImportanceWeights(samples.Select(s => s.TrainerLogProbs!).ToList(),
            samples.Select(s => s.OldLogProbs).ToList(),
            samples.Select(s => !(_config.MaskTruncatedCompletions && s.Truncated)).ToList(),
            _config.EngineImportanceSamplingMode, _config.EngineImportanceSamplingClipMin,
            _config.EngineImportanceSamplingClipMax);
        for (int i = 0; i < samples.Count; i++) samples[i].ImportanceWeights = weights.Weights[i];
        metrics[LogProbGapMetric] = weights.GapMean;
        metrics[LogProbGapMaxMetric] = weights.GapMax;
        metrics[$"{ImportanceRatioMetric}/min"] = weights.Min;
        metrics[$"{ImportanceRatioMetric}/mean"] = weights.Mean;
        metrics[$"{ImportanceRatioMetric}/max"] = weights.Max;
    }

    /// <summary>How GRPO samples a group: num_generations completions per prompt with the config's decoding
    /// settings.</summary>
    public static RolloutOptions RolloutOptionsFor(GrpoConfig config, long step, int round) => new()
    {
        NumSamples = config.NumGenerations,
        EnableThinking = config.EnableThinking,
        GenerationBatchSize = Math.Max(config.NumGenerations, config.CompletionsPerGeneration),
        Step = (int)step,
        Sampling = config.Sampling.ToSampling(config.MaxCompletionLength,
            seed: unchecked(config.Seed * 1_000_003 + step * 101 + round)),
    };

    int[] Truncate(int[] prompt) => _config.MaxPromptLength is { } max && prompt.Length > max ? prompt[^max..] : prompt;

    List<Example> TakePrompts(int count)
    {
        var prompts = new List<Example>();
        while (prompts.Count < count)
        {
            if (_next >= _train.Count) { _epoch++; _next = 0; }
            if (_orderEpoch != _epoch)
            {
                _order = TrainingRandom.Derive(_config.Seed, _epoch).Permutation(_train.Count);
                _orderEpoch = _epoch;
            }
            var example = _train[_order[_next++]];
            prompts.Add(_config.SystemPrompt is { } system ? WithSystem(example, system) : example);
        }
        return prompts;
    }

    static Example WithSystem(Example example, string system) =>
        example.Prompt.Any(m => m.Role == ChatMessage.System) ? example
            : example.WithMessages([ChatMessage.FromSystem(system), .. example.Messages]);

    void RecordMetrics(Dictionary<string, double> metrics, List<Rollout> rollouts, AdvantageResult advantages)
    {
        var (mean, std, _) = CompositeReward.Statistics(rollouts.Select(r => (double)r.Reward).ToList());
        metrics["reward"] = mean ?? 0;
        metrics["reward_std"] = std ?? 0;
        foreach (var name in _runner.Reward.Rewards.Select(r => r.Function.Name))
        {
            var values =
                rollouts.Select(r => r.Rewards[name]).Where(v => v.HasValue).Select(v => (double)v!.Value).ToList();
            var (m, s, _) = CompositeReward.Statistics(values);
            if (m is { } fm) metrics[$"rewards/{name}/mean"] = fm;
            if (s is { } fs) metrics[$"rewards/{name}/std"] = fs;
        }
        metrics["frac_reward_zero_std"] = advantages.FracRewardZeroStd;
        // Verifications that scored 0 or null for another reason than a wrong answer, counted since the run started.
        foreach (var reward in _runner.Reward.Rewards)
            if (reward.Function is IVerifyingReward verifying)
                foreach (var (outcome, name) in VerifierCounts.Unscored)
                    metrics[$"rewards/{reward.Function.Name}/{name}"] = verifying.Counts[outcome];
        var lengths = rollouts.Select(r => (double)r.Generation.CompletionIds.Length).ToList();
        metrics["completions/mean_length"] = lengths.Average();
        metrics["completions/min_length"] = lengths.Min();
        metrics["completions/max_length"] = lengths.Max();
        metrics["completions/clipped_ratio"] = rollouts.Count(r => r.Generation.Truncated) / (double)rollouts.Count;
    }

    public const string CompletionsFile = "completions.jsonl";
    bool _completionsChecked;

    /// <summary>A resumed run logs again the steps after its checkpoint: their old lines go first, once.</summary>
    void DropCompletionsAfter(string path, long step)
    {
        if (_completionsChecked || !File.Exists(path)) return;
        _completionsChecked = true;
        var lines = File.ReadAllLines(path);
        var kept = lines.Where(l => JsonNode.Parse(l)?["step"]?.GetValue<long>() is { } s && s <= step).ToList();
        if (kept.Count < lines.Length) AtomicFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
    }

    void LogCompletions(long step, List<Rollout> rollouts, float[] advantages)
    {
        foreach (var i in Enumerable.Range(0, rollouts.Count).Take(_config.NumCompletionsToPrint))
        {
            var r = rollouts[i];
            CompletionLog.Add(new CompletionLogRow(step,
                r.Example.Prompt.LastOrDefault(m => m.Role == ChatMessage.User)?.Content ?? "",
                r.Generation.CompletionText, r.Reward, advantages[i], r.Rewards));
        }
        var path = Path.Combine(_config.OutputDir, CompletionsFile);
        Directory.CreateDirectory(_config.OutputDir);
        DropCompletionsAfter(path, step - 1);
        File.AppendAllLines(path, CompletionLog.Where(c => c.Step == step).Select(c => JsonSerializer.Serialize(new
        {
            step = c.Step,
            prompt = c.Prompt,
            completion = c.Completion,
            reward = c.Reward,
            advantage = c.Advantage,
            rewards = c.Rewards,
        })));
    }

    /// <summary>Each slice of per_device_train_batch_size completions as a micro-batch, split further to respect
    /// max_tokens_per_micro_batch.</summary>
    /// <param name="fresh">Every slice was sampled in this step (see <see cref="GrpoBatch.FreshPolicy"/>).</param>
    List<MicroBatch> MicroBatches(List<(List<GrpoSample> Samples, double GenerationTokens)> slices, Device device,
        bool fresh)
    {
        var chunks = new List<(List<GrpoSample> Samples, double GenerationTokens)>();
        foreach (var (slice, generationTokens) in slices)
        {
            var current = new List<GrpoSample>();
            foreach (var sample in slice)
            {
                int width =
                    Math.Max(current.Count == 0 ? 0 : current.Max(s => s.PromptIds.Length), sample.PromptIds.Length)
                            + Math.Max(current.Count == 0 ? 0 : current.Max(s => s.CompletionIds.Length),
                                sample.CompletionIds.Length);
                if (current.Count > 0 && _config.MaxTokensPerMicroBatch is { } budget
                    && width * (current.Count + 1) > budget)
                {
                    chunks.Add((current, generationTokens));
                    current = [];
                }
                current.Add(sample);
            }
            if (current.Count > 0) chunks.Add((current, generationTokens));
        }
        // dapo divides by the active tokens of the generation batch (TRL's num_items_in_batch); the loop averages
        // micro-batch losses by weight over the step, so each micro-batch's normaliser carries that ratio.
        double stepTokens = chunks.Sum(c => ActiveTokens(c.Samples));
        return chunks.Select(c => (MicroBatch)GrpoSequences.Build(c.Samples, device, _config.MaskTruncatedCompletions,
            _config.OffPolicy, Weight(c.Samples),
            lossNormaliser: ActiveTokens(c.Samples) * c.GenerationTokens / Math.Max(1e-9, stepTokens),
            freshPolicy: fresh)).ToList();
    }

    /// <summary>
    /// How much a micro-batch counts, so that the loop's weighted mean of micro-batch losses equals the loss type's
    /// global normalisation: dapo by active tokens, grpo and dr_grpo by sequences, bnpo equally (TRL averages it over
    /// accumulation steps).
    /// </summary>
    double Weight(IReadOnlyList<GrpoSample> chunk) => _config.LossType switch
    {
        GrpoLossType.Dapo => ActiveTokens(chunk) + 1e-9,
        GrpoLossType.Bnpo => 1,
        _ => chunk.Count,
    };

    public LossResult ComputeLoss(TrainingContext context, MicroBatch batch)
    {
        var b = (GrpoBatch)batch;
        var (logProbs, entropy) = GrpoSequences.LogProbs(context.Model, b, _config.Sampling.Temperature, entropy: true);
        Tensor? entropyMask = _config.TopEntropyQuantile < 1
            ? GrpoMath.HighEntropyMask(entropy!, b.CompletionMask, _config.TopEntropyQuantile) : null;
        bool klInLoss = _config.Beta != 0 && !_config.KlInRewardResolved;
        var result =
            GrpoMath.PolicyLoss(logProbs, b.OldLogProbs, b.RefLogProbs, b.Advantages, b.CompletionMask, _config.Epsilon,
            _config.EpsilonUpper, klInLoss ? _config.Beta : 0, _config.LossType, _config.MaxCompletionLength,
            b.ActiveTokens, entropyMask, _config.ImportanceSamplingLevel, b.ImportanceWeights);
        double tokens = Math.Max(1, result.MaskedTokens);
        var metrics = new Dictionary<string, double>
        {
            ["clip_ratio/low_mean"] = result.ClipRatioLow,
            ["clip_ratio/high_mean"] = result.ClipRatioHigh,
            ["clip_ratio/region_mean"] = result.ClipRatioRegion,
            ["entropy"] = (entropy! * b.CompletionMask).sum().item<float>() / tokens,
        };
        if (klInLoss) metrics["kl"] = result.MeanKl;
        // With the correction on, the gap is measured when sampling, against the trainer's log-probs of that time.
        if (b.FreshPolicy && !_config.EngineImportanceSamplingCorrection)
            metrics[LogProbGapMetric] = LogProbGap(logProbs, b);
        return new LossResult(result.Loss, metrics);
    }

    /// <summary>TRL's name for the mean |log-prob the engine sampled with − log-prob the trainer computes| per
    /// token.</summary>
    public const string LogProbGapMetric = "sampling/sampling_logp_difference/mean";
    public const string LogProbGapMaxMetric = "sampling/sampling_logp_difference/max";

    /// <summary>
    /// While the policy is the one that sampled (the batch's first step), the two log-probs differ only by the two code
    /// paths (the engine's decode kernels and libtorch's training forward): the gap should be float noise.
    /// </summary>
    static double LogProbGap(Tensor logProbs, GrpoBatch batch)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var mask = batch.CompletionMask;
        double tokens = mask.sum().item<float>();
        return tokens == 0 ? 0
            : ((logProbs.detach() - batch.SampledLogProbs).abs() * mask).sum().item<float>() / tokens;
    }

    /// <summary>Log-probs of the completions without autograd, in eval mode: the reference's (the frozen copy, or the
    /// policy with its LoRA adapters off) or the policy's own at sampling time.</summary>
    void StoreLogProbs(TrainingContext context, List<GrpoSample> samples, bool reference)
    {
        using var _ = no_grad();
        using var adaptersOff = reference ? context.Adapters?.Disable() : null;
        var model = reference ? _reference ?? context.Model : context.Model;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            foreach (var chunk in samples.Chunk(_config.PerDeviceTrainBatchSize))
            {
                using var scope = NewDisposeScope();
                using var batch =
                    GrpoSequences.Build(chunk, context.Device, maskTruncated: false, withOldLogProbs: false, weight: 1);
                var (logProbs, _) = GrpoSequences.LogProbs(model, batch, _config.Sampling.Temperature, entropy: false);
                var values = logProbs.cpu().data<float>().ToArray();
                long width = logProbs.shape[1];
                for (int i = 0; i < chunk.Length; i++)
                {
                    var row = values.AsSpan((int)(i * width), chunk[i].CompletionIds.Length).ToArray();
                    if (reference) chunk[i].RefLogProbs = row;
                    else chunk[i].TrainerLogProbs = row;
                }
            }
        }
        finally { model.train(wasTraining); }
    }

    /// <summary>sync_ref_model: every ref_model_sync_steps, ref ← α·policy + (1 − α)·ref.</summary>
    void SyncReference(TrainingContext context)
    {
        if (!_config.SyncRefModel || _reference is null || context.GlobalStep == 0
            || context.GlobalStep % _config.RefModelSyncSteps != 0) return;
        using var _ = no_grad();
        var policy = context.Model.state_dict();
        foreach (var (name, tensor) in _reference.state_dict())
            tensor.mul_(1 - _config.RefModelMixupAlpha).add_(policy[name], alpha: _config.RefModelMixupAlpha);
    }

    /// <summary>Completions of the held-out prompts, scored by the reward functions: eval_reward and
    /// eval_rewards/NAME (means over every completion). One greedy completion each, or num_generations_eval sampled
    /// with the training decoding settings.</summary>
    public IReadOnlyDictionary<string, double>? Evaluate(TrainingContext context)
    {
        if (_eval.Count == 0) return null;
        var prompts = (_config.EvalAccuracySamples is { } limit ? _eval.Take(limit) : _eval)
            .Select(e => _config.SystemPrompt is { } s ? WithSystem(e, s) : e).ToList();
        var options = _config.NumGenerationsEval is { } n
            ? RolloutOptionsFor(_config, context.GlobalStep, 0) with
            {
                NumSamples = n,
                GenerationBatchSize = Math.Max(n, _config.PerDeviceEvalBatchSize),
                Sampling = RolloutOptionsFor(_config, context.GlobalStep, 0).Sampling with
                {
                    Seed = unchecked(_config.Seed * 1_000_003 + context.GlobalStep * 101 + 50),
                },
            }
            : new RolloutOptions
            {
                EnableThinking = _config.EnableThinking,
                GenerationBatchSize = Math.Max(1, _config.PerDeviceEvalBatchSize),
                Sampling = SamplingOptions.Greedy(_config.MaxCompletionLength),
            };
        var rollouts = _runner.RunAsync(prompts, options).GetAwaiter().GetResult();
        var metrics = new Dictionary<string, double> { ["reward"] = rollouts.Average(r => r.Reward) };
        foreach (var name in _runner.Reward.Rewards.Select(r => r.Function.Name))
        {
            var values =
                rollouts.Select(r => r.Rewards[name]).Where(v => v.HasValue).Select(v => (double)v!.Value).ToList();
            if (values.Count > 0) metrics[$"rewards/{name}"] = values.Average();
        }
        metrics["completions/mean_length"] = rollouts.Average(r => r.Generation.CompletionIds.Length);
        return metrics;
    }

    public JsonNode SaveState()
    {
        var state = new JsonObject { ["epoch"] = _epoch, ["next"] = _next, ["slice"] = _slice };
        if (_cached is not null && _slice < _config.MicroStepsPerGeneration * _config.NumIterations)
            state["cached"] = JsonSerializer.SerializeToNode(_cached);
        return state;
    }

    public void LoadState(JsonNode state)
    {
        _epoch = state["epoch"]?.GetValue<long>()
            ?? throw new ReasonSharpException("GRPO task state: missing field 'epoch'");
        _next = state["next"]?.GetValue<long>()
            ?? throw new ReasonSharpException("GRPO task state: missing field 'next'");
        // Checkpoints before steps_per_generation counted whole iterations of gradient_accumulation_steps slices.
        _slice = state["slice"]?.GetValue<int>()
            ?? (state["iterations_done"]?.GetValue<int>() ?? 0) * _config.GradientAccumulationSteps;
        _cached = state["cached"]?.Deserialize<List<GrpoSample>>();
    }
}
