using static TorchSharp.torch;

namespace ReasonSharp.Training.Grpo;

/// <summary>How group-relative advantages are scaled (TRL's `scale_rewards`).</summary>
public enum ScaleRewards { Group, Batch, None }

/// <summary>How per-token losses are aggregated (TRL's `loss_type`).</summary>
public enum GrpoLossType { Grpo, Bnpo, DrGrpo, Dapo }

/// <summary>How advantages are estimated from a generation batch's rewards (verl's adv_estimator names).</summary>
public enum AdvantageEstimator { Grpo, Rloo, ReinforcePlusPlus }

/// <summary>Where the policy ratio is taken (TRL's importance_sampling_level).</summary>
public enum ImportanceSamplingLevel { Token, Sequence, SequenceToken }

/// <summary>How the engine importance weights are formed (TRL's vllm_importance_sampling_mode).</summary>
public enum EngineImportanceSamplingMode { TokenTruncate, TokenMask, SequenceTruncate, SequenceMask }

public sealed record AdvantageResult(float[] Advantages, float[] GroupMean, float[] GroupStd, bool[] ZeroStdGroup)
{
    /// <summary>Per-token advantages (reinforce_plus_plus with β·KL in the reward); null: one per completion.</summary>
    public float[][]? TokenAdvantages { get; init; }

    public double FracRewardZeroStd => ZeroStdGroup.Length == 0 ? 0
        : ZeroStdGroup.Count(z => z) / (double)ZeroStdGroup.Length;
}

/// <summary>Engine importance weights, one per completion token, and TRL's sampling/… statistics of them.</summary>
/// <param name="Min">Smallest weight (over counted tokens; over completions in the sequence modes).</param>
/// <param name="GapMean">Mean |trainer − engine log-prob| over counted tokens.</param>
public sealed record EngineWeights(float[][] Weights, double Min, double Mean, double Max, double GapMean,
    double GapMax);

/// <summary>The scalar loss of one micro-batch and the statistics TRL logs for it (token-weighted over the completion
/// mask).</summary>
public sealed record PolicyLossResult(Tensor Loss, double MeanKl, double ClipRatioLow, double ClipRatioHigh,
    double ClipRatioRegion, double MaskedTokens);

/// <summary>GRPO's arithmetic, written to match TRL's GRPOTrainer (advantages, clipped surrogate, k3 KL, loss
/// normalisations).</summary>
public static class GrpoMath
{
    const double StdEpsilon = 1e-4;

    /// <summary>
    /// Group-relative advantages for rewards laid out as consecutive groups of <paramref name="groupSize"/> completions
    /// of the same prompt: r - mean(group), divided by the group's (or the batch's) unbiased std + 1e-4 unless scaling
    /// is none.
    /// </summary>
    public static AdvantageResult Advantages(IReadOnlyList<float> rewards, int groupSize, ScaleRewards scale)
    {
        if (groupSize < 1 || rewards.Count % groupSize != 0)
            throw new ArgumentException($"{rewards.Count} rewards do not split into groups of {groupSize}");
        int groups = rewards.Count / groupSize;
        var mean = new float[groups];
        var std = new float[groups];
        var zero = new bool[groups];
        for (int g = 0; g < groups; g++)
        {
            var slice = Enumerable.Range(g * groupSize, groupSize).Select(i => (double)rewards[i]).ToArray();
            mean[g] = (float)slice.Average();
            std[g] = (float)UnbiasedStd(slice);
            zero[g] = Math.Abs(std[g]) <= 1e-8;
        }
        double batchStd = UnbiasedStd(rewards.Select(r => (double)r).ToArray());
        var advantages = new float[rewards.Count];
        for (int i = 0; i < rewards.Count; i++)
        {
            int g = i / groupSize;
            double a = rewards[i] - mean[g];
            a = scale switch
            {
                ScaleRewards.Group => a / (std[g] + StdEpsilon),
                ScaleRewards.Batch => a / (batchStd + StdEpsilon),
                _ => a,
            };
            advantages[i] = (float)a;
        }
        return new AdvantageResult(advantages, mean, std, zero);
    }

