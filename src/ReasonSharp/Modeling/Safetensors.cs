using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

public sealed record SafetensorsEntry(string Name, string Dtype, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>Reads a .safetensors file lazily through a memory map, one tensor (or row chunk) at a time.</summary>
public sealed class SafetensorsFile : IDisposable
{
    const long ChunkBytes = 256L << 20;
    readonly MemoryMappedFile _map;
    readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafetensorsFile(string path, MemoryMappedFile map, long dataStart, Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
        => (Path, _map, _dataStart, Entries, Metadata) = (path, map, dataStart, entries, metadata);

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: safetensors file not found");
        using var stream = File.OpenRead(path);
        long fileLength = stream.Length; // the target's length when path is a link (as in the Hub cache)
        var lengthBytes = new byte[8];
        if (fileLength < 8 || stream.Read(lengthBytes) != 8) throw new ReasonSharpException($"{path}: too short to be a safetensors file");
        long headerLength = BitConverter.ToInt64(lengthBytes);
        if (headerLength <= 0 || headerLength > fileLength - 8 || headerLength > 100_000_000)
            throw new ReasonSharpException($"{path}: invalid safetensors header length {headerLength}");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        JsonObject header;
        try { header = JsonNode.Parse(headerBytes) as JsonObject ?? throw new ReasonSharpException($"{path}: safetensors header is not a JSON object"); }
        catch (JsonException e) { throw new ReasonSharpException($"{path}: malformed safetensors header: {e.Message}", e); }

        var entries = new Dictionary<string, SafetensorsEntry>();
        var metadata = new Dictionary<string, string>();
        long dataLength = fileLength - 8 - headerLength;
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject meta)
                    foreach (var (k, v) in meta) metadata[k] = v?.ToString() ?? "";
                continue;
            }
            try
            {
                var dtype = node!["dtype"]!.GetValue<string>();
                var shape = node["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
                var offsets = node["data_offsets"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
                var entry = new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1]);
                long expected = shape.Aggregate(1L, (a, b) => a * b) * DtypeSize(dtype, path, name);
                if (entry.ByteLength != expected || entry.Begin < 0 || entry.End > dataLength)
                    throw new ReasonSharpException($"{path}: tensor '{name}' has data_offsets [{entry.Begin}, {entry.End}] that do not fit its shape [{string.Join(", ", shape)}] ({dtype}) or the file");
                entries[name] = entry;
            }
            catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or IndexOutOfRangeException)
            {
                throw new ReasonSharpException($"{path}: tensor '{name}' has a malformed header entry (expected dtype, shape and data_offsets)", e);
            }
        }
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        return new SafetensorsFile(path, map, 8 + headerLength, entries, metadata);
    }

    public static int DtypeSize(string dtype, string path = "", string name = "") => dtype switch
    {
        "F32" or "I32" => 4,
        "F16" or "BF16" or "I16" => 2,
        "F64" or "I64" => 8,
        "I8" or "U8" or "BOOL" => 1,
        _ => throw new ReasonSharpException($"{path}: tensor '{name}' has dtype '{dtype}', which is not supported (expected F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL)"),
    };

    public static ScalarType ToScalarType(string dtype) => dtype switch
    {
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "F64" => ScalarType.Float64,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw new ReasonSharpException($"unsupported safetensors dtype '{dtype}'"),
    };

    public static string FromScalarType(ScalarType type) => type switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new ArgumentException($"no safetensors dtype for {type}"),
    };

    /// <summary>Copies a stored tensor into <paramref name="target"/> (same shape), converting dtype and device, in row chunks.</summary>
    public void CopyInto(string name, Tensor target)
    {
        var entry = Entries[name];
        long rows = entry.Shape.Length == 0 ? 1 : entry.Shape[0];
        long rowBytes = rows == 0 ? 0 : entry.ByteLength / rows;
        long rowsPerChunk = Math.Max(1, ChunkBytes / Math.Max(1, rowBytes));
        var flatTarget = entry.Shape.Length == 0 ? target.view(1) : target;
        using var accessor = _map.CreateViewAccessor(_dataStart + entry.Begin, entry.ByteLength, MemoryMappedFileAccess.Read);
        for (long row = 0; row < rows; row += rowsPerChunk)
        {
            long count = Math.Min(rowsPerChunk, rows - row);
            var buffer = new byte[count * rowBytes];
            accessor.ReadArray(row * rowBytes, buffer, 0, buffer.Length);
            var rowShape = entry.Shape.Length == 0 ? new long[] { 1 } : entry.Shape.Skip(1).Prepend(count).ToArray();
            using var shaped = ToTensor(buffer, entry.Dtype, rowShape);
            using var slot = flatTarget.narrow(0, row, count);
            slot.copy_(shaped);
        }
    }

    /// <summary>Decodes little-endian stored values into a CPU tensor (floats widen to float32 exactly; bf16 is the high half of a float32).</summary>
    static Tensor ToTensor(byte[] buffer, string dtype, long[] shape)
    {
        switch (dtype)
        {
            case "F32": return tensor(MemoryMarshal.Cast<byte, float>(buffer).ToArray(), shape);
            case "F64": return tensor(MemoryMarshal.Cast<byte, double>(buffer).ToArray(), shape);
            case "I64": return tensor(MemoryMarshal.Cast<byte, long>(buffer).ToArray(), shape);
            case "I32": return tensor(MemoryMarshal.Cast<byte, int>(buffer).ToArray(), shape);
            case "I16": return tensor(MemoryMarshal.Cast<byte, short>(buffer).ToArray(), shape);
            case "I8": return tensor(MemoryMarshal.Cast<byte, sbyte>(buffer).ToArray(), shape);
            case "U8": return tensor(buffer, shape);
            case "BOOL": return tensor(buffer.Select(b => b != 0).ToArray(), shape);
            case "F16":
                {
                    var halves = MemoryMarshal.Cast<byte, Half>(buffer);
                    var floats = new float[halves.Length];
                    for (int i = 0; i < floats.Length; i++) floats[i] = (float)halves[i];
                    return tensor(floats, shape);
                }
            case "BF16":
                {
                    var raw = MemoryMarshal.Cast<byte, ushort>(buffer);
                    var bits = new uint[raw.Length];
                    for (int i = 0; i < bits.Length; i++) bits[i] = (uint)raw[i] << 16;
                    return tensor(MemoryMarshal.Cast<uint, float>(bits).ToArray(), shape);
                }
            default: throw new ReasonSharpException($"unsupported safetensors dtype '{dtype}'");
        }
    }

    /// <summary>Reads a tensor as a new CPU tensor of the given dtype.</summary>
    public Tensor Read(string name, ScalarType dtype)
    {
        var result = empty(Entries[name].Shape, dtype);
        CopyInto(name, result);
        return result;
    }

    public void Dispose() => _map.Dispose();
}

