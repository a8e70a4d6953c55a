using ReasonSharp.Training.Grpo;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training.Grpo;

/// <summary>GSPO's sequence ratios, RLOO's and REINFORCE++'s advantages, the KL in the reward and the engine importance
/// weights, on cases worked by hand.</summary>
public class GrpoFamilyMathTests
{
    [Fact]
    public void RlooSubtractsTheMeanOfTheOtherCompletionsOfTheGroup()
    {
        // Group 1: 1 − (0 + 0 + 1)/3 = 2/3, 0 − 2/3; group 2 ties: 0.
        // A group of [3, 1, 2]: 3 − 1.5, 1 − 2.5, 2 − 2.
        var result = GrpoMath.RlooAdvantages([1, 0, 0, 1, 2, 2, 2, 2], 4, normalize: false);
        float third = 2f / 3;
        Assert.Equal([third, -third, -third, third, 0, 0, 0, 0], result.Advantages);
        Assert.Equal(0.5, result.FracRewardZeroStd);
        Assert.Null(result.TokenAdvantages);
        Assert.Equal([1.5f, -1.5f, 0f], GrpoMath.RlooAdvantages([3, 1, 2], 3, normalize: false).Advantages);
    }

    [Fact]
    public void RlooNormalisedIsWhitenedOverTheBatchWithTheUnbiasedStd()
    {
        var result = GrpoMath.RlooAdvantages([1, 0, 0, 1, 2, 2, 2, 2], 4, normalize: true);
        // Advantages [2/3, −2/3, −2/3, 2/3, 0 × 4]: mean 0, unbiased variance 4·(4/9)/7.
        double std = Math.Sqrt(16.0 / 63);
        Assert.Equal(2.0 / 3 / (std + 1e-4), result.Advantages[0], 5);
        Assert.Equal(-2.0 / 3 / (std + 1e-4), result.Advantages[1], 5);
        Assert.Equal(0, result.Advantages[7], 6);
    }

    [Fact]
    public void ReinforcePlusPlusWithoutKlWhitensTheRewardOverEveryToken()
    {
        // Rewards 1 (2 tokens) and 0 (3 tokens): token mean 0.4, population variance (2·0.36 + 3·0.16)/5 = 0.24.
        var result = GrpoMath.ReinforcePlusPlusAdvantages([1, 0], 2, [2, 3], null, 0.1);
        double std = Math.Sqrt(0.24);
        Assert.Equal(2, result.TokenAdvantages![0].Length);
        Assert.All(result.TokenAdvantages[0], a => Assert.Equal(0.6 / std, a, 5));
        Assert.All(result.TokenAdvantages[1], a => Assert.Equal(-0.4 / std, a, 5));
        Assert.Equal(0.6 / std, result.Advantages[0], 5);
    }

    [Fact]
    public void ReinforcePlusPlusFoldsTheKlIntoTokenRewardsAndWhitensTheReturnsToGo()
    {
        // β 0.1; k1 [0.5, −0.2] and [12 → clamped to 10]. Returns to go: row 0: t1 = 1 + 0.02 = 1.02,
        // t0 = 1.02 − 0.05 = 0.97; row 1: 0 − 1 = −1.
        var result = GrpoMath.ReinforcePlusPlusAdvantages([1, 0], 2, [2, 1], [[0.5f, -0.2f], [12f]], 0.1);
        double[] returns = [0.97, 1.02, -1];
        double mean = returns.Average();
        double std = Math.Sqrt(returns.Average(r => (r - mean) * (r - mean)));
        Assert.Equal((0.97 - mean) / std, result.TokenAdvantages![0][0], 4);
        Assert.Equal((1.02 - mean) / std, result.TokenAdvantages[0][1], 4);
        Assert.Equal((-1 - mean) / std, result.TokenAdvantages[1][0], 4);
    }

    [Fact]
    public void TheKlInTheRewardIsK1SummedOverTheCompletion()
    {
        Assert.Equal([0.5f, -1f], GrpoMath.KlK1([-1, -2], [-1.5f, -1]));
        var penalised = GrpoMath.SequenceKlPenalty([1, 0], [[0.5f, -0.2f], [0.3f]], 0.1);
        Assert.Equal(1 - 0.1 * 0.3, penalised[0], 6);
        Assert.Equal(-0.1 * 0.3, penalised[1], 6);
    }

    // Trainer − engine log-probs: [0.5, −1] and [2.5].
    static readonly float[][] TrainerLogProbs = [[-1, -2], [-0.5f]];
    static readonly float[][] EngineLogProbs = [[-1.5f, -1], [-3]];

