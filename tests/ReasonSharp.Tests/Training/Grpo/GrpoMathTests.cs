using ReasonSharp.Rewards;
using ReasonSharp.Training.Grpo;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training.Grpo;

public class GrpoMathTests
{
    static readonly float[] Rewards = [1, 0, 0, 1, 1, 1, 1, 1];

    [Fact]
    public void GroupScalingDividesByTheGroupsUnbiasedStd()
    {
        var result = GrpoMath.Advantages(Rewards, 4, ScaleRewards.Group);
        double std = Math.Sqrt(1.0 / 3.0);
        Assert.Equal(0.5 / (std + 1e-4), result.Advantages[0], 5);
        Assert.Equal(-0.5 / (std + 1e-4), result.Advantages[1], 5);
        Assert.All(result.Advantages[4..], a => Assert.Equal(0, a));
        Assert.Equal([false, true], result.ZeroStdGroup);
        Assert.Equal(0.5, result.FracRewardZeroStd);
    }

    [Fact]
    public void BatchScalingUsesTheGroupMeanAndTheBatchStd()
    {
        var result = GrpoMath.Advantages(Rewards, 4, ScaleRewards.Batch);
        double batchStd = Math.Sqrt(1.5 / 7);
        Assert.Equal(0.5 / (batchStd + 1e-4), result.Advantages[0], 5);
        Assert.Equal(0, result.Advantages[5]);
    }

    [Fact]
    public void NoScalingIsRewardMinusGroupMean()
    {
        var result = GrpoMath.Advantages([3, 1, 2, 2], 2, ScaleRewards.None);
        Assert.Equal([1f, -1f, 0f, 0f], result.Advantages);
    }

    [Fact]
    public async Task ANullRewardIsLeftOutOfItsFunctionsMeanAndOfTheTotal()
    {
        // accuracy is not applicable (null) to the second completion; format applies to all.
        var accuracy = new DelegateReward("accuracy", i => i.Completion == "b" ? null : i.Completion == "a" ? 1f : 0f);
        var format = new DelegateReward("format", i => 0.5f);
        var scores = await new CompositeReward([new WeightedReward(accuracy, 1f), new WeightedReward(format, 0.5f)])
            .ScoreAsync(new[] { "a", "b", "c", "a" }.Select(c => RewardInput.Create(c)).ToList());
        Assert.Equal([1.25f, 0.25f, 0.25f, 1.25f], scores.Total);
        Assert.Equal(2.0 / 3, scores.Functions[0].Mean!.Value, 6);
        Assert.Equal(3, scores.Functions[0].Count);
        var advantages = GrpoMath.Advantages(scores.Total, 4, ScaleRewards.None);
        Assert.Equal([0.5f, -0.5f, -0.5f, 0.5f], advantages.Advantages);
    }

    // On-policy (ratio 1) the per-token loss is −A: rows [-1, -1, pad] and [3, pad, pad].
    static (Tensor LogProbs, Tensor Advantages, Tensor Mask) OnPolicyBatch() =>
        (zeros(2, 3), tensor(new float[] { 1, -3 }), tensor(new float[] { 1, 1, 0, 1, 0, 0 }, [2, 3]));

    [Theory]
    [InlineData(GrpoLossType.Grpo, 1.0)]          // mean(-2/2, 3/1)
    [InlineData(GrpoLossType.Bnpo, 1.0 / 3)]      // (−2 + 3) / 3 tokens
    [InlineData(GrpoLossType.DrGrpo, 1.0 / 8)]    // 1 / (2 rows · max_completion_length 4)
    [InlineData(GrpoLossType.Dapo, 1.0 / 10)]     // 1 / 10 active tokens in the accumulated batch
    public void EachLossTypeNormalisesAsTrlDoes(GrpoLossType type, double expected)
    {
        var (logProbs, advantages, mask) = OnPolicyBatch();
        var result = GrpoMath.PolicyLoss(logProbs, null, null, advantages, mask, 0.2, 0.2, 0, type, 4, 10);
        Assert.Equal(expected, result.Loss.item<float>(), 5);
        Assert.Equal(3, result.MaskedTokens);
    }

