using System.Text;

namespace ReasonSharp.Export;

/// <summary>Reads rows [firstRow, firstRow + rowCount) of a tensor (row-major, last dimension innermost) as float32.</summary>
public delegate void TensorRowReader(long firstRow, int rowCount, Span<float> destination);

/// <summary>
/// Writes a GGUF v3 file: header, typed metadata, tensor infos, then each tensor's data at an aligned offset. Tensor
/// shapes are given in PyTorch order (outermost first) and written reversed, as ggml's ne[0] is the innermost dimension.
/// Tensor data is produced row chunk by row chunk, so memory stays bounded whatever the model size.
/// </summary>
public sealed class GgufWriter
{
    const int MaxTensorNameBytes = 63; // GGML_MAX_NAME - 1
    const long ChunkFloats = 4 << 20;

    sealed record Entry(string Key, GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8);
    sealed record TensorEntry(string Name, long[] Shape, GgmlType Type, TensorRowReader Read, long ByteSize);

    readonly List<Entry> _metadata = [];
    readonly List<TensorEntry> _tensors = [];
    readonly HashSet<string> _keys = [];
    readonly HashSet<string> _tensorNames = [];

    public int Alignment { get; }

    public GgufWriter(int alignment = Gguf.DefaultAlignment)
    {
        if (alignment <= 0 || alignment % 8 != 0) throw new ArgumentException("GGUF alignment must be a positive multiple of 8", nameof(alignment));
        Alignment = alignment;
        if (alignment != Gguf.DefaultAlignment) AddUInt32("general.alignment", (uint)alignment);
    }

    void Add(Entry entry)
    {
        if (!_keys.Add(entry.Key)) throw new InvalidOperationException($"GGUF metadata key '{entry.Key}' added twice");
        _metadata.Add(entry);
    }

    public void AddString(string key, string value) => Add(new(key, GgufValueType.String, value));
    public void AddUInt32(string key, uint value) => Add(new(key, GgufValueType.UInt32, value));
    public void AddInt32(string key, int value) => Add(new(key, GgufValueType.Int32, value));
    public void AddFloat32(string key, float value) => Add(new(key, GgufValueType.Float32, value));
    public void AddBool(string key, bool value) => Add(new(key, GgufValueType.Bool, value));
    public void AddStringArray(string key, IReadOnlyList<string> values) => Add(new(key, GgufValueType.Array, values, GgufValueType.String));
    public void AddInt32Array(string key, IReadOnlyList<int> values) => Add(new(key, GgufValueType.Array, values, GgufValueType.Int32));
    public void AddFloat32Array(string key, IReadOnlyList<float> values) => Add(new(key, GgufValueType.Array, values, GgufValueType.Float32));

    /// <param name="shape">PyTorch order, outermost first; the last dimension is the row.</param>
    public void AddTensor(string name, IReadOnlyList<long> shape, GgmlType type, TensorRowReader read)
    {
        if (Encoding.UTF8.GetByteCount(name) > MaxTensorNameBytes) throw new ArgumentException($"tensor name '{name}' is longer than {MaxTensorNameBytes} bytes");
        if (shape.Count is < 1 or > 4) throw new ArgumentException($"tensor '{name}' has {shape.Count} dimensions; GGUF holds 1 to 4");
        if (!_tensorNames.Add(name)) throw new InvalidOperationException($"GGUF tensor '{name}' added twice");
        long elements = shape.Aggregate(1L, (a, b) => a * b);
        _tensors.Add(new TensorEntry(name, shape.ToArray(), type, read, Gguf.ByteSize(type, elements, shape[^1])));
    }

    /// <summary>Writes the whole file to a seekable, writable stream positioned at its start (e.g. a new FileStream).</summary>
    public void Write(Stream stream)
    {
        if (!stream.CanSeek || !stream.CanWrite || stream.Position != 0) throw new ArgumentException("GGUF is written to a seekable, writable stream at position 0", nameof(stream));
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(Gguf.Magic);
        w.Write(Gguf.Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var entry in _metadata)
        {
            WriteString(w, entry.Key);
            w.Write((uint)entry.Type);
            WriteValue(w, entry);
        }

        long offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            for (int d = t.Shape.Length - 1; d >= 0; d--) w.Write((ulong)t.Shape[d]);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset = Gguf.Align(offset + t.ByteSize, Alignment);
        }
        w.Flush();
        Pad(stream);

        foreach (var t in _tensors)
        {
            WriteTensorData(stream, t);
            Pad(stream);
        }
        stream.Flush();
    }

    void Pad(Stream stream)
    {
        long padding = Gguf.Align(stream.Position, Alignment) - stream.Position;
        for (long i = 0; i < padding; i++) stream.WriteByte(0);
    }

    static void WriteTensorData(Stream stream, TensorEntry t)
    {
        long rowLength = t.Shape[^1];
        long rows = t.Shape.Length == 1 ? 1 : t.Shape[..^1].Aggregate(1L, (a, b) => a * b);
        int rowsPerChunk = (int)Math.Clamp(ChunkFloats / Math.Max(1, rowLength), 1, rows);
        var floats = new float[rowsPerChunk * rowLength];
        var bytes = new byte[Gguf.ByteSize(t.Type, floats.Length, rowLength)];
        long start = stream.Position;
        for (long row = 0; row < rows; row += rowsPerChunk)
        {
            int count = (int)Math.Min(rowsPerChunk, rows - row);
            var values = floats.AsSpan(0, (int)(count * rowLength));
            t.Read(row, count, values);
            var encoded = bytes.AsSpan(0, (int)Gguf.ByteSize(t.Type, values.Length, rowLength));
            GgmlQuants.Encode(t.Type, values, encoded);
            stream.Write(encoded);
        }
        if (stream.Position - start != t.ByteSize)
            throw new InvalidOperationException($"tensor '{t.Name}' wrote {stream.Position - start} bytes, expected {t.ByteSize}");
    }

    static void WriteString(BinaryWriter w, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static void WriteValue(BinaryWriter w, Entry entry)
    {
        switch (entry.Type)
        {
            case GgufValueType.String: WriteString(w, (string)entry.Value); break;
            case GgufValueType.UInt32: w.Write((uint)entry.Value); break;
            case GgufValueType.Int32: w.Write((int)entry.Value); break;
            case GgufValueType.Float32: w.Write((float)entry.Value); break;
            case GgufValueType.Bool: w.Write((bool)entry.Value ? (byte)1 : (byte)0); break;
            case GgufValueType.Array:
                w.Write((uint)entry.ElementType);
                switch (entry.Value)
                {
                    case IReadOnlyList<string> strings:
                        w.Write((ulong)strings.Count);
                        foreach (var s in strings) WriteString(w, s);
                        break;
                    case IReadOnlyList<int> ints:
                        w.Write((ulong)ints.Count);
                        foreach (var i in ints) w.Write(i);
                        break;
                    case IReadOnlyList<float> floats:
                        w.Write((ulong)floats.Count);
                        foreach (var f in floats) w.Write(f);
                        break;
                    default: throw new InvalidOperationException($"unsupported array for '{entry.Key}'");
                }
                break;
            default: throw new InvalidOperationException($"unsupported GGUF value type {entry.Type} for '{entry.Key}'");
        }
    }
}
