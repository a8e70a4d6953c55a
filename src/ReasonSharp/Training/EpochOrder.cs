using System.Text.Json.Nodes;

namespace ReasonSharp.Training;

/// <summary>
/// How a task walks a fixed training list: a permutation per epoch (seeded, so a function of seed and epoch; or the
/// list's own order without shuffling), per_device_train_batch_size items per micro-batch and up to
/// gradient_accumulation_steps micro-batches per step, the epoch's last step taking what is left. Its state (epoch,
/// next batch) is the task's data position in a checkpoint.
/// </summary>
public sealed class EpochOrder(int count, bool shuffle = true)
{
    int _batchSize, _accumulation;
    long _seed;
    long _epoch, _nextBatch, _orderEpoch = -1;
    int[] _order = [];

    /// <summary>Reads the batch size and accumulation of the run; <paramref name="seed"/> seeds every epoch's
    /// order.</summary>
    public void Initialize(TrainingContext context, long seed)
    {
        _batchSize = context.Options.PerDeviceTrainBatchSize;
        _accumulation = context.Options.GradientAccumulationSteps;
        _seed = seed;
    }

    long BatchesPerEpoch => _batchSize > 0 ? (count + _batchSize - 1) / _batchSize
        : throw new InvalidOperationException("EpochOrder.Initialize must be called first");

    public long StepsPerEpoch => (BatchesPerEpoch + _accumulation - 1) / _accumulation;

    /// <summary>The next step's micro-batches, each made by <paramref name="makeBatch"/> from its items' indices in
    /// the list, in order.</summary>
    public TrainingStep NextStep(Func<int[], MicroBatch> makeBatch)
    {
        if (_nextBatch >= BatchesPerEpoch) { _epoch++; _nextBatch = 0; }
        if (_orderEpoch != _epoch)
        {
            _order = shuffle ? TrainingRandom.Derive(_seed, _epoch).Permutation(count)
                : Enumerable.Range(0, count).ToArray();
            _orderEpoch = _epoch;
        }
        var batches = new List<MicroBatch>();
        for (int i = 0; i < _accumulation && _nextBatch < BatchesPerEpoch; i++, _nextBatch++)
            batches.Add(makeBatch(_order.Skip((int)(_nextBatch * _batchSize)).Take(_batchSize).ToArray()));
        return new TrainingStep(batches);
    }

    public JsonNode SaveState() => new JsonObject { ["epoch"] = _epoch, ["next_batch"] = _nextBatch };

    /// <param name="what">Names the state in errors ("DPO task state").</param>
    public void LoadState(JsonNode state, string what)
    {
        _epoch = state["epoch"]?.GetValue<long>()
            ?? throw new ReasonSharpException($"{what}: missing field 'epoch'");
        _nextBatch = state["next_batch"]?.GetValue<long>()
            ?? throw new ReasonSharpException($"{what}: missing field 'next_batch'");
    }
}
