using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Training.Grpo;

/// <summary>One completion to learn from: its prompt and completion ids, advantage, and the log-probs it was sampled
/// with.</summary>
public sealed record GrpoSample(int[] PromptIds, int[] CompletionIds, float Advantage, float[] OldLogProbs,
    bool Truncated)
{
    /// <summary>Reference-model log-probs of the completion tokens (beta ≠ 0).</summary>
    public float[]? RefLogProbs { get; set; }
    /// <summary>The trainer's log-probs of the completion tokens when it was sampled (engine importance
    /// sampling correction).</summary>
    public float[]? TrainerLogProbs { get; set; }
    /// <summary>One advantage per token (reinforce_plus_plus with β·KL in the reward); null: <see cref="Advantage"/>
    /// at every token.</summary>
    public float[]? TokenAdvantages { get; set; }
    /// <summary>Engine importance weight per token (engine importance sampling correction).</summary>
    public float[]? ImportanceWeights { get; set; }
}

/// <summary>A micro-batch of prompt+completion sequences: prompts left-padded, completions right-padded.</summary>
public sealed class GrpoBatch : MicroBatch
{
    public required Tensor InputIds { get; init; }
    public required Tensor AttentionMask { get; init; }
    public required Tensor PositionIds { get; init; }
    /// <summary>[B, C] the completion ids (0 where padded).</summary>
    public required Tensor CompletionIds { get; init; }
    /// <summary>[B, C] 1 for completion tokens that count in the loss.</summary>
    public required Tensor CompletionMask { get; init; }
    /// <summary>[B] one advantage per completion, or [B, C] one per token.</summary>
    public required Tensor Advantages { get; init; }
    /// <summary>[B, C] the log-probs the generation engine sampled the completion tokens with.</summary>
    public required Tensor SampledLogProbs { get; init; }
    /// <summary>[B, C] the trainer's log-probs at generation time, when computed (engine importance
    /// sampling).</summary>
    public Tensor? TrainerLogProbs { get; init; }
    /// <summary>[B, C] engine importance weights, multiplied into the policy term.</summary>
    public Tensor? ImportanceWeights { get; init; }
    /// <summary>Whether the loss's ratio uses stored old log-probs (the policy may have changed since
    /// sampling).</summary>
    public bool OffPolicy { get; init; }
    /// <summary>Every completion of the step was sampled in this step, by the policy being trained.</summary>
    public bool FreshPolicy { get; init; } = true;
    /// <summary>The old policy's log-probs for the ratio: the trainer's when computed, else the engine's; null
    /// on-policy (ratio 1).</summary>
    public Tensor? OldLogProbs => OffPolicy ? TrainerLogProbs ?? SampledLogProbs : null;
    public Tensor? RefLogProbs { get; init; }
    public required int PromptLength { get; init; }
    /// <summary>dapo's normaliser: the micro-batch's share of its generation batch's active tokens (see
    /// GrpoTask).</summary>
    public required double ActiveTokens { get; init; }

    public override void Dispose()
    {
        foreach (var t in new[]
                 {
                     InputIds, AttentionMask, PositionIds, CompletionIds, CompletionMask, Advantages, SampledLogProbs,
                     RefLogProbs, TrainerLogProbs, ImportanceWeights,
                 })
            t?.Dispose();
        base.Dispose();
    }
}