    /// <summary>
    /// TRL's RLOOTrainer: r_i minus the mean of the other G − 1 rewards of its group, optionally whitened over the
    /// batch ((A − mean) / (unbiased std + 1e-4), normalize_advantages). No group std scaling.
    /// </summary>
    public static AdvantageResult RlooAdvantages(IReadOnlyList<float> rewards, int groupSize, bool normalize)
    {
        if (groupSize < 2) throw new ArgumentException("RLOO needs at least 2 completions per group");
        var stats = Advantages(rewards, groupSize, ScaleRewards.None);
        var advantages = new double[rewards.Count];
        for (int i = 0; i < rewards.Count; i++)
        {
            int g = i / groupSize;
            double sum = 0;
            for (int j = g * groupSize; j < (g + 1) * groupSize; j++) sum += rewards[j];
            advantages[i] = rewards[i] - (sum - rewards[i]) / (groupSize - 1);
        }
        if (normalize)
        {
            double mean = advantages.Average(), std = UnbiasedStd(advantages);
            for (int i = 0; i < advantages.Length; i++) advantages[i] = (advantages[i] - mean) / (std + StdEpsilon);
        }
        return stats with { Advantages = advantages.Select(a => (float)a).ToArray() };
    }

    /// <summary>
    /// REINFORCE++ as OpenRLHF's "reinforce" estimator (γ = 1): token rewards are the outcome reward at the last token
    /// and −β·k1 at every token (k1 = old − ref log-prob, clamped to ±10), the advantage of a token is its return to go
    /// (r − β·Σ_{s≥t} k1_s), whitened over every completion token of the batch: (R − mean) / √max(var, 1e-8), with
    /// the population variance. No baseline per group.
    /// </summary>
    /// <param name="lengths">Completion tokens of each completion.</param>
    /// <param name="tokenKl">k1 per token, or null (β = 0 or KL kept in the loss): then R = r at every token.</param>
    public static AdvantageResult ReinforcePlusPlusAdvantages(IReadOnlyList<float> rewards, int groupSize,
        IReadOnlyList<int> lengths, IReadOnlyList<float[]>? tokenKl, double beta)
    {
        var stats = Advantages(rewards, groupSize, ScaleRewards.None);
        var returns = new double[rewards.Count][];
        double sum = 0, count = 0;
        for (int i = 0; i < rewards.Count; i++)
        {
            returns[i] = new double[lengths[i]];
            double toGo = rewards[i];
            for (int t = lengths[i] - 1; t >= 0; t--)
            {
                if (tokenKl is not null) toGo -= beta * Math.Clamp(tokenKl[i][t], -10, 10);
                returns[i][t] = toGo;
            }
            sum += returns[i].Sum();
            count += lengths[i];
        }
        double mean = sum / Math.Max(1, count);
        double variance = returns.Sum(r => r.Sum(v => (v - mean) * (v - mean))) / Math.Max(1, count);
        double scale = 1 / Math.Sqrt(Math.Max(variance, 1e-8));
        var tokens = returns.Select(r => r.Select(v => (float)((v - mean) * scale)).ToArray()).ToArray();
        return stats with
        {
            Advantages = tokens.Select(t => t.Length == 0 ? 0f : t[0]).ToArray(),
            TokenAdvantages = tokens,
        };
    }

    /// <summary>k1 = old − ref log-prob per token: the KL estimate TRL's RLOOTrainer and OpenRLHF put into the
    /// reward.</summary>
    public static float[] KlK1(float[] oldLogProbs, float[] refLogProbs) =>
        oldLogProbs.Select((o, t) => o - refLogProbs[t]).ToArray();

    /// <summary>TRL's RLOOTrainer's KL in the reward: r − β·Σ_t k1_t for each completion.</summary>
    public static float[] SequenceKlPenalty(IReadOnlyList<float> rewards, IReadOnlyList<float[]> tokenKl,
        double beta) =>
        rewards.Select((r, i) => (float)(r - beta * tokenKl[i].Sum(k => (double)k))).ToArray();

