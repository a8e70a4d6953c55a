using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Training;

/// <summary>A token sequence to train on. <paramref name="LossMask"/>[i] says whether token i is a target (predicted
/// from tokens before it); null means every token.</summary>
public sealed record TokenSequence(long[] InputIds, bool[]? LossMask = null)
{
    /// <summary>
    /// For a row packed from several sequences: their lengths, in order, summing to the row's length (null: one
    /// sequence).
    /// Each packed sequence gets position ids from 0 and its own sequence id, so attention never crosses them, and its
    /// first token is never a target (nothing of its own precedes it).
    /// </summary>
    public int[]? PackedLengths { get; init; }
}

/// <summary>Next-token cross-entropy, computing logits only at the positions that have a label.</summary>
public static class LanguageModelLoss
{
    public const long IgnoreIndex = -100;

    /// <summary>Sum of the cross-entropy over labelled positions and their count (and correct top-1
    /// predictions).</summary>
    /// <param name="labels">[B, T] aligned with the inputs: labels[b, t] is the target of position t (IgnoreIndex where
    /// none); shifted here.</param>
    public static (Tensor Sum, long Count, long Correct) NextTokenCrossEntropy(CausalLM model, Tensor inputIds,
        Tensor labels,
        Tensor? positionIds = null, Tensor? attentionMask = null, Tensor? sequenceIds = null)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Model.Forward(inputIds, positionIds, attentionMask, sequenceIds);
        long width = hidden.shape[2];
        var targets = labels[.., 1..].reshape(-1);
        var rows = targets.ne(IgnoreIndex).nonzero().view(-1);
        long count = rows.shape[0];
        if (count == 0) return (hidden.sum().mul(0).MoveToOuterDisposeScope(), 0, 0);
        var selected = hidden[.., ..^1].reshape(-1, width).index_select(0, rows);
        var logits = model.Logits(selected);
        var chosen = targets.index_select(0, rows);
        var sum = nn.functional.cross_entropy(logits, chosen, reduction: nn.Reduction.Sum);
        long correct;
        using (no_grad()) correct = logits.argmax(-1).eq(chosen).sum().item<long>();
        return (sum.MoveToOuterDisposeScope(), count, correct);
    }
}

/// <summary>A right-padded micro-batch of token ids and their labels (IgnoreIndex where no loss).</summary>
public sealed class TokenBatch : MicroBatch
{
    /// <summary>[B, T] token ids.</summary>
    public required Tensor InputIds { get; init; }
    /// <summary>[B, T] targets aligned with the inputs (shifted by the loss), IgnoreIndex for padding and masked
    /// tokens.</summary>
    public required Tensor Labels { get; init; }
    /// <summary>[B, T] positions restarting at 0 for each packed sequence; null when no row is packed.</summary>
    public Tensor? PositionIds { get; init; }
    /// <summary>[B, T] packed-sequence ids (padding has its own); null when no row is packed.</summary>
    public Tensor? SequenceIds { get; init; }

