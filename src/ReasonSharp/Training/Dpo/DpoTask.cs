using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Training.Dpo;

/// <summary>
/// A micro-batch of pairs: the chosen sequences then the rejected ones, right-padded into one [2B, T] forward pass
/// (TRL's concatenated forward), with the completion tokens' positions and the reference log-probs.
/// </summary>
public sealed class DpoBatch : MicroBatch
{
    /// <summary>[2B, T] token ids: rows 0..B-1 chosen, B..2B-1 rejected.</summary>
    public required Tensor InputIds { get; init; }
    /// <summary>[N] flat index into the [2B, T-1] predicting positions of each completion token.</summary>
    public required Tensor TargetPositions { get; init; }
    /// <summary>[N] the completion tokens.</summary>
    public required Tensor TargetIds { get; init; }
    /// <summary>[N] the row each completion token belongs to.</summary>
    public required Tensor TargetRows { get; init; }
    public required int Pairs { get; init; }
    /// <summary>[B] reference log-probs of the chosen and rejected sides (null while computing them).</summary>
    public Tensor? RefChosen { get; init; }
    public Tensor? RefRejected { get; init; }

    public override void Dispose()
    {
        foreach (var t in new[] { InputIds, TargetPositions, TargetIds, TargetRows, RefChosen, RefRejected })
            t?.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// DPO as a task of the shared training loop: pairs shuffled each epoch (seeded), per_device_train_batch_size pairs per
/// micro-batch, the loss of <see cref="DpoMath"/> against the reference log-probs, TRL's reward and log-prob metrics,
/// and the same metrics on held-out pairs at each evaluation.
/// </summary>
public sealed class DpoTask(IReadOnlyList<EncodedPair> train, IReadOnlyList<EncodedPair>? eval, DpoConfig config,
    long padTokenId) : ITrainingTask, IDisposable
{
    readonly IReadOnlyList<EncodedPair> _eval = eval ?? [];
    CausalLM? _reference;
    (float Chosen, float Rejected)[]? _trainReferences, _evalReferences;
    readonly EpochOrder _order = new(train.Count);

    /// <summary>The frozen copy used as reference (null with LoRA, whose reference is the base with adapters off, and
    /// with precompute_ref_log_probs).</summary>
    public CausalLM? ReferenceModel => _reference;
    /// <summary>The reference log-probs of the training pairs, when precomputed.</summary>
    public IReadOnlyList<(float Chosen, float Rejected)>? PrecomputedReferences => _trainReferences;

    public long? StepsPerEpoch => _order.StepsPerEpoch;

    public void Initialize(TrainingContext context)
    {
        if (train.Count == 0) throw new ReasonSharpException("the preference training set is empty");
        _order.Initialize(context, config.Seed);
        if (config.PrecomputeRefLogProbs)
        {
            _trainReferences = References(context, train);
            _evalReferences = References(context, _eval);
        }
        else if (context.Adapters is null) _reference ??= FrozenModel.Copy(context.Model);
    }

    public TrainingStep NextStep(TrainingContext context) => _order.NextStep(members =>
    {
        var pairs = members.Select(j => train[j]).ToList();
        var references = _trainReferences is { } all ? members.Select(j => all[j]).ToArray()
            : References(context, pairs);
        return MakeBatch(pairs, references, context.Device, padTokenId);
    });

    public static DpoBatch MakeBatch(IReadOnlyList<EncodedPair> pairs, (float Chosen, float Rejected)[]? references,
        Device device, long padTokenId = 0)
    {
        var rows = pairs.Select(p => p.Chosen).Concat(pairs.Select(p => p.Rejected)).ToList();
        int length = rows.Max(s => s.InputIds.Length);
        var ids = new long[rows.Count * length];
        Array.Fill(ids, padTokenId);
        var positions = new List<long>();
        var targets = new List<long>();
        var targetRows = new List<long>();
        long tokens = 0;
        for (int r = 0; r < rows.Count; r++)
        {
            var s = rows[r];
            Array.Copy(s.InputIds, 0, ids, r * length, s.InputIds.Length);
            for (int t = 1; t < s.InputIds.Length; t++)
            {
                if (!s.LossMask![t]) continue;
                positions.Add((long)r * (length - 1) + t - 1);
                targets.Add(s.InputIds[t]);
                targetRows.Add(r);
            }
            tokens += s.InputIds.Length;
        }
        return new DpoBatch
        {
            InputIds = tensor(ids, [rows.Count, length], device: device),
            TargetPositions = tensor(positions.ToArray(), device: device),
            TargetIds = tensor(targets.ToArray(), device: device),
            TargetRows = tensor(targetRows.ToArray(), device: device),
            Pairs = pairs.Count,
            RefChosen = references is null ? null : tensor(references.Select(x => x.Chosen).ToArray(), device: device),
            RefRejected =
                references is null ? null : tensor(references.Select(x => x.Rejected).ToArray(), device: device),
            Weight = pairs.Count,
            Tokens = tokens,
        };
    }

    /// <summary>
    /// Each row's completion log-prob under <paramref name="model"/> ([2B], summed over its tokens, or averaged for
    /// IPO as TRL does), and the chosen rows' token-mean negative log-likelihood (for rpo_alpha).
    /// </summary>
    public static (Tensor LogProbs, Tensor ChosenNll) SequenceLogProbs(CausalLM model, DpoBatch batch, bool average)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Model.Forward(batch.InputIds);
        long width = hidden.shape[2];
        var selected = hidden[.., ..^1].reshape(-1, width).index_select(0, batch.TargetPositions);
        var tokenLogProbs = model.Logits(selected).log_softmax(-1).gather(-1, batch.TargetIds.unsqueeze(-1))
            .squeeze(-1);
        long rows = batch.InputIds.shape[0];
        var sums = zeros(rows, dtype: tokenLogProbs.dtype, device: tokenLogProbs.device)
            .index_add(0, batch.TargetRows, tokenLogProbs, HeldScalars.One);
        var counts = zeros(rows, dtype: tokenLogProbs.dtype, device: tokenLogProbs.device)
            .index_add(0, batch.TargetRows, ones_like(tokenLogProbs), HeldScalars.One);
        var chosenNll = -sums[..batch.Pairs].sum() / counts[..batch.Pairs].sum().clamp_min(HeldScalars.One);
        var logProbs = average ? sums / counts.clamp_min(HeldScalars.One) : sums;
        return (logProbs.MoveToOuterDisposeScope(), chosenNll.MoveToOuterDisposeScope());
    }

    bool Average => config.LossType == DpoLossType.Ipo;

    /// <summary>The reference's log-probs of each pair: the frozen copy, or the model with its adapters off (before
    /// training, when precomputed).</summary>
    (float Chosen, float Rejected)[] References(TrainingContext context, IReadOnlyList<EncodedPair> pairs)
    {
        var result = new List<(float, float)>(pairs.Count);
        using var _ = no_grad();
        using var adaptersOff = context.Adapters?.Disable();
        var model = _reference ?? context.Model;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            foreach (var chunk in pairs.Chunk(Math.Max(1, context.Options.PerDeviceTrainBatchSize)))
            {
                using var scope = NewDisposeScope();
                using var batch = MakeBatch(chunk, null, context.Device, padTokenId);
                var (logProbs, _) = SequenceLogProbs(model, batch, Average);
                var values = logProbs.cpu().data<float>().ToArray();
                for (int i = 0; i < chunk.Length; i++) result.Add((values[i], values[chunk.Length + i]));
            }
        }
        finally { model.train(wasTraining); }
        return [.. result];
    }