    [Fact]
    public void TokenTruncatedEngineWeightsAreCappedPerToken()
    {
        var w = GrpoMath.EngineImportanceWeights(TrainerLogProbs, EngineLogProbs, [true, true],
            EngineImportanceSamplingMode.TokenTruncate, null, 2.0);
        Assert.Equal(Math.Exp(0.5), w.Weights[0][0], 5);
        Assert.Equal(Math.Exp(-1), w.Weights[0][1], 5);
        Assert.Equal(2, w.Weights[1][0], 6); // e^2.5 = 12.2, capped
        Assert.Equal(Math.Exp(-1), w.Min, 5);
        Assert.Equal((Math.Exp(0.5) + Math.Exp(-1) + 2) / 3, w.Mean, 5);
        Assert.Equal(2, w.Max, 6);
        Assert.Equal(4.0 / 3, w.GapMean, 5);
        Assert.Equal(2.5, w.GapMax, 5);
    }

    [Fact]
    public void MaskModesZeroWeightsOutsideTheBoundsAndSequenceModesUseTheSummedLogRatio()
    {
        var tokenMask = GrpoMath.EngineImportanceWeights(TrainerLogProbs, EngineLogProbs, [true, true],
            EngineImportanceSamplingMode.TokenMask, 0.5, 2.0);
        Assert.Equal(Math.Exp(0.5), tokenMask.Weights[0][0], 5);
        Assert.Equal(0, tokenMask.Weights[0][1]); // e^−1 = 0.37 < 0.5
        Assert.Equal(0, tokenMask.Weights[1][0]); // 12.2 > 2

        // Sums: −0.5 and 2.5.
        var truncated = GrpoMath.EngineImportanceWeights(TrainerLogProbs, EngineLogProbs, [true, true],
            EngineImportanceSamplingMode.SequenceTruncate, null, 3.0);
        Assert.All(truncated.Weights[0], x => Assert.Equal(Math.Exp(-0.5), x, 5));
        Assert.Equal(3, truncated.Weights[1][0], 6);
        Assert.Equal((Math.Exp(-0.5) + 3) / 2, truncated.Mean, 5); // over completions
        var masked = GrpoMath.EngineImportanceWeights(TrainerLogProbs, EngineLogProbs, [true, true],
            EngineImportanceSamplingMode.SequenceMask, null, 3.0);
        Assert.All(masked.Weights[0], x => Assert.Equal(Math.Exp(-0.5), x, 5));
        Assert.Equal(0, masked.Weights[1][0]);

        // A completion masked as truncated is left out of the sums and the statistics.
        var uncounted = GrpoMath.EngineImportanceWeights(TrainerLogProbs, EngineLogProbs, [true, false],
            EngineImportanceSamplingMode.SequenceMask, null, 3.0);
        Assert.Equal(1, uncounted.Weights[1][0], 6);
        Assert.Equal(0.75, uncounted.GapMean, 5);
    }

    [Fact]
    public void EngineWeightsMultiplyThePolicyTerm()
    {
        var result = GrpoMath.PolicyLoss(zeros(1, 2), null, null, tensor(new float[] { 1 }), ones(1, 2), 0.2, 0.2, 0,
            GrpoLossType.Bnpo, 2, 2, importanceWeights: tensor(new float[] { 2, 0.5f }, [1, 2]));
        Assert.Equal(-(2 + 0.5) / 2, result.Loss.item<float>(), 5);
    }

    [Fact]
    public void SequenceLevelTakesOneRatioPerCompletionAndClipsIt()
    {
        // Row 0: log-ratios [0.1, 0.3], mean 0.2, ρ = e^0.2 = 1.221 > 1.2 with A = +1: clipped, −1.2 at each token.
        // Row 1: one counted token, log-ratio −0.5, ρ = 0.607 < 0.8 with A = −1: clipped, +0.8. Padding ignored.
        var logProbs = tensor(new float[] { 0.1f, 0.3f, -0.5f, 9f }, [2, 2]);
        var mask = tensor(new float[] { 1, 1, 1, 0 }, [2, 2]);
        var advantages = tensor(new float[] { 1, -1 });
        var grpo = GrpoMath.PolicyLoss(logProbs, zeros(2, 2), null, advantages, mask, 0.2, 0.2, 0, GrpoLossType.Grpo,
            2, 3, level: ImportanceSamplingLevel.Sequence);
        Assert.Equal((-1.2 + 0.8) / 2, grpo.Loss.item<float>(), 5);
        Assert.Equal(0.5, grpo.ClipRatioHigh, 6); // over completions, as TRL
        Assert.Equal(0.5, grpo.ClipRatioLow, 6);
        Assert.Equal(1.0, grpo.ClipRatioRegion, 6);
        var dapo = GrpoMath.PolicyLoss(logProbs, zeros(2, 2), null, advantages, mask, 0.2, 0.2, 0, GrpoLossType.Dapo,
            2, 3, level: ImportanceSamplingLevel.Sequence);
        Assert.Equal((-1.2 * 2 + 0.8) / 3, dapo.Loss.item<float>(), 5);

        // Token level differs: row 0's first token is inside the range (e^0.1 = 1.105).
        var token = GrpoMath.PolicyLoss(logProbs, zeros(2, 2), null, advantages, mask, 0.2, 0.2, 0, GrpoLossType.Grpo,
            2, 3);
        Assert.Equal((-(Math.Exp(0.1) + 1.2) / 2 + 0.8) / 2, token.Loss.item<float>(), 5);
    }

