using static TorchSharp.torch;

namespace ReasonSharp.Training.Grpo;

/// <summary>How group-relative advantages are scaled (TRL's `scale_rewards`).</summary>
public enum ScaleRewards { Group, Batch, None }

/// <summary>How per-token losses are aggregated (TRL's `loss_type`).</summary>
public enum GrpoLossType { Grpo, Bnpo, DrGrpo, Dapo }

public sealed record AdvantageResult(float[] Advantages, float[] GroupMean, float[] GroupStd, bool[] ZeroStdGroup)
{
    public double FracRewardZeroStd => ZeroStdGroup.Length == 0 ? 0
        : ZeroStdGroup.Count(z => z) / (double)ZeroStdGroup.Length;
}

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
    /// <param name="advantages">[B] one advantage per completion.</param>
    /// <param name="mask">[B, T] 1 for completion tokens that count.</param>
    /// <param name="activeTokensInBatch">dapo's normaliser: active tokens in the whole accumulated generation
    /// batch.</param>
    public static PolicyLossResult PolicyLoss(Tensor logProbs, Tensor? oldLogProbs, Tensor? refLogProbs,
        Tensor advantages, Tensor mask,
        double epsilonLow, double epsilonHigh, double beta, GrpoLossType lossType, int maxCompletionLength,
        double activeTokensInBatch,
        Tensor? entropyMask = null)
    {
        using var scope = NewDisposeScope();
        var old = oldLogProbs ?? logProbs.detach();
        var ratio = (logProbs - old).exp();
        var clipped = ratio.clamp(1 - epsilonLow, 1 + epsilonHigh);
        var adv = advantages.unsqueeze(1);
        var perToken = -minimum(ratio * adv, clipped * adv);
        if (entropyMask is not null) perToken = perToken * entropyMask;
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
        double MaskedMean(Tensor t) => tokens == 0 ? 0 : (t.to(float32) * mask).sum().item<float>() / tokens;
        var low = ratio.lt(1 - epsilonLow).logical_and(adv.lt(0));
        var high = ratio.gt(1 + epsilonHigh).logical_and(adv.gt(0));
        return new PolicyLossResult(loss.MoveToOuterDisposeScope(), kl is null ? 0 : MaskedMean(kl), MaskedMean(low),
            MaskedMean(high),
            MaskedMean(low.logical_or(high)), tokens);
    }
}
