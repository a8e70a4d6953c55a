using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards.Steps;
using static TorchSharp.torch;

namespace ReasonSharp.Training.Prm;

/// <summary>A row as the judge reads it: its input, which of its tags are trained on, and their targets (the
/// probability of the good token: 1 or 0 for hard labels, the soft label otherwise) and hard labels.</summary>
public sealed record EncodedStepwiseRow(JudgeInput Input, int[] TrainedTags, float[] Targets, bool[] Labels,
    string Source);

/// <summary>A micro-batch of rows: their inputs, the flat index of every trained tag among the batch's tags, and the
/// targets there.</summary>
public sealed class PrmBatch : MicroBatch
{
    public required IReadOnlyList<EncodedStepwiseRow> Rows { get; init; }
    /// <summary>[N] index of each trained tag in the batch's [total tags, 2] logits.</summary>
    public required Tensor Selected { get; init; }
    /// <summary>[N] probability of the good token each trained tag is taught.</summary>
    public required Tensor Targets { get; init; }
    /// <summary>[N] the hard labels (1: good).</summary>
    public required Tensor Labels { get; init; }

    public override void Dispose()
    {
        Selected.Dispose();
        Targets.Dispose();
        Labels.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// Process-reward training as a task of the shared loop: rows shuffled each epoch (seeded),
/// per_device_train_batch_size rows per micro-batch, cross-entropy of the judge's (good, bad) logits at each trained
/// step tag against the label (<see cref="LmStepScorer.JudgeLogits"/>: one forward pass scores every step), and the
/// loss, accuracy and AUC on held-out rows at each evaluation.
/// </summary>
public sealed class PrmTask(LmStepScorer judge, IReadOnlyList<EncodedStepwiseRow> train,
    IReadOnlyList<EncodedStepwiseRow>? eval, long seed) : ITrainingTask
{
    readonly IReadOnlyList<EncodedStepwiseRow> _eval = eval ?? [];
    readonly EpochOrder _order = new(train.Count);

    public long? StepsPerEpoch => _order.StepsPerEpoch;

    public void Initialize(TrainingContext context)
    {
        if (train.Count == 0) throw new ReasonSharpException("the stepwise training set has no trainable step");
        if (!ReferenceEquals(context.Model, judge.Judge.Model))
            throw new ReasonSharpException("the PRM task's judge is not the model being trained");
        _order.Initialize(context, seed);
    }

    public TrainingStep NextStep(TrainingContext context) =>
        _order.NextStep(members => MakeBatch(members.Select(j => train[j]).ToList(), context.Device));

    public static PrmBatch MakeBatch(IReadOnlyList<EncodedStepwiseRow> rows, Device device)
    {
        var selected = new List<long>();
        var offset = 0;
        foreach (var row in rows)
        {
            selected.AddRange(row.TrainedTags.Select(t => (long)(offset + t)));
            offset += row.Input.TagPositions.Length;
        }
        return new PrmBatch
        {
            Rows = rows,
            Selected = tensor(selected.ToArray(), device: device),
            Targets = tensor(rows.SelectMany(r => r.Targets).ToArray(), device: device),
            Labels = tensor(rows.SelectMany(r => r.Labels).Select(l => l ? 1f : 0f).ToArray(), device: device),
            Weight = selected.Count,
            Tokens = rows.Sum(r => (long)r.Input.Ids.Length),
        };
    }

    /// <summary>Per trained tag: −(t·log p(good) + (1 − t)·log p(bad)), p the softmax over the two logits; with hard
    /// labels this is TRL's cross-entropy over the two classes.</summary>
    public static Tensor StepLosses(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var logProbs = logits.log_softmax(1);
        var losses = -(targets * logProbs.select(1, 0) + (HeldScalars.One - targets) * logProbs.select(1, 1));
        return losses.MoveToOuterDisposeScope();
    }

    public LossResult ComputeLoss(TrainingContext context, MicroBatch batch)
    {
        var b = (PrmBatch)batch;
        var logits = judge.JudgeLogits(b.Rows.Select(r => r.Input).ToList()).index_select(0, b.Selected);
        var loss = StepLosses(logits, b.Targets).mean();
        using var _ = no_grad();
        var accuracy = logits.select(1, 0).gt(logits.select(1, 1)).to(ScalarType.Float32).eq(b.Labels)
            .to(ScalarType.Float32).mean().item<float>();
        return new LossResult(loss, new Dictionary<string, double> { ["accuracy"] = accuracy });
    }

    /// <summary>loss, accuracy (good when p(good) > 0.5) and AUC (a good step scored above a bad one; ties half) over
    /// the held-out rows' trained steps.</summary>
    public IReadOnlyDictionary<string, double>? Evaluate(TrainingContext context)
    {
        if (_eval.Count == 0) return null;
        var scored = new List<(float Score, bool Good)>();
        double lossSum = 0;
        var model = context.Model;
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            foreach (var chunk in _eval.Chunk(Math.Max(1, context.Options.PerDeviceEvalBatchSize)))
            {
                using var scope = NewDisposeScope();
                using var batch = MakeBatch(chunk, context.Device);
                var logits = judge.JudgeLogits(chunk.Select(r => r.Input).ToList()).index_select(0, batch.Selected);
                lossSum += StepLosses(logits, batch.Targets).sum().item<float>();
                var good = logits.softmax(1).select(1, 0).cpu().data<float>().ToArray();
                scored.AddRange(good.Zip(chunk.SelectMany(r => r.Labels)));
            }
        }
        finally { model.train(wasTraining); }
        var metrics = new Dictionary<string, double>
        {
            ["loss"] = lossSum / Math.Max(1, scored.Count),
            ["accuracy"] = scored.Count(s => s.Score > 0.5 == s.Good) / (double)Math.Max(1, scored.Count),
        };
        if (StepAuc(scored) is { } auc) metrics["auc"] = auc;
        return metrics;
    }

    /// <summary>The probability that a random good step scores above a random bad one (ties count half); null without
    /// both kinds.</summary>
    public static double? StepAuc(IReadOnlyList<(float Score, bool Good)> steps)
    {
        int good = steps.Count(s => s.Good), bad = steps.Count - good;
        if (good == 0 || bad == 0) return null;
        // Rank-sum (Mann–Whitney U) with average ranks for ties.
        var sorted = steps.OrderBy(s => s.Score).ToList();
        double goodRanks = 0;
        for (int i = 0; i < sorted.Count;)
        {
            int j = i;
            while (j < sorted.Count && sorted[j].Score == sorted[i].Score) j++;
            double rank = (i + 1 + j) / 2.0;
            goodRanks += rank * sorted.Skip(i).Take(j - i).Count(s => s.Good);
            i = j;
        }
        return (goodRanks - good * (good + 1) / 2.0) / ((double)good * bad);
    }

    public JsonNode SaveState() => _order.SaveState();

    public void LoadState(JsonNode state) => _order.LoadState(state, "PRM task state");
}