public static class SafetensorsWriter
{
    /// <summary>Writes tensors to a .safetensors file atomically (temp file, then rename), with `__metadata__` {"format":"pt"}.</summary>
    public static void Write(string path, IReadOnlyList<(string Name, Tensor Tensor)> tensors, ScalarType? dtype = null)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            var type = dtype is { } d && tensor.is_floating_point() ? d : tensor.dtype;
            long bytes = tensor.numel() * SafetensorsFile.DtypeSize(SafetensorsFile.FromScalarType(type));
            header[name] = new JsonObject
            {
                ["dtype"] = SafetensorsFile.FromScalarType(type),
                ["shape"] = new JsonArray(tensor.shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padding = (8 - headerBytes.Length % 8) % 8;
        AtomicFile.Write(path, stream =>
        {
            stream.Write(BitConverter.GetBytes((long)(headerBytes.Length + padding)));
            stream.Write(headerBytes);
            for (int i = 0; i < padding; i++) stream.WriteByte((byte)' ');
            foreach (var (_, tensor) in tensors)
            {
                var type = dtype is { } d && tensor.is_floating_point() ? d : tensor.dtype;
                WriteData(stream, tensor, type);
            }
        }, expectedBytes: 8 + headerBytes.Length + padding + offset);
    }

    /// <summary>
    /// Writes a .safetensors file one tensor at a time: the header from <paramref name="layout"/> (names, dtypes,
    /// shapes, in order), then <paramref name="tensorAt"/>(i) for each entry, converted to its dtype and disposed once
    /// written. Atomic (temp file, then rename); only one produced tensor is held at a time.
    /// </summary>
    public static void WriteStreaming(string path, IReadOnlyList<(string Name, ScalarType Dtype, long[] Shape)> layout,
        Func<int, Tensor> tensorAt)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, type, shape) in layout)
        {
            long bytes = shape.Aggregate(1L, (a, b) => a * b)
                * SafetensorsFile.DtypeSize(SafetensorsFile.FromScalarType(type));
            header[name] = new JsonObject
            {
                ["dtype"] = SafetensorsFile.FromScalarType(type),
                ["shape"] = new JsonArray(shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padding = (8 - headerBytes.Length % 8) % 8;
        AtomicFile.Write(path, stream =>
        {
            stream.Write(BitConverter.GetBytes((long)(headerBytes.Length + padding)));
            stream.Write(headerBytes);
            for (int i = 0; i < padding; i++) stream.WriteByte((byte)' ');
            for (int i = 0; i < layout.Count; i++)
            {
                using var tensor = tensorAt(i);
                if (!tensor.shape.SequenceEqual(layout[i].Shape))
                    throw new InvalidOperationException(
                        $"tensor '{layout[i].Name}' has shape [{string.Join(", ", tensor.shape)}], " +
                        $"not the header's [{string.Join(", ", layout[i].Shape)}]");
                WriteData(stream, tensor, layout[i].Dtype);
            }
        }, expectedBytes: 8 + headerBytes.Length + padding + offset);
    }

    /// <summary>Streams a tensor's bytes in row chunks, so neither a 2 GB span limit nor a full extra copy is hit.</summary>
    static void WriteData(Stream stream, Tensor tensor, ScalarType type)
    {
        var flat = tensor.dim() == 0 ? tensor.view(1) : tensor;
        long rows = flat.shape[0];
        long rowBytes = rows == 0 ? 0 : flat.numel() / rows * SafetensorsFile.DtypeSize(SafetensorsFile.FromScalarType(type));
        long rowsPerChunk = Math.Max(1, (64L << 20) / Math.Max(1, rowBytes));
        for (long row = 0; row < rows; row += rowsPerChunk)
        {
            using var chunk = flat.narrow(0, row, Math.Min(rowsPerChunk, rows - row)).detach().to(type, CPU).contiguous();
            stream.Write(chunk.bytes);
        }
    }
}
