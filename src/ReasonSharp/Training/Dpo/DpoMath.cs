using ReasonSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Training.Dpo;

/// <summary>Per-pair losses and the implicit rewards β·(log π − log π_ref) of the chosen and rejected sides.</summary>
public sealed record DpoLossResult(Tensor Losses, Tensor ChosenRewards, Tensor RejectedRewards);

/// <summary>DPO's arithmetic, written to match TRL's DPOTrainer.dpo_loss for the loss types it supports.</summary>
public static class DpoMath
{
    /// <param name="chosen">[B] policy log-probs of the chosen completions (summed over tokens; IPO: averaged).</param>
    /// <param name="refChosen">[B] the reference's, computed the same way.</param>
    public static DpoLossResult Loss(Tensor chosen, Tensor rejected, Tensor refChosen, Tensor refRejected,
        double beta, DpoLossType lossType, double labelSmoothing = 0)
    {
        using var scope = NewDisposeScope();
        // Scalars held through each native call (see HeldScalars).
        using Scalar b = beta, minusB = -beta, keep = 1 - labelSmoothing, smooth = labelSmoothing,
            ipoTarget = 1 / (2 * beta);
        var chosenRatio = chosen - refChosen;
        var rejectedRatio = rejected - refRejected;
        var logits = chosenRatio - rejectedRatio;
        static Tensor OneMinus(Tensor x) => x.neg().Plus(HeldScalars.One);
        var losses = lossType switch
        {
            DpoLossType.Sigmoid => -nn.functional.logsigmoid(logits * b) * keep
                - nn.functional.logsigmoid(logits * minusB) * smooth,
            DpoLossType.Ipo => (logits - ipoTarget).square(),
            DpoLossType.Hinge => nn.functional.relu(OneMinus(logits * b)),
            DpoLossType.ApoZero => OneMinus((chosenRatio * b).sigmoid()).Plus((rejectedRatio * b).sigmoid()),
            DpoLossType.ApoDown => (chosenRatio * b).sigmoid().Plus(OneMinus((logits * b).sigmoid())),
            _ => throw new ArgumentOutOfRangeException(nameof(lossType), lossType, null),
        };
        Tensor chosenRewards, rejectedRewards;
        using (no_grad())
        {
            chosenRewards = chosenRatio.detach() * b;
            rejectedRewards = rejectedRatio.detach() * b;
        }
        return new DpoLossResult(losses.MoveToOuterDisposeScope(), chosenRewards.MoveToOuterDisposeScope(),
            rejectedRewards.MoveToOuterDisposeScope());
    }
}
