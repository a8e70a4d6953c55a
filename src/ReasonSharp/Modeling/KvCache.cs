using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// Preallocated key/value cache: per layer [batch, kv_heads, capacity, head_dim]. New positions are written in place;
/// nothing is concatenated per step. Rows can be dropped (finished sequences) with <see cref="KeepRows"/>. The cache owns its
/// tensors (they are detached from any dispose scope) until it is disposed. All layers live in one allocation
/// [layers, 2, batch, kv_heads, capacity, head_dim], so that the memory goes back whole when the cache is freed (many
/// mid-sized buffers fragment the heap), and positions are only touched once written: nothing past <see cref="Length"/> is read.
/// </summary>
public sealed class KvCache : IDisposable
{
    Tensor _buffer;
    readonly Tensor[] _keys, _values;

    public int Capacity { get; }
    public int Length { get; private set; }
    public long BatchSize => _buffer.size(2);

    public KvCache(ModelConfig config, int batchSize, int capacity, Device device, ScalarType dtype)
    {
        Capacity = capacity;
        _keys = new Tensor[config.NumHiddenLayers];
        _values = new Tensor[config.NumHiddenLayers];
        _buffer = empty([config.NumHiddenLayers, 2, batchSize, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device).DetachFromDisposeScope();
        SliceLayers();
    }

    void SliceLayers()
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i]?.Dispose();
            _values[i]?.Dispose();
            _keys[i] = _buffer[i, 0].DetachFromDisposeScope();
            _values[i] = _buffer[i, 1].DetachFromDisposeScope();
        }
    }

    /// <summary>Writes this step's keys/values for a layer at [Length, Length+T) and returns views of everything cached so far.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        long steps = keys.size(2);
        if (Length + steps > Capacity)
            throw new InvalidOperationException($"KV cache capacity {Capacity} exceeded (length {Length} + {steps})");
        _keys[layer].narrow(2, Length, steps).copy_(keys);
        _values[layer].narrow(2, Length, steps).copy_(values);
        return (_keys[layer].narrow(2, 0, Length + steps), _values[layer].narrow(2, 0, Length + steps));
    }

    /// <summary>A layer's whole key and value buffers [batch, kv_heads, capacity, head_dim], for kernels that read them in place.</summary>
    internal (Tensor Keys, Tensor Values) Buffers(int layer) => (_keys[layer], _values[layer]);

    /// <summary>Called by the model once every layer has appended this step's positions.</summary>
    public void Advance(int steps) => Length += steps;

    /// <summary>Keeps only the given batch rows (in that order), freeing the rest.</summary>
    public void KeepRows(Tensor rowIndices)
    {
        var kept = _buffer.narrow(4, 0, Length).index_select(2, rowIndices);
        var resized = empty([.. _buffer.shape[..2], rowIndices.size(0), .. _buffer.shape[3..]], _buffer.dtype, _buffer.device).DetachFromDisposeScope();
        resized.narrow(4, 0, Length).copy_(kept);
        kept.Dispose();
        _buffer.Dispose();
        _buffer = resized;
        SliceLayers();
    }

    /// <summary>
    /// A new cache of <paramref name="rows"/>, each the newest <c>Count</c> positions of a row of a source cache, placed
    /// right-aligned at [length − Count, length) (continuous batching: sequences join and leave between decode steps).
    /// The positions before a row are zeros: masked, and finite, so that their zero attention weight stays zero.
    /// </summary>
    public static KvCache Gather(ModelConfig config, IReadOnlyList<(KvCache Source, int Row, int Count)> rows, int length,
        int capacity, Device device, ScalarType dtype)
    {
        if (rows.Count == 0) throw new ArgumentException("a cache needs at least one row", nameof(rows));
        if (length > capacity) throw new ArgumentException($"length {length} exceeds capacity {capacity}", nameof(length));
        var cache = new KvCache(config, rows.Count, capacity, device, dtype);
        using var scope = NewDisposeScope();
        cache._buffer.narrow(4, 0, length).zero_();
        for (int r = 0; r < rows.Count; r++)
        {
            var (source, row, count) = rows[r];
            if (count > source.Length || count > length || row >= source.BatchSize)
                throw new ArgumentException($"row {r}: {count} positions of source row {row} do not fit (source length "
                    + $"{source.Length}, new length {length})", nameof(rows));
            var from = source._buffer.narrow(2, row, 1).narrow(4, source.Length - count, count);
            cache._buffer.narrow(2, r, 1).narrow(4, length - count, count).copy_(from);
        }
        cache.Length = length;
        return cache;
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t.Dispose();
        _buffer.Dispose();
    }
}
