using System.Runtime.InteropServices;
using System.Text;

namespace ReasonSharp.Export;

/// <summary>A tensor's entry in a GGUF file. <see cref="Shape"/> is in PyTorch order (outermost first), the reverse of ggml's ne.</summary>
public sealed record GgufTensorInfo(string Name, long[] Shape, GgmlType Type, long Offset)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public long ByteSize => Gguf.ByteSize(Type, ElementCount, Shape[^1]);
}

/// <summary>
/// Reads a GGUF v3 file's metadata and tensor table, and a tensor's values (decoded to float32). Used to check exports;
/// metadata arrays come back as string[], int[], uint[] or float[], scalars as their .NET type.
/// </summary>
public sealed class GgufReader
{
    public string Path { get; }
    public uint Version { get; }
    public IReadOnlyDictionary<string, object> Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public long DataStart { get; }

    GgufReader(string path, uint version, Dictionary<string, object> metadata, List<GgufTensorInfo> tensors, long dataStart)
        => (Path, Version, Metadata, Tensors, DataStart) = (path, version, metadata, tensors, dataStart);

    public static GgufReader Open(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: GGUF file not found");
        using var stream = File.OpenRead(path);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        try
        {
            if (r.ReadUInt32() != Gguf.Magic) throw new ReasonSharpException($"{path}: not a GGUF file (bad magic)");
            uint version = r.ReadUInt32();
            if (version != Gguf.Version) throw new ReasonSharpException($"{path}: GGUF version {version}; only version {Gguf.Version} is read");
            long tensorCount = checked((long)r.ReadUInt64()), kvCount = checked((long)r.ReadUInt64());
            var metadata = new Dictionary<string, object>();
            for (long i = 0; i < kvCount; i++)
            {
                var key = ReadString(r);
                metadata[key] = ReadValue(r, (GgufValueType)r.ReadUInt32(), path, key);
            }
            var tensors = new List<GgufTensorInfo>();
            for (long i = 0; i < tensorCount; i++)
            {
                var name = ReadString(r);
                int dims = (int)r.ReadUInt32();
                var ne = new long[dims];
                for (int d = 0; d < dims; d++) ne[d] = checked((long)r.ReadUInt64());
                tensors.Add(new GgufTensorInfo(name, ne.Reverse().ToArray(), (GgmlType)r.ReadUInt32(), checked((long)r.ReadUInt64())));
            }
            int alignment = metadata.TryGetValue("general.alignment", out var a) ? (int)(uint)a : Gguf.DefaultAlignment;
            return new GgufReader(path, version, metadata, tensors, Gguf.Align(stream.Position, alignment));
        }
        catch (EndOfStreamException e) { throw new ReasonSharpException($"{path}: truncated GGUF file", e); }
    }

    public GgufTensorInfo Tensor(string name) =>
        Tensors.FirstOrDefault(t => t.Name == name) ?? throw new ReasonSharpException($"{Path}: no tensor named '{name}'");

    /// <summary>The tensor's values in row-major order, decoded from F32, F16 or Q8_0.</summary>
    public float[] ReadFloats(string name)
    {
        var info = Tensor(name);
        var bytes = new byte[info.ByteSize];
        using (var stream = File.OpenRead(Path))
        {
            stream.Position = DataStart + info.Offset;
            stream.ReadExactly(bytes);
        }
        var values = new float[info.ElementCount];
        switch (info.Type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values); break;
            case GgmlType.F16:
                var halves = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < values.Length; i++) values[i] = (float)halves[i];
                break;
            case GgmlType.Q8_0: GgmlQuants.DequantizeQ8_0(bytes, values); break;
            default: throw new ReasonSharpException($"{Path}: tensor '{name}' has type {info.Type}, which this reader does not decode");
        }
        return values;
    }

    static string ReadString(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes(checked((int)r.ReadUInt64())));

    static object ReadValue(BinaryReader r, GgufValueType type, string path, string key) => type switch
    {
        GgufValueType.UInt8 => r.ReadByte(),
        GgufValueType.Int8 => r.ReadSByte(),
        GgufValueType.UInt16 => r.ReadUInt16(),
        GgufValueType.Int16 => r.ReadInt16(),
        GgufValueType.UInt32 => r.ReadUInt32(),
        GgufValueType.Int32 => r.ReadInt32(),
        GgufValueType.Float32 => r.ReadSingle(),
        GgufValueType.Bool => r.ReadByte() != 0,
        GgufValueType.String => ReadString(r),
        GgufValueType.UInt64 => r.ReadUInt64(),
        GgufValueType.Int64 => r.ReadInt64(),
        GgufValueType.Float64 => r.ReadDouble(),
        GgufValueType.Array => ReadArray(r, path, key),
        _ => throw new ReasonSharpException($"{path}: metadata key '{key}' has unknown value type {(uint)type}"),
    };

    static object ReadArray(BinaryReader r, string path, string key)
    {
        var type = (GgufValueType)r.ReadUInt32();
        int count = checked((int)r.ReadUInt64());
        switch (type)
        {
            case GgufValueType.String: return Enumerable.Range(0, count).Select(_ => ReadString(r)).ToArray();
            case GgufValueType.Int32: return Enumerable.Range(0, count).Select(_ => r.ReadInt32()).ToArray();
            case GgufValueType.UInt32: return Enumerable.Range(0, count).Select(_ => r.ReadUInt32()).ToArray();
            case GgufValueType.Float32: return Enumerable.Range(0, count).Select(_ => r.ReadSingle()).ToArray();
            default:
                var items = new object[count];
                for (int i = 0; i < count; i++) items[i] = ReadValue(r, type, path, key);
                return items;
        }
    }
}
