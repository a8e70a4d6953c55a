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
    public required Tensor Advantages { get; init; }
    /// <summary>[B, C] the log-probs the generation engine sampled the completion tokens with.</summary>
    public required Tensor SampledLogProbs { get; init; }
    /// <summary>Whether the loss's ratio uses <see cref="SampledLogProbs"/> (several iterations per generation
    /// batch).</summary>
    public bool OffPolicy { get; init; }
    /// <summary>The old policy's log-probs for the ratio; null on-policy (ratio 1).</summary>
    public Tensor? OldLogProbs => OffPolicy ? SampledLogProbs : null;
    public Tensor? RefLogProbs { get; init; }
    public required int PromptLength { get; init; }
    public required double ActiveTokens { get; init; }

    public override void Dispose()
    {
        foreach (var t in new[] { InputIds, AttentionMask, PositionIds, CompletionIds, CompletionMask, Advantages, SampledLogProbs, RefLogProbs })
            t?.Dispose();
        base.Dispose();
    }
}

/// <summary>Builds GRPO batches and computes per-token log-probs of completions under a model.</summary>
public static class GrpoSequences
{
    public static GrpoBatch Build(IReadOnlyList<GrpoSample> samples, Device device, bool maskTruncated,
        bool withOldLogProbs, double weight)
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
        var reference = samples[0].RefLogProbs is not null ? new float[batch * completionLength] : null;
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
                if (reference is not null) reference[b * completionLength + t] = s.RefLogProbs![t];
            }
            if (counts) active += s.CompletionIds.Length;
        }
        return new GrpoBatch
        {
            InputIds = tensor(ids, [batch, length], device: device),
            AttentionMask = tensor(mask, [batch, length], device: device),
            PositionIds = tensor(positions, [batch, length], device: device),
            CompletionIds = tensor(completion, [batch, completionLength], device: device),
            CompletionMask = tensor(completionMask, [batch, completionLength], device: device),
            Advantages = tensor(samples.Select(s => s.Advantage).ToArray(), device: device),
            SampledLogProbs = tensor(sampled, [batch, completionLength], device: device),
            OffPolicy = withOldLogProbs,
            RefLogProbs = reference is null ? null : tensor(reference, [batch, completionLength], device: device),
            PromptLength = promptLength,
            ActiveTokens = active,
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