    public override void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        PositionIds?.Dispose();
        SequenceIds?.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// Causal language modelling on a fixed list of token sequences: shuffled each epoch (seeded, so the order is a
/// function of seed and epoch), right-padded micro-batches of per_device_train_batch_size, token-mean loss over the
/// targets.
/// The SFT trainer builds its sequences (chat template, assistant mask, truncation, packing) and hands them to this
/// task;
/// batches with packed rows carry position ids and sequence ids (see <see cref="TokenSequence.PackedLengths"/>).
/// </summary>
public sealed class LanguageModelingTask(IReadOnlyList<TokenSequence> train, IReadOnlyList<TokenSequence>? eval = null,
    long padTokenId = 0, bool shuffle = true)
    : ITrainingTask
{
    readonly EpochOrder _order = new(train.Count, shuffle);

    public long? StepsPerEpoch => _order.StepsPerEpoch;

    public void Initialize(TrainingContext context)
    {
        if (train.Count == 0) throw new ReasonSharpException("the training set is empty");
        foreach (var (sequence, index) in train.Concat(eval ?? []).Select((s, i) => (s, i)))
        {
            if (sequence.InputIds.Length < 2) throw new ReasonSharpException($"sequence {index} has " +
                $"{sequence.InputIds.Length} tokens; at least 2 are needed to predict one");
            if (sequence.LossMask is { } mask && mask.Length != sequence.InputIds.Length)
                throw new ReasonSharpException($"sequence {index}: loss mask has {mask.Length} entries for " +
                    $"{sequence.InputIds.Length} tokens");
            if (sequence.PackedLengths is { } lengths
                && (lengths.Any(l => l < 1) || lengths.Sum() != sequence.InputIds.Length))
                throw new ReasonSharpException($"sequence {index}: packed lengths [{string.Join(", ", lengths)}] " +
                    $"must be positive and sum to its {sequence.InputIds.Length} tokens");
        }
        _order.Initialize(context, context.Options.Seed);
    }

    public TrainingStep NextStep(TrainingContext context) =>
        _order.NextStep(members => MakeBatch(members.Select(j => train[j]).ToList(), context.Device));

    TokenBatch MakeBatch(IReadOnlyList<TokenSequence> sequences, Device device)
    {
        int length = sequences.Max(s => s.InputIds.Length);
        bool packed = sequences.Any(s => s.PackedLengths is not null);
        var ids = new long[sequences.Count * length];
        var labels = new long[sequences.Count * length];
        var positions = packed ? new long[sequences.Count * length] : null;
        var sequenceIds = packed ? new long[sequences.Count * length] : null;
        long targets = 0, tokens = 0;
        for (int b = 0; b < sequences.Count; b++)
        {
            var s = sequences[b];
            var starts = SequenceStarts(s);
            int segment = -1, segmentStart = 0;
            for (int t = 0; t < length; t++)
            {
                int i = b * length + t;
                bool real = t < s.InputIds.Length;
                if (real && segment + 1 < starts.Length && starts[segment + 1] == t) segmentStart = starts[++segment];
                ids[i] = real ? s.InputIds[t] : padTokenId;
                bool target = real && t > segmentStart && (s.LossMask?[t] ?? true);
                labels[i] = target ? s.InputIds[t] : LanguageModelLoss.IgnoreIndex;
                if (target) targets++;
                if (packed)
                {
                    positions![i] = real ? t - segmentStart : t;
                    sequenceIds![i] = real ? segment : starts.Length;  // padding: an id of its own
                }
            }
            tokens += s.InputIds.Length;
        }
        return new TokenBatch
        {
            InputIds = tensor(ids, [sequences.Count, length], device: device),
            Labels = tensor(labels, [sequences.Count, length], device: device),
            PositionIds = positions is null ? null : tensor(positions, [sequences.Count, length], device: device),
            SequenceIds = sequenceIds is null ? null : tensor(sequenceIds, [sequences.Count, length], device: device),
            Weight = targets,
            Tokens = tokens,
        };
    }

    /// <summary>Start offsets of the sequences packed into a row ([0] when it is one sequence).</summary>
    static int[] SequenceStarts(TokenSequence sequence)
    {
        if (sequence.PackedLengths is not { } lengths) return [0];
        var starts = new int[lengths.Length];
        for (int k = 1; k < lengths.Length; k++) starts[k] = starts[k - 1] + lengths[k - 1];
        return starts;
    }

    static (Tensor Sum, long Count, long Correct) Loss(CausalLM model, TokenBatch batch) =>
        LanguageModelLoss.NextTokenCrossEntropy(model, batch.InputIds, batch.Labels, batch.PositionIds,
            sequenceIds: batch.SequenceIds);

    public LossResult ComputeLoss(TrainingContext context, MicroBatch batch)
    {
        var b = (TokenBatch)batch;
        var (sum, count, correct) = Loss(context.Model, b);
        var metrics =
            new Dictionary<string, double> { ["mean_token_accuracy"] = count == 0 ? 0 : (double)correct / count };
        return new LossResult(sum.div_(Math.Max(1, count)), metrics);
    }

    /// <summary>eval_loss (token mean) and eval_mean_token_accuracy over the held-out sequences.</summary>
    public IReadOnlyDictionary<string, double>? Evaluate(TrainingContext context)
    {
        if (eval is null || eval.Count == 0) return null;
        double sum = 0;
        long count = 0, correct = 0;
        using var _ = no_grad();
        foreach (var chunk in eval.Chunk(context.Options.PerDeviceEvalBatchSize))
        {
            using var batch = MakeBatch(chunk, context.Device);
            var (s, c, k) = Loss(context.Model, batch);
            using (s) sum += s.item<float>();
            count += c;
            correct += k;
        }
        return new Dictionary<string, double> { ["loss"] = sum / Math.Max(1, count), ["mean_token_accuracy"] = (double)correct / Math.Max(1, count) };
    }

    public JsonNode SaveState() => _order.SaveState();

    public void LoadState(JsonNode state) => _order.LoadState(state, "task state");
}