    public LossResult ComputeLoss(TrainingContext context, MicroBatch batch)
    {
        var b = (DpoBatch)batch;
        var (logProbs, chosenNll) = SequenceLogProbs(context.Model, b, Average);
        var (loss, metrics) = PairLoss(logProbs, chosenNll, b);
        return new LossResult(loss, metrics);
    }

    (Tensor Loss, Dictionary<string, double> Metrics) PairLoss(Tensor logProbs, Tensor chosenNll, DpoBatch b)
    {
        var chosen = logProbs[..b.Pairs];
        var rejected = logProbs[b.Pairs..];
        var result = DpoMath.Loss(chosen, rejected, b.RefChosen!, b.RefRejected!, config.Beta, config.LossType,
            config.LabelSmoothing);
        var loss = result.Losses.mean();
        if (config.RpoAlpha is { } alpha) loss = loss.Plus(HeldScalars.With(alpha, a => chosenNll * a));
        using var _ = no_grad();
        var metrics = new Dictionary<string, double>
        {
            ["rewards/chosen"] = result.ChosenRewards.mean().item<float>(),
            ["rewards/rejected"] = result.RejectedRewards.mean().item<float>(),
            ["rewards/accuracies"] = result.ChosenRewards.gt(result.RejectedRewards).to(ScalarType.Float32).mean()
                .item<float>(),
            ["rewards/margins"] = (result.ChosenRewards - result.RejectedRewards).mean().item<float>(),
            ["logps/chosen"] = chosen.detach().mean().item<float>(),
            ["logps/rejected"] = rejected.detach().mean().item<float>(),
        };
        if (config.RpoAlpha is not null) metrics["nll_loss"] = chosenNll.item<float>();
        return (loss, metrics);
    }

    /// <summary>eval_loss and the reward and log-prob metrics over the held-out pairs.</summary>
    public IReadOnlyDictionary<string, double>? Evaluate(TrainingContext context)
    {
        if (_eval.Count == 0) return null;
        // The reference is frozen, so the held-out pairs' log-probs are computed once.
        var references = _evalReferences ??= References(context, _eval);
        var sums = new Dictionary<string, double>();
        using var _ = no_grad();
        int offset = 0;
        foreach (var chunk in _eval.Chunk(Math.Max(1, context.Options.PerDeviceEvalBatchSize)))
        {
            using var scope = NewDisposeScope();
            using var batch = MakeBatch(chunk, references[offset..(offset + chunk.Length)], context.Device,
                padTokenId);
            offset += chunk.Length;
            var (logProbs, chosenNll) = SequenceLogProbs(context.Model, batch, Average);
            var (loss, metrics) = PairLoss(logProbs, chosenNll, batch);
            metrics["loss"] = loss.item<float>();
            foreach (var (name, value) in metrics) sums[name] = sums.GetValueOrDefault(name) + value * chunk.Length;
        }
        return sums.ToDictionary(kv => kv.Key, kv => kv.Value / _eval.Count);
    }

    /// <summary>Frees the frozen reference copy.</summary>
    public void Dispose() => _reference?.Dispose();

    public JsonNode SaveState() => _order.SaveState();

    public void LoadState(JsonNode state) => _order.LoadState(state, "DPO task state");
}
