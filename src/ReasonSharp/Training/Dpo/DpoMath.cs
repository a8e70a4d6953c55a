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
        var chosenRatio = chosen - refChosen;
        var rejectedRatio = rejected - refRejected;
        var logits = chosenRatio - rejectedRatio;
        var losses = lossType switch
        {
            DpoLossType.Sigmoid => -nn.functional.logsigmoid(logits * beta) * (1 - labelSmoothing)
                - nn.functional.logsigmoid(logits * -beta) * labelSmoothing,
            DpoLossType.Ipo => (logits - 1 / (2 * beta)).square(),
            DpoLossType.Hinge => nn.functional.relu(1 - logits * beta),
            DpoLossType.ApoZero => 1 - (chosenRatio * beta).sigmoid() + (rejectedRatio * beta).sigmoid(),
            DpoLossType.ApoDown => (chosenRatio * beta).sigmoid() + 1 - (logits * beta).sigmoid(),
            _ => throw new ArgumentOutOfRangeException(nameof(lossType), lossType, null),
        };
        Tensor chosenRewards, rejectedRewards;
        using (no_grad())
        {
            chosenRewards = chosenRatio.detach() * beta;
            rejectedRewards = rejectedRatio.detach() * beta;
        }
        return new DpoLossResult(losses.MoveToOuterDisposeScope(), chosenRewards.MoveToOuterDisposeScope(),
            rejectedRewards.MoveToOuterDisposeScope());
    }
}
