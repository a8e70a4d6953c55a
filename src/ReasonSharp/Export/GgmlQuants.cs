using System.Buffers.Binary;

namespace ReasonSharp.Export;

/// <summary>
/// Encodes float32 rows as ggml stores them. Q8_0 matches ggml's quantize_row_q8_0_ref bit for bit: per block of 32,
/// d = max|x| / 127 stored as f16, quants = roundf(x / d) (half away from zero), computed in float32.
/// </summary>
public static class GgmlQuants
{
    public static void EncodeF32(ReadOnlySpan<float> values, Span<byte> destination)
    {
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(destination.Slice(i * 4, 4), values[i]);
    }

    /// <summary>IEEE half precision, round to nearest even (as ggml's GGML_FP32_TO_FP16).</summary>
    public static void EncodeF16(ReadOnlySpan<float> values, Span<byte> destination)
    {
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteHalfLittleEndian(destination.Slice(i * 2, 2), (Half)values[i]);
    }

    public static void QuantizeQ8_0(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (values.Length % Gguf.Q8_0BlockSize != 0)
            throw new ArgumentException($"Q8_0 needs a multiple of {Gguf.Q8_0BlockSize} values, got {values.Length}");
        for (int block = 0; block < values.Length / Gguf.Q8_0BlockSize; block++)
        {
            var x = values.Slice(block * Gguf.Q8_0BlockSize, Gguf.Q8_0BlockSize);
            var y = destination.Slice(block * Gguf.Q8_0BlockBytes, Gguf.Q8_0BlockBytes);
            float amax = 0;
            foreach (var v in x) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteHalfLittleEndian(y, (Half)d);
            for (int j = 0; j < Gguf.Q8_0BlockSize; j++)
                y[2 + j] = unchecked((byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero));
        }
    }

    /// <summary>Inverse of <see cref="QuantizeQ8_0"/>: value = f16 scale · int8 quant.</summary>
    public static void DequantizeQ8_0(ReadOnlySpan<byte> source, Span<float> destination)
    {
        for (int block = 0; block < destination.Length / Gguf.Q8_0BlockSize; block++)
        {
            var y = source.Slice(block * Gguf.Q8_0BlockBytes, Gguf.Q8_0BlockBytes);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(y);
            for (int j = 0; j < Gguf.Q8_0BlockSize; j++)
                destination[block * Gguf.Q8_0BlockSize + j] = d * (sbyte)y[2 + j];
        }
    }

    /// <summary>Encodes <paramref name="values"/> (whole rows) as <paramref name="type"/>.</summary>
    public static void Encode(GgmlType type, ReadOnlySpan<float> values, Span<byte> destination)
    {
        switch (type)
        {
            case GgmlType.F32: EncodeF32(values, destination); break;
            case GgmlType.F16: EncodeF16(values, destination); break;
            case GgmlType.Q8_0: QuantizeQ8_0(values, destination); break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }
}