    [Fact]
    public void ClippingUsesEpsilonHighAboveAndEpsilonBelow()
    {
        // Ratios 1.5 and 0.5 against advantages +1 and −1.
        var old = zeros(4, 1);
        var logProbs =
            tensor(new float[] { MathF.Log(1.5f), MathF.Log(1.5f), MathF.Log(0.5f), MathF.Log(0.5f) }, [4, 1]);
        var advantages = tensor(new float[] { 1, -1, 1, -1 });
        var mask = ones(4, 1);
        var result = GrpoMath.PolicyLoss(logProbs, old, null, advantages, mask, 0.2, 0.28, 0, GrpoLossType.Bnpo, 1, 4);
        // Per token: −min(1.5, 1.28) = −1.28; −min(−1.5, −1.28) = 1.5; −min(0.5, 0.8) = −0.5; −min(−0.5, −0.8) = 0.8.
        Assert.Equal((-1.28 + 1.5 - 0.5 + 0.8) / 4, result.Loss.item<float>(), 5);
        Assert.Equal(0.25, result.ClipRatioHigh, 6);
        Assert.Equal(0.25, result.ClipRatioLow, 6);
        Assert.Equal(0.5, result.ClipRatioRegion, 6);
    }

    [Fact]
    public void K3KlMatchesTheClosedForm()
    {
        var kl = GrpoMath.KlK3(tensor(new float[] { -1, -2 }), tensor(new float[] { -2, -2 }));
        Assert.Equal(Math.Exp(-1) + 1 - 1, kl[0].item<float>(), 5);
        Assert.Equal(0, kl[1].item<float>(), 6);
        var logProbs = tensor(new float[] { -1 }).view(1, 1);
        var withKl =
            GrpoMath.PolicyLoss(logProbs, null, tensor(new float[] { -2 }).view(1, 1), tensor(new float[] { 0 }),
            ones(1, 1), 0.2, 0.2, 0.04, GrpoLossType.Bnpo, 1, 1);
        Assert.Equal(0.04 * Math.Exp(-1), withKl.Loss.item<float>(), 5);
        Assert.Equal(Math.Exp(-1), withKl.MeanKl, 5);
    }

    [Theory]
    [InlineData(GrpoLossType.Grpo)]
    [InlineData(GrpoLossType.Dapo)]
    public void OnPolicyWithoutKlTheGradientIsThePlainPolicyGradient(GrpoLossType type)
    {
        var (_, advantages, mask) = OnPolicyBatch();
        var a = tensor(new float[] { -0.3f, -1.2f, -0.7f, -2.0f, -0.1f, -0.4f }, [2, 3]).requires_grad_(true);
        GrpoMath.PolicyLoss(a, null, null, advantages, mask, 0.2, 0.2, 0, type, 4, 10).Loss.backward();
        var b = a.detach().clone().requires_grad_(true);
        var weighted = -(b * advantages.unsqueeze(1)) * mask;
        var plain = type == GrpoLossType.Grpo ? (weighted.sum(-1) / mask.sum(-1)).mean() : weighted.sum() / 10;
        plain.backward();
        Assert.True((a.grad! - b.grad!).abs().max().item<float>() < 1e-7);
        Assert.NotEqual(0, a.grad!.abs().sum().item<float>());
    }

    [Fact]
    public void HighEntropyMaskKeepsTheTopQuantileOfMaskedTokens()
    {
        var entropies = tensor(new float[] { 0.1f, 0.9f, 5f, 0.5f, 0.7f, 9f }, [2, 3]);
        var mask = tensor(new float[] { 1, 1, 0, 1, 1, 0 }, [2, 3]);
        var kept = GrpoMath.HighEntropyMask(entropies, mask, 0.5);
        Assert.Equal(new float[] { 0, 1, 0, 0, 1, 0 }, kept.data<float>().ToArray());
    }
}