    /// <summary>
    /// TRL's vllm importance sampling correction with the engine in vLLM's place: the ratio of the trainer's
    /// probability to the engine's, per token (exp(trainer − engine)) or per completion (exp(Σ_t (trainer −
    /// engine))), truncated to [clipMin, clipMax] or set to 0 outside it (mask modes); null bounds are open.
    /// </summary>
    /// <param name="counts">Whether each completion counts in the loss (false: masked as truncated); left out of
    /// the token statistics and of the sequence sums, as TRL's completion mask.</param>
    public static EngineWeights EngineImportanceWeights(IReadOnlyList<float[]> trainerLogProbs,
        IReadOnlyList<float[]> engineLogProbs, IReadOnlyList<bool> counts, EngineImportanceSamplingMode mode,
        double? clipMin, double? clipMax)
    {
        bool sequence = mode is EngineImportanceSamplingMode.SequenceTruncate
            or EngineImportanceSamplingMode.SequenceMask;
        bool truncate = mode is EngineImportanceSamplingMode.TokenTruncate
            or EngineImportanceSamplingMode.SequenceTruncate;
        double Bound(double ratio) => truncate
            ? Math.Min(Math.Max(ratio, clipMin ?? double.NegativeInfinity), clipMax ?? double.PositiveInfinity)
            : ratio < (clipMin ?? double.NegativeInfinity) || ratio > (clipMax ?? double.PositiveInfinity) ? 0
            : ratio;
        var weights = new float[trainerLogProbs.Count][];
        var stats = new List<double>();
        var gaps = new List<double>();
        for (int i = 0; i < weights.Length; i++)
        {
            var diff = trainerLogProbs[i].Select((l, t) => (double)l - engineLogProbs[i][t]).ToArray();
            if (counts[i]) gaps.AddRange(diff.Select(Math.Abs));
            if (sequence)
            {
                double w = Bound(Math.Exp(counts[i] ? diff.Sum() : 0));
                weights[i] = Enumerable.Repeat((float)w, diff.Length).ToArray();
                stats.Add(w);
            }
            else
            {
                weights[i] = diff.Select(d => (float)Bound(Math.Exp(d))).ToArray();
                if (counts[i]) stats.AddRange(weights[i].Select(w => (double)w));
            }
        }
        return new EngineWeights(weights, stats.Count == 0 ? 0 : stats.Min(), stats.Count == 0 ? 0 : stats.Average(),
            stats.Count == 0 ? 0 : stats.Max(), gaps.Count == 0 ? 0 : gaps.Average(), gaps.Count == 0 ? 0 : gaps.Max());
    }

    static double UnbiasedStd(double[] values)
    {
        if (values.Length < 2) return double.NaN;
        double m = values.Average();
        return Math.Sqrt(values.Sum(v => (v - m) * (v - m)) / (values.Length - 1));
    }

    /// <summary>Per-token k3 estimator of KL(π_θ ‖ π_ref): exp(ref − logp) − (ref − logp) − 1.</summary>
    public static Tensor KlK3(Tensor logProbs, Tensor refLogProbs)
    {
        using var scope = NewDisposeScope();
        var delta = refLogProbs - logProbs;
        return (delta.exp() - delta - 1).MoveToOuterDisposeScope();
    }

