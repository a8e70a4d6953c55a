namespace ReasonSharp.Export;

/// <summary>ggml tensor types this project writes (values from ggml's enum ggml_type).</summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    // Written only by llama.cpp's quantizer (GgufQuantizer); this project reads their names, not their values.
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
}

/// <summary>Metadata value types of GGUF v3 (gguf_metadata_value_type).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>The export choice, written as general.file_type (llama.cpp's LLAMA_FTYPE values).</summary>
public enum GgufFileType : uint
{
    F32 = 0,
    F16 = 1,
    Q8_0 = 7,
    // Made by llama.cpp's own quantizer from our f16 file (GgufQuantizer).
    Q4_0 = 2,
    Q4_K_M = 15,
    Q5_K_M = 17,
    Q6_K = 18,
}

/// <summary>Sizes and layout constants of the GGUF container and ggml's block types.</summary>
public static class Gguf
{
    public const uint Magic = 0x46554747; // "GGUF" little-endian
    public const uint Version = 3;
    public const int DefaultAlignment = 32;
    public const int Q8_0BlockSize = 32;
    /// <summary>One Q8_0 block: an f16 scale followed by 32 int8 quants.</summary>
    public const int Q8_0BlockBytes = 2 + Q8_0BlockSize;
    /// <summary>general.quantization_version that llama.cpp expects (GGML_QNT_VERSION).</summary>
    public const uint QuantizationVersion = 2;

    /// <summary>Bytes taken by a tensor of <paramref name="elements"/> values whose rows have <paramref name="rowLength"/> values.</summary>
    public static long ByteSize(GgmlType type, long elements, long rowLength) => type switch
    {
        GgmlType.F32 => elements * 4,
        GgmlType.F16 => elements * 2,
        GgmlType.Q8_0 => rowLength % Q8_0BlockSize == 0
            ? elements / Q8_0BlockSize * Q8_0BlockBytes
            : throw new ArgumentException($"Q8_0 rows must be a multiple of {Q8_0BlockSize} values, got {rowLength}"),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    public static long Align(long offset, int alignment = DefaultAlignment) => (offset + alignment - 1) / alignment * alignment;

    public static GgmlType TensorType(GgufFileType fileType) => fileType switch
    {
        GgufFileType.F32 => GgmlType.F32,
        GgufFileType.F16 => GgmlType.F16,
        GgufFileType.Q8_0 => GgmlType.Q8_0,
        _ => throw new ReasonSharpException($"type {fileType.ToString().ToLowerInvariant()} is made by llama.cpp's "
            + "quantizer (GgufQuantizer), not written tensor by tensor"),
    };

    public static GgufFileType ParseFileType(string name) => name.ToLowerInvariant() switch
    {
        "f32" => GgufFileType.F32,
        "f16" => GgufFileType.F16,
        "q8_0" => GgufFileType.Q8_0,
        "q4_0" => GgufFileType.Q4_0,
        "q4_k_m" => GgufFileType.Q4_K_M,
        "q5_k_m" => GgufFileType.Q5_K_M,
        "q6_k" => GgufFileType.Q6_K,
        _ => throw new ReasonSharpException(
            $"--type '{name}' is not supported; expected f32, f16, q8_0, q4_0, q4_k_m, q5_k_m or q6_k"),
    };
}
