using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// Inference-only float32 CPU kernel for the few-row products of token-by-token decoding: y = x·Wᵀ + b for inputs of at
/// most <see cref="MaxRows"/> rows. libtorch's sgemm packs the whole weight before multiplying, which costs more than the
/// product itself at these shapes; this kernel streams each weight once, 4 output columns × 2 rows at a time, in AVX2/FMA.
/// Several projections of the same input (q/k/v, gate/up) go into one output tensor, one after the other along the last
/// dimension. Every output element is reduced in the same order whatever the row count, so a row's result does not
/// depend on the batch it is in. Used only when autograd is off; otherwise (and on GPUs) the callers use libtorch.
/// </summary>
internal static unsafe class DecodeKernels
{
    /// <summary>Above this many rows libtorch's blocked sgemm wins.</summary>
    public const int MaxRows = 64;
    /// <summary>Multiply-adds below which one thread does the whole product (a parallel split costs a few µs).</summary>
    const long MinWorkPerThread = 1 << 17;

    static readonly bool Supported = Avx2.IsSupported && Fma.IsSupported;

    /// <summary>x [.., K] times each weight [N, K] (plus bias), concatenated along the last dimension; null when the kernel does not apply.</summary>
    public static Tensor? Linear(Tensor x, params ReadOnlySpan<(Tensor Weight, Tensor? Bias)> layers)
    {
        if (!Supported || is_grad_enabled() || x.device_type != DeviceType.CPU || x.dtype != ScalarType.Float32) return null;
        long k = x.shape[^1];
        if (k % 8 != 0 || k == 0 || x.numel() / k > MaxRows) return null;
        long width = 0;
        foreach (var (w, b) in layers)
        {
            if (w.dtype != ScalarType.Float32 || w.device_type != DeviceType.CPU || !w.is_contiguous() || w.shape[1] != k || w.numel() * sizeof(float) > int.MaxValue) return null;
            if (b is not null && (b.dtype != ScalarType.Float32 || !b.is_contiguous())) return null;
            width += w.shape[0];
        }

        using var input = x.contiguous();
        int rows = (int)(x.numel() / k);
        long[] shape = [.. x.shape[..^1], width];
        var output = empty(shape, ScalarType.Float32);
        var segments = new Segment[layers.Length];
        long offset = 0;
        for (int i = 0; i < layers.Length; i++)
        {
            var (w, b) = layers[i];
            segments[i] = new Segment(Address(w), b is null ? 0 : Address(b), (int)offset, (int)w.shape[0]);
            offset += w.shape[0];
        }
        var product = new Product(Address(input), Address(output), rows, (int)k, (int)width, segments);
        int parts = (int)Math.Clamp(rows * width * k / MinWorkPerThread, 1, Math.Min(get_num_threads(), width / 4));
        if (parts <= 1) product.Run(0, (int)width);
        else
        {
            int chunk = (int)((width / parts + 3) / 4 * 4);
            Parallel.For(0, parts, p => product.Run(Math.Min((int)width, p * chunk), p == parts - 1 ? (int)width : Math.Min((int)width, (p + 1) * chunk)));
        }
        return output;
    }

    static nint Address(Tensor t)
    {
        fixed (byte* p = t.bytes) return (nint)p;
    }

    /// <summary>One weight [N, K] (and bias) whose outputs go to columns [Offset, Offset + N).</summary>
    readonly record struct Segment(nint Weight, nint Bias, int Offset, int Columns);

    sealed class Product(nint x, nint output, int rows, int k, int width, Segment[] segments)
    {
        /// <summary>Computes output columns [start, end) of the concatenation, segment by segment.</summary>
        public void Run(int start, int end)
        {
            foreach (var s in segments)
            {
                int from = Math.Max(start, s.Offset) - s.Offset, to = Math.Min(end, s.Offset + s.Columns) - s.Offset;
                if (from < to) Columns((float*)x, rows, k, (float*)s.Weight, (float*)s.Bias, (float*)output + s.Offset, width, from, to);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Columns(float* x, int rows, int k, float* weight, float* bias, float* output, int stride, int from, int to)
    {
        int n = from;
        for (; n + 4 <= to; n += 4)
        {
            float* w = weight + (long)n * k;
            int r = 0;
            for (; r + 2 <= rows; r += 2) FourByTwo(x + (long)r * k, k, w, bias, output + (long)r * stride, stride, n);
            if (r < rows) FourByOne(x + (long)r * k, k, w, bias, output + (long)r * stride, n);
        }
        for (; n < to; n++)
            for (int r = 0; r < rows; r++)
            {
                float* xr = x + (long)r * k, w = weight + (long)n * k;
                var a = Vector256<float>.Zero;
                for (int i = 0; i < k; i += 8) a = Fma.MultiplyAdd(Avx.LoadVector256(xr + i), Avx.LoadVector256(w + i), a);
                output[(long)r * stride + n] = Reduce(a, Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero).ToScalar() + (bias == null ? 0 : bias[n]);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void FourByTwo(float* x0, int k, float* w0, float* bias, float* o0, int stride, int n)
    {
        float* x1 = x0 + k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        for (int i = 0; i < k; i += 8)
        {
            var u = Avx.LoadVector256(x0 + i);
            var v = Avx.LoadVector256(x1 + i);
            var c = Avx.LoadVector256(w0 + i);
            a0 = Fma.MultiplyAdd(u, c, a0);
            b0 = Fma.MultiplyAdd(v, c, b0);
            c = Avx.LoadVector256(w1 + i);
            a1 = Fma.MultiplyAdd(u, c, a1);
            b1 = Fma.MultiplyAdd(v, c, b1);
            c = Avx.LoadVector256(w2 + i);
            a2 = Fma.MultiplyAdd(u, c, a2);
            b2 = Fma.MultiplyAdd(v, c, b2);
            c = Avx.LoadVector256(w3 + i);
            a3 = Fma.MultiplyAdd(u, c, a3);
            b3 = Fma.MultiplyAdd(v, c, b3);
        }
        var add = bias == null ? Vector128<float>.Zero : Sse.LoadVector128(bias + n);
        Sse.Store(o0 + n, Sse.Add(Reduce(a0, a1, a2, a3), add));
        Sse.Store(o0 + stride + n, Sse.Add(Reduce(b0, b1, b2, b3), add));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void FourByOne(float* x0, int k, float* w0, float* bias, float* o0, int n)
    {
        float* w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int i = 0; i < k; i += 8)
        {
            var u = Avx.LoadVector256(x0 + i);
            a0 = Fma.MultiplyAdd(u, Avx.LoadVector256(w0 + i), a0);
            a1 = Fma.MultiplyAdd(u, Avx.LoadVector256(w1 + i), a1);
            a2 = Fma.MultiplyAdd(u, Avx.LoadVector256(w2 + i), a2);
            a3 = Fma.MultiplyAdd(u, Avx.LoadVector256(w3 + i), a3);
        }
        var add = bias == null ? Vector128<float>.Zero : Sse.LoadVector128(bias + n);
        Sse.Store(o0 + n, Sse.Add(Reduce(a0, a1, a2, a3), add));
    }

    /// <summary>The horizontal sums of four vectors, in one fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Reduce(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d)
    {
        var sums = Avx.HorizontalAdd(Avx.HorizontalAdd(a, b), Avx.HorizontalAdd(c, d));
        return Sse.Add(sums.GetLower(), sums.GetUpper());
    }
}