    /// <summary>Mask of tokens whose entropy is at or above the (1 − ρ) quantile of the masked tokens' entropies (TRL's
    /// top_entropy_quantile).</summary>
    public static Tensor HighEntropyMask(Tensor entropies, Tensor completionMask, double topQuantile)
    {
        using var scope = NewDisposeScope();
        var selected = entropies.masked_select(completionMask.to(@bool));
        if (selected.numel() == 0) return zeros_like(completionMask).MoveToOuterDisposeScope();
        var threshold = selected.to(float64).quantile(1 - topQuantile).to(entropies.dtype);
        return entropies.ge(threshold).to(completionMask.dtype).mul(completionMask).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The clipped surrogate loss with optional k3 KL penalty, aggregated by <paramref name="lossType"/>.
    /// </summary>
    /// <param name="logProbs">[B, T] log-probs of the completion tokens under the current policy (with grad).</param>
    /// <param name="oldLogProbs">[B, T] log-probs under the policy that sampled them; null means on-policy (ratio 1,
    /// gradient still flows).</param>
    /// <param name="refLogProbs">[B, T] reference-model log-probs, needed when beta ≠ 0.</param>
    /// <param name="advantages">[B] one advantage per completion, or [B, T] one per token.</param>
    /// <param name="mask">[B, T] 1 for completion tokens that count.</param>
    /// <param name="activeTokensInBatch">dapo's normaliser: active tokens in the whole accumulated generation
    /// batch.</param>
    /// <param name="level">token: ρ = exp(logπ − logπ_old) per token; sequence (GSPO): one ρ per completion,
    /// exp(mean_t (logπ − logπ_old)), broadcast to its tokens; sequence_token (GSPO-token): sg[ρ_seq]·π/sg[π] per
    /// token.</param>
    /// <param name="importanceWeights">[B, T] engine importance weights multiplied into the policy term.</param>
    public static PolicyLossResult PolicyLoss(Tensor logProbs, Tensor? oldLogProbs, Tensor? refLogProbs,
        Tensor advantages, Tensor mask,
        double epsilonLow, double epsilonHigh, double beta, GrpoLossType lossType, int maxCompletionLength,
        double activeTokensInBatch,
        Tensor? entropyMask = null, ImportanceSamplingLevel level = ImportanceSamplingLevel.Token,
        Tensor? importanceWeights = null)
    {
        using var scope = NewDisposeScope();
        var old = oldLogProbs ?? logProbs.detach();
        var logRatio = logProbs - old;
        Tensor SequenceMean() => ((logRatio * mask).sum(-1) / mask.sum(-1).clamp_min(1)).unsqueeze(1);
        var logWeights = level switch
        {
            ImportanceSamplingLevel.Token => logRatio,
            ImportanceSamplingLevel.Sequence => SequenceMean(),
            ImportanceSamplingLevel.SequenceToken => logProbs - logProbs.detach() + SequenceMean().detach(),
            _ => throw new ArgumentOutOfRangeException(nameof(level)),
        };
        var ratio = logWeights.exp();
        var clipped = ratio.clamp(1 - epsilonLow, 1 + epsilonHigh);
        var adv = advantages.dim() == 1 ? advantages.unsqueeze(1) : advantages;
        var perToken = -minimum(ratio * adv, clipped * adv);
        if (entropyMask is not null) perToken = perToken * entropyMask;
        if (importanceWeights is not null) perToken = perToken * importanceWeights;
        Tensor? kl = null;
        if (beta != 0)
        {
            if (refLogProbs is null) throw new ArgumentException("beta ≠ 0 needs reference log-probs");
            kl = KlK3(logProbs, refLogProbs);
            perToken = perToken + beta * kl;
        }

        var masked = perToken * mask;
        var loss = lossType switch
        {
            GrpoLossType.Grpo => (masked.sum(-1) / mask.sum(-1).clamp_min(1)).mean(),
            GrpoLossType.Bnpo => masked.sum() / mask.sum().clamp_min(1),
            GrpoLossType.DrGrpo => masked.sum() / ((double)logProbs.shape[0] * maxCompletionLength),
            GrpoLossType.Dapo => masked.sum() / Math.Max(1, activeTokensInBatch),
            _ => throw new ArgumentOutOfRangeException(nameof(lossType)),
        };

        using var noGrad = no_grad();
        double tokens = mask.sum().item<float>();
        // As TRL: a [B, 1] statistic (one ratio per completion) is averaged over completions, else over tokens.
        double MaskedMean(Tensor t) => t.shape[1] == 1 && mask.shape[1] != 1 ? t.to(float32).mean().item<float>()
            : tokens == 0 ? 0 : (t.to(float32) * mask).sum().item<float>() / tokens;
        var low = ratio.lt(1 - epsilonLow).logical_and(adv.lt(0));
        var high = ratio.gt(1 + epsilonHigh).logical_and(adv.gt(0));
        return new PolicyLossResult(loss.MoveToOuterDisposeScope(), kl is null ? 0 : MaskedMean(kl), MaskedMean(low),
            MaskedMean(high),
            MaskedMean(low.logical_or(high)), tokens);
    }
}