/// <summary>Builds GRPO batches and computes per-token log-probs of completions under a model.</summary>
public static class GrpoSequences
{
    /// <param name="lossNormaliser">dapo's normaliser for this micro-batch (null: its active tokens).</param>
    /// <param name="freshPolicy">see <see cref="GrpoBatch.FreshPolicy"/>.</param>
    public static GrpoBatch Build(IReadOnlyList<GrpoSample> samples, Device device, bool maskTruncated,
        bool withOldLogProbs, double weight, double? lossNormaliser = null, bool freshPolicy = true)
    {
        int batch = samples.Count;
        int promptLength = samples.Max(s => s.PromptIds.Length);
        int completionLength = Math.Max(1, samples.Max(s => s.CompletionIds.Length));
        int length = promptLength + completionLength;
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        var positions = new long[batch * length];
        var completion = new long[batch * completionLength];
        var completionMask = new float[batch * completionLength];
        var sampled = new float[batch * completionLength];
        float[]? Optional(Func<GrpoSample, float[]?> field) =>
            samples.Any(s => field(s) is not null) ? new float[batch * completionLength] : null;
        var reference = Optional(s => s.RefLogProbs);
        var trainer = Optional(s => s.TrainerLogProbs);
        var weights = Optional(s => s.ImportanceWeights);
        var tokenAdvantages = Optional(s => s.TokenAdvantages);
        double active = 0;
        for (int b = 0; b < batch; b++)
        {
            var s = samples[b];
            int pad = promptLength - s.PromptIds.Length;
            long position = 0;
            for (int t = 0; t < s.PromptIds.Length; t++)
            {
                ids[b * length + pad + t] = s.PromptIds[t];
                mask[b * length + pad + t] = 1;
                positions[b * length + pad + t] = position++;
            }
            bool counts = !(maskTruncated && s.Truncated);
            for (int t = 0; t < s.CompletionIds.Length; t++)
            {
                ids[b * length + promptLength + t] = s.CompletionIds[t];
                mask[b * length + promptLength + t] = 1;
                positions[b * length + promptLength + t] = position++;
                completion[b * completionLength + t] = s.CompletionIds[t];
                completionMask[b * completionLength + t] = counts ? 1 : 0;
                sampled[b * completionLength + t] = s.OldLogProbs[t];
                int at = b * completionLength + t;
                if (reference is not null) reference[at] = s.RefLogProbs![t];
                if (trainer is not null) trainer[at] = s.TrainerLogProbs![t];
                if (weights is not null) weights[at] = s.ImportanceWeights![t];
                if (tokenAdvantages is not null) tokenAdvantages[at] = s.TokenAdvantages?[t] ?? s.Advantage;
            }
            if (counts) active += s.CompletionIds.Length;
        }
        Tensor? Tensor2D(float[]? values) =>
            values is null ? null : tensor(values, [batch, completionLength], device: device);
        return new GrpoBatch
        {
            InputIds = tensor(ids, [batch, length], device: device),
            AttentionMask = tensor(mask, [batch, length], device: device),
            PositionIds = tensor(positions, [batch, length], device: device),
            CompletionIds = tensor(completion, [batch, completionLength], device: device),
            CompletionMask = tensor(completionMask, [batch, completionLength], device: device),
            Advantages = Tensor2D(tokenAdvantages)
                ?? tensor(samples.Select(s => s.Advantage).ToArray(), device: device),
            SampledLogProbs = tensor(sampled, [batch, completionLength], device: device),
            OffPolicy = withOldLogProbs,
            FreshPolicy = freshPolicy,
            RefLogProbs = Tensor2D(reference),
            TrainerLogProbs = Tensor2D(trainer),
            ImportanceWeights = Tensor2D(weights),
            PromptLength = promptLength,
            ActiveTokens = lossNormaliser ?? active,
            Weight = weight,
            Tokens = samples.Sum(s => s.PromptIds.Length + s.CompletionIds.Length),
        };
    }

    /// <summary>
    /// log_softmax(logits / T) at each completion token, [B, C], and optionally the per-token entropy of that
    /// distribution.
    /// Logits are computed only at the positions that predict completion tokens.
    /// </summary>
    public static (Tensor LogProbs, Tensor? Entropy) LogProbs(CausalLM model, GrpoBatch batch, double temperature,
        bool entropy)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Model.Forward(batch.InputIds, batch.PositionIds, batch.AttentionMask);
        long completionLength = batch.CompletionIds.shape[1];
        var logits = model.Logits(hidden.narrow(1, batch.PromptLength - 1, completionLength)) / temperature;
        var logProbs = logits.log_softmax(-1);
        var chosen = logProbs.gather(-1, batch.CompletionIds.unsqueeze(-1)).squeeze(-1);
        Tensor? entropyValues = null;
        if (entropy)
            using (no_grad())
                entropyValues = -(logProbs.exp() * logProbs).sum(-1);
        return (chosen.MoveToOuterDisposeScope(), entropyValues?.MoveToOuterDisposeScope());
    }
}
