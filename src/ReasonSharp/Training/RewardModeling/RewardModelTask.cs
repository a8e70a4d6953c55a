using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;
using ReasonSharp.Training.Dpo;
using static TorchSharp.torch;

namespace ReasonSharp.Training.RewardModeling;

/// <summary>A pair as the reward model reads it: each side is prompt + completion ending at the completion's last
/// token, with the row's margin (0 when it has none).</summary>
public sealed record RewardPair(int[] Chosen, int[] Rejected, double Margin, string Source);

/// <summary>What encoding did to the pairs; every pair is accounted for.</summary>
/// <param name="TooLong">Pairs with a side over max_length, dropped (TRL filters them out).</param>
/// <param name="Empty">Pairs with a side that renders no completion token, dropped.</param>
public sealed record RewardDataStats(int Pairs, int TooLong, int Empty, string? FirstDropped, long Tokens)
{
    public int Kept => Pairs - TooLong - Empty;

    public string Describe() => $"{Pairs} pairs, {Kept} kept, {TooLong} dropped over max_length, {Empty} dropped " +
        $"without completion tokens{(FirstDropped is null ? "" : $" (first: {FirstDropped})")}, {Tokens} tokens";
}

/// <summary>Encodes preference pairs for a reward model.</summary>
public static class RewardData
{
    /// <summary>Both sides rendered with <paramref name="chat"/> (<see cref="SequenceClassification.Encode"/>);
    /// pairs with a side longer than <paramref name="maxLength"/> or without completion tokens are dropped.</summary>
    public static (List<RewardPair> Pairs, RewardDataStats Stats) Encode(IReadOnlyList<PreferencePair> pairs,
        ChatFormat chat, int? maxLength)
    {
        var encoded = new List<RewardPair>(pairs.Count);
        int tooLong = 0, empty = 0;
        string? firstDropped = null;
        foreach (var pair in pairs)
        {
            var chosen = SequenceClassification.Encode(chat, pair.Prompt, pair.Chosen);
            var rejected = SequenceClassification.Encode(chat, pair.Prompt, pair.Rejected);
            bool drop = true;
            if (chosen is null || rejected is null) empty++;
            else if (maxLength is { } max && (chosen.Length > max || rejected.Length > max)) tooLong++;
            else drop = false;
            if (drop)
            {
                firstDropped ??= pair.Source;
                continue;
            }
            encoded.Add(new RewardPair(chosen!, rejected!, pair.Margin ?? 0, pair.Source));
        }
        if (encoded.Count == 0)
            throw new ReasonSharpException($"no preference pair is left to train on ({tooLong} of {pairs.Count} have " +
                $"a side over max_length {maxLength}, {empty} no completion tokens; first: {firstDropped}); raise " +
                "max_length or check the chosen/rejected columns");
        long tokens = encoded.Sum(p => (long)p.Chosen.Length + p.Rejected.Length);
        return (encoded, new RewardDataStats(pairs.Count, tooLong, empty, firstDropped, tokens));
    }
}

/// <summary>A micro-batch of pairs: chosen rows then rejected rows, right-padded into one [2B, T] forward pass, each
/// read at its last token.</summary>
public sealed class RewardPairBatch : MicroBatch
{
    /// <summary>[2B, T] token ids: rows 0..B-1 chosen, B..2B-1 rejected.</summary>
    public required Tensor InputIds { get; init; }
    /// <summary>[2B] each row's last token.</summary>
    public required Tensor LastIndex { get; init; }
    /// <summary>[B] each pair's margin, or null when every margin is 0.</summary>
    public Tensor? Margins { get; init; }
    public required int Pairs { get; init; }