    /// <summary>d loss / d logπ for one completion of two tokens with per-token advantages.</summary>
    static float[] Gradient(ImportanceSamplingLevel level, float[] logProbs, float[] old, float[] advantages)
    {
        var x = tensor(logProbs, [1, 2]).requires_grad_(true);
        GrpoMath.PolicyLoss(x, tensor(old, [1, 2]), null, tensor(advantages, [1, 2]), ones(1, 2), 0.2, 0.2, 0,
            GrpoLossType.Grpo, 2, 2, level: level).Loss.backward();
        return x.grad!.data<float>().ToArray();
    }

    [Fact]
    public void TheThreeLevelsGiveTheGradientsWorkedByHand()
    {
        // logπ − logπ_old = [0.1, −0.1]: sequence ratio s = e^0 = 1, inside the clipping range; A = [2, −1];
        // loss = mean_t(−A_t·w_t).
        float[] logProbs = [0.1f, -0.1f], old = [0, 0], advantages = [2, -1];
        // token: w_t = e^{Δ_t}, ∂/∂x_t = −A_t·e^{Δ_t}/2.
        var token = Gradient(ImportanceSamplingLevel.Token, logProbs, old, advantages);
        Assert.Equal(-Math.Exp(0.1), token[0], 5);
        Assert.Equal(0.5 * Math.Exp(-0.1), token[1], 5);
        // sequence: w = s = e^{mean Δ}, loss = −(2 − 1)/2·s, ∂s/∂x_t = s/2: −0.25 at both tokens.
        var sequence = Gradient(ImportanceSamplingLevel.Sequence, logProbs, old, advantages);
        Assert.Equal(-0.25, sequence[0], 6);
        Assert.Equal(-0.25, sequence[1], 6);
        // sequence_token: w_t = sg[s]·π_t/sg[π_t], ∂/∂x_t = −A_t·s/2.
        var sequenceToken = Gradient(ImportanceSamplingLevel.SequenceToken, logProbs, old, advantages);
        Assert.Equal(-1, sequenceToken[0], 6);
        Assert.Equal(0.5, sequenceToken[1], 6);
    }

    [Theory]
    [InlineData(GrpoLossType.Grpo)]
    [InlineData(GrpoLossType.Dapo)]
    public void OnPolicyWithOneAdvantagePerCompletionGspoHasGrpoGradient(GrpoLossType type)
    {
        // ρ = 1 either way and ∂ exp(mean_t Δ_t) = mean_t ∂Δ_t: spread over the completion's tokens by the
        // aggregation, it is the token-level gradient. GSPO differs only off-policy (the ratio and its clipping).
        var mask = tensor(new float[] { 1, 1, 0, 1, 0, 0 }, [2, 3]);
        var advantages = tensor(new float[] { 1, -3 });
        float[] values = [-0.3f, -1.2f, -0.7f, -2.0f, -0.1f, -0.4f];
        Tensor Grad(ImportanceSamplingLevel level)
        {
            var x = tensor(values, [2, 3]).requires_grad_(true);
            GrpoMath.PolicyLoss(x, null, null, advantages, mask, 0.2, 0.2, 0, type, 4, 3, level: level).Loss.backward();
            return x.grad!;
        }
        var token = Grad(ImportanceSamplingLevel.Token);
        Assert.True((token - Grad(ImportanceSamplingLevel.Sequence)).abs().max().item<float>() < 1e-6);
        Assert.True((token - Grad(ImportanceSamplingLevel.SequenceToken)).abs().max().item<float>() < 1e-6);
        Assert.NotEqual(0, token.abs().sum().item<float>());
    }
}
