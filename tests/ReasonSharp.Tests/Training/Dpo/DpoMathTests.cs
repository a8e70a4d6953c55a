using ReasonSharp.Training.Dpo;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training.Dpo;

/// <summary>
/// DPO's losses on one hand-computed pair: policy log-probs chosen −2, rejected −5; reference −3 and −4; β = 0.1.
/// So the chosen log-ratio is +1, the rejected −1, and Δ = 2.
/// </summary>
public class DpoMathTests
{
    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    static (double Loss, double ChosenReward, double RejectedReward, double ChosenGradient) Compute(
        DpoLossType type, double labelSmoothing = 0)
    {
        using var scope = NewDisposeScope();
        var chosen = tensor(new[] { -2.0f }, requires_grad: true);
        var result = DpoMath.Loss(chosen, tensor(new[] { -5.0f }), tensor(new[] { -3.0f }), tensor(new[] { -4.0f }),
            0.1, type, labelSmoothing);
        result.Losses.sum().backward();
        return (result.Losses.item<float>(), result.ChosenRewards.item<float>(), result.RejectedRewards.item<float>(),
            chosen.grad!.item<float>());
    }

    [Fact]
    public void SigmoidIsMinusLogSigmoidOfBetaDelta()
    {
        var (loss, chosen, rejected, gradient) = Compute(DpoLossType.Sigmoid);
        Assert.Equal(Math.Log(1 + Math.Exp(-0.2)), loss, 5);  // 0.598139
        Assert.Equal(0.1, chosen, 6);
        Assert.Equal(-0.1, rejected, 6);
        Assert.Equal(-0.1 * Sigmoid(-0.2), gradient, 6);  // −β·σ(−βΔ)
    }

    [Fact]
    public void LabelSmoothingMixesInTheFlippedLabel()
    {
        var (loss, _, _, _) = Compute(DpoLossType.Sigmoid, labelSmoothing: 0.1);
        Assert.Equal(0.9 * Math.Log(1 + Math.Exp(-0.2)) + 0.1 * Math.Log(1 + Math.Exp(0.2)), loss, 5);
    }

    [Fact]
    public void IpoIsTheSquaredDistanceToOneOverTwoBeta() =>
        Assert.Equal(Math.Pow(2 - 1 / 0.2, 2), Compute(DpoLossType.Ipo).Loss, 4);  // (2 − 5)² = 9

    [Fact]
    public void HingeIsReluOfOneMinusBetaDelta() => Assert.Equal(0.8, Compute(DpoLossType.Hinge).Loss, 5);

    [Fact]
    public void ApoZeroRaisesChosenAndLowersRejected()
    {
        var (loss, _, _, gradient) = Compute(DpoLossType.ApoZero);
        Assert.Equal(1 - Sigmoid(0.1) + Sigmoid(-0.1), loss, 5);
        Assert.True(gradient < 0, "apo_zero must push the chosen log-prob up");
    }

    [Fact]
    public void ApoDownLowersChosenButLowersRejectedMore()
    {
        var (loss, _, _, gradient) = Compute(DpoLossType.ApoDown);
        Assert.Equal(Sigmoid(0.1) + 1 - Sigmoid(0.2), loss, 5);
        // d/dchosen: β·σ'(0.1) − β·σ'(0.2) > 0, so a descent step lowers the chosen log-prob.
        Assert.Equal(0.1 * Sigmoid(0.1) * (1 - Sigmoid(0.1)) - 0.1 * Sigmoid(0.2) * (1 - Sigmoid(0.2)), gradient, 6);
    }
}