    public override void Dispose()
    {
        InputIds.Dispose();
        LastIndex.Dispose();
        Margins?.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// Bradley-Terry reward modelling as a task of the shared training loop (TRL's RewardTrainer): pairs shuffled each
/// epoch (seeded), per_device_train_batch_size pairs per micro-batch, loss −log σ(r_chosen − r_rejected − margin)
/// plus center_rewards_coefficient · mean((r_chosen + r_rejected)²), and accuracy (r_chosen &gt; r_rejected), margin
/// (mean r_chosen − r_rejected) and mean_reward on training and held-out pairs.
/// </summary>
public sealed class RewardModelTask(IReadOnlyList<RewardPair> train, IReadOnlyList<RewardPair>? eval,
    RewardConfig config, long padTokenId) : ITrainingTask
{
    readonly IReadOnlyList<RewardPair> _eval = eval ?? [];
    readonly EpochOrder _order = new(train.Count);

    public long? StepsPerEpoch => _order.StepsPerEpoch;

    public void Initialize(TrainingContext context)
    {
        if (train.Count == 0) throw new ReasonSharpException("the preference training set is empty");
        if (!context.Model.Config.IsSequenceClassifier)
            throw new ReasonSharpException("reward model training needs a sequence classifier (a score head); load " +
                "the model with LanguageModel.LoadSequenceClassifier");
        _order.Initialize(context, config.Seed);
    }

    public TrainingStep NextStep(TrainingContext context) =>
        _order.NextStep(members => MakeBatch(members.Select(j => train[j]).ToList(), context.Device, padTokenId));

    public static RewardPairBatch MakeBatch(IReadOnlyList<RewardPair> pairs, Device device, long padTokenId = 0)
    {
        var rows = pairs.Select(p => p.Chosen).Concat(pairs.Select(p => p.Rejected)).ToList();
        int length = rows.Max(r => r.Length);
        var ids = new long[rows.Count * length];
        Array.Fill(ids, padTokenId);
        for (int r = 0; r < rows.Count; r++)
            for (int t = 0; t < rows[r].Length; t++) ids[r * length + t] = rows[r][t];
        bool margins = pairs.Any(p => p.Margin != 0);
        return new RewardPairBatch
        {
            InputIds = tensor(ids, [rows.Count, length], device: device),
            LastIndex = tensor(rows.Select(r => (long)r.Length - 1).ToArray(), device: device),
            Margins = margins ? tensor(pairs.Select(p => (float)p.Margin).ToArray(), device: device) : null,
            Pairs = pairs.Count,
            Weight = pairs.Count,
            Tokens = rows.Sum(r => (long)r.Length),
        };
    }

    /// <summary>The rewards [2B] of a batch's rows (chosen, then rejected).</summary>
    public static Tensor Rewards(CausalLM model, RewardPairBatch batch) =>
        model.SequenceScores(batch.InputIds, batch.LastIndex).select(1, 0);

    /// <summary>TRL's loss of the rewards, with or without margins and centring.</summary>
    public static Tensor Loss(Tensor chosen, Tensor rejected, Tensor? margins, double? centerRewardsCoefficient)
    {
        using var scope = NewDisposeScope();
        var difference = chosen.Plus(rejected.neg());
        if (margins is not null) difference = difference.Plus(margins.neg());
        var loss = nn.functional.logsigmoid(difference).mean().neg();
        if (centerRewardsCoefficient is { } coefficient)
            loss = loss.Plus(HeldScalars.With(coefficient, c => chosen.Plus(rejected).square().mean().mul(c)));
        return loss.MoveToOuterDisposeScope();
    }

    public LossResult ComputeLoss(TrainingContext context, MicroBatch batch)
    {
        var b = (RewardPairBatch)batch;
        using var scope = NewDisposeScope();
        var rewards = Rewards(context.Model, b);
        var (chosen, rejected) = (rewards[..b.Pairs], rewards[b.Pairs..]);
        var loss = Loss(chosen, rejected, b.Margins, config.CenterRewardsCoefficient);
        var metrics = Metrics(chosen.detach().cpu().data<float>().ToArray(),
            rejected.detach().cpu().data<float>().ToArray());
        return new LossResult(loss.MoveToOuterDisposeScope(), metrics);
    }

    /// <summary>accuracy, margin and mean_reward of some pairs' rewards.</summary>
    public static Dictionary<string, double> Metrics(IReadOnlyList<float> chosen, IReadOnlyList<float> rejected)
    {
        int n = chosen.Count;
        return new Dictionary<string, double>
        {
            ["accuracy"] = Enumerable.Range(0, n).Count(i => chosen[i] > rejected[i]) / (double)n,
            ["margin"] = Enumerable.Range(0, n).Average(i => (double)chosen[i] - rejected[i]),
            ["mean_reward"] = (chosen.Sum(x => (double)x) + rejected.Sum(x => (double)x)) / (2.0 * n),
        };
    }

    /// <summary>eval_loss, eval_accuracy, eval_margin and eval_mean_reward over every held-out pair.</summary>
    public IReadOnlyDictionary<string, double>? Evaluate(TrainingContext context)
    {
        if (_eval.Count == 0) return null;
        var (chosen, rejected, loss) = Score(context.Model, _eval, context.Options.PerDeviceEvalBatchSize, padTokenId,
            config.CenterRewardsCoefficient);
        var metrics = Metrics(chosen, rejected);
        metrics["loss"] = loss;
        return metrics;
    }

    /// <summary>Every pair's chosen and rejected reward and the mean loss, in eval mode without autograd.</summary>
    public static (float[] Chosen, float[] Rejected, double Loss) Score(CausalLM model, IReadOnlyList<RewardPair> pairs,
        int batchSize, long padTokenId = 0, double? centerRewardsCoefficient = null)
    {
        var chosen = new List<float>(pairs.Count);
        var rejected = new List<float>(pairs.Count);
        double lossSum = 0;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            foreach (var chunk in pairs.Chunk(Math.Max(1, batchSize)))
            {
                using var scope = NewDisposeScope();
                using var batch = MakeBatch(chunk, model.Device, padTokenId);
                var rewards = Rewards(model, batch);
                var (c, r) = (rewards[..batch.Pairs], rewards[batch.Pairs..]);
                lossSum += Loss(c, r, batch.Margins, centerRewardsCoefficient).item<float>() * chunk.Length;
                chosen.AddRange(c.cpu().data<float>().ToArray());
                rejected.AddRange(r.cpu().data<float>().ToArray());
            }
        }
        finally { model.train(wasTraining); }
        return ([.. chosen], [.. rejected], lossSum / pairs.Count);
    }

    public JsonNode SaveState() => _order.SaveState();

    public void LoadState(JsonNode state) => _order.LoadState(state, "reward model task state");
}
