using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// Inference-only float32 CPU kernels (AVX2/FMA) for token-by-token decoding, where libtorch's sgemm (which packs the
/// whole weight before multiplying) and its per-op overhead cost more than the arithmetic:
/// <list type="bullet">
/// <item><see cref="Linear"/>: y = x·Wᵀ + b for at most <see cref="MaxRows"/> rows, each weight streamed once; several
/// projections of the same input (q/k/v, gate/up) into one output tensor, one after the other along the last dimension.</item>
/// <item><see cref="RmsNorm"/>, and <see cref="Attention"/> of one new query per row over the KV cache, read in place.</item>
/// </list>
/// Every output element is reduced in the same order whatever the row count, so a row's result does not depend on the
/// batch it is in. The modules use these kernels only in inference (eval mode and autograd off, so training code, gradient
/// checkpointing's no-grad forward included, keeps libtorch's numerics); elsewhere, and on GPUs, libtorch runs.
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
        long k = x.size(-1);
        if (k % 8 != 0 || k == 0 || x.numel() / k > MaxRows) return null;
        long width = 0;
        foreach (var (w, b) in layers)
        {
            if (w.dtype != ScalarType.Float32 || w.device_type != DeviceType.CPU || !w.is_contiguous() || w.size(1) != k || w.numel() * sizeof(float) > int.MaxValue) return null;
            if (b is not null && (b.dtype != ScalarType.Float32 || !b.is_contiguous())) return null;
            width += w.size(0);
        }

        using var input = x.contiguous();
        int rows = (int)(x.numel() / k);
        long[] shape = Shape(x, lastDimension: width);
        var output = empty(shape, ScalarType.Float32);
        var segments = new Segment[layers.Length];
        long offset = 0;
        for (int i = 0; i < layers.Length; i++)
        {
            var (w, b) = layers[i];
            segments[i] = new Segment(Address(w), b is null ? 0 : Address(b), (int)offset, (int)w.size(0));
            offset += w.size(0);
        }
        var product = new Product(Address(input), Address(output), rows, (int)k, (int)width, segments);
        Split((int)width, rows * k, product.Run);
        return output;
    }

    /// <summary>weight · x / sqrt(mean(x²) + eps) over the last dimension, in float32 as <see cref="Modeling.RmsNorm"/>; null when the kernel does not apply.</summary>
    public static Tensor? RmsNorm(Tensor x, Tensor weight, double eps)
    {
        if (!Supported || is_grad_enabled() || x.device_type != DeviceType.CPU || x.dtype != ScalarType.Float32) return null;
        long size = x.size(-1);
        if (size % 8 != 0 || size == 0 || weight.dtype != ScalarType.Float32 || weight.device_type != DeviceType.CPU || !weight.is_contiguous()
            || weight.numel() != size || x.numel() / size > MaxRows) return null;
        using var input = x.contiguous();
        var output = empty(Shape(x), ScalarType.Float32);
        Normalize((float*)Address(input), (float*)Address(weight), (float*)Address(output), (int)(x.numel() / size), (int)size, (float)eps);
        return output;
    }

    /// <summary>
    /// One decode step's rotary embedding and KV-cache write, from the fused q/k/v projection [B, 1, (H + 2·H_kv)·D]: each
    /// query and key head normed (when norms are given), rotated with cos and signed sin [B, 1, 1, D] as
    /// <see cref="RotaryEmbedding.Apply"/> does (when given), the queries scaled; keys and values written into the cache
    /// buffers [B, H_kv, capacity, D] at <paramref name="position"/>. Returns the queries [B, H, 1, D], or null when the
    /// kernel does not apply. The arithmetic is the modules' own, element for element.
    /// </summary>
    public static Tensor? RotateIntoCache(Tensor qkv, int heads, int kvHeads, Tensor? cos, Tensor? sin,
        (Tensor Weight, double Eps)? queryNorm, (Tensor Weight, double Eps)? keyNorm, float queryScale, Tensor keys,
        Tensor values, int position)
    {
        if (!Supported || is_grad_enabled() || !IsCpuFloat(qkv) || qkv.dim() != 3 || qkv.size(1) != 1
            || !IsCpuFloat(keys) || !IsCpuFloat(values) || !keys.is_contiguous() || !values.is_contiguous()
            || keys.dim() != 4 || !SameShape(keys, values)) return null;
        long batch = qkv.size(0), dim = keys.size(3);
        if (keys.size(0) != batch || keys.size(1) != kvHeads || position >= keys.size(2) || dim % 2 != 0
            || qkv.size(2) != (heads + 2L * kvHeads) * dim || (cos is null) != (sin is null)) return null;
        foreach (var table in new[] { cos, sin })
            if (table is not null && (!IsCpuFloat(table) || !table.is_contiguous() || table.numel() != batch * dim))
                return null;
        foreach (var norm in new[] { queryNorm, keyNorm })
            if (norm is { } n && (!IsCpuFloat(n.Weight) || !n.Weight.is_contiguous() || n.Weight.numel() != dim))
                return null;

        using var input = qkv.contiguous();
        var queries = empty([batch, heads, 1, dim], ScalarType.Float32);
        int d = (int)dim, capacity = (int)keys.size(2);
        float* source = (float*)Address(input), q = (float*)Address(queries), k = (float*)Address(keys),
            v = (float*)Address(values);
        float* cosines = cos is null ? null : (float*)Address(cos), sines = sin is null ? null : (float*)Address(sin);
        float* queryWeight = queryNorm is { } qn ? (float*)Address(qn.Weight) : null,
            keyWeight = keyNorm is { } kn ? (float*)Address(kn.Weight) : null;
        var scratch = stackalloc float[d];
        for (int b = 0; b < batch; b++)
        {
            float* row = source + (long)b * (heads + 2 * kvHeads) * d;
            float* c = cosines == null ? null : cosines + (long)b * d, s = sines == null ? null : sines + (long)b * d;
            for (int h = 0; h < heads; h++)
                RotateHead(row + (long)h * d, q + ((long)b * heads + h) * d, d, queryWeight,
                    queryNorm?.Eps ?? 0, c, s, queryScale, scratch);
            for (int h = 0; h < kvHeads; h++)
            {
                long slot = (((long)b * kvHeads + h) * capacity + position) * d;
                RotateHead(row + (long)(heads + h) * d, k + slot, d, keyWeight, keyNorm?.Eps ?? 0, c, s, 1f,
                    scratch);
                new ReadOnlySpan<float>(row + (long)(heads + kvHeads + h) * d, d).CopyTo(new Span<float>(v + slot, d));
            }
        }
        return queries;
    }

    /// <summary>One head: normed, then x·cos + roll(x, D/2)·sin (the sign of rotate-half is in sin), then scaled, with
    /// the same roundings as the modules' separate ops.</summary>
    static void RotateHead(float* x, float* output, int d, float* normWeight, double eps, float* cos, float* sin,
        float scale, float* scratch)
    {
        if (normWeight != null)
        {
            Normalize(x, normWeight, scratch, 1, d, (float)eps);
            x = scratch;
        }
        if (cos == null)
        {
            for (int i = 0; i < d; i++) output[i] = scale == 1f ? x[i] : x[i] * scale;
            return;
        }
        int half = d / 2;
        for (int i = 0; i < d; i++)
        {
            float rotated = x[i] * cos[i] + x[i < half ? i + half : i - half] * sin[i];
            output[i] = scale == 1f ? rotated : rotated * scale;
        }
    }

    /// <summary>act(gate)·up from the fused gate/up projection [.., 2·I] with SiLU (x / (1 + e⁻ˣ)) as act; null when the
    /// kernel does not apply.</summary>
    public static Tensor? SiluTimesUp(Tensor gateUp)
    {
        if (!Supported || is_grad_enabled() || !IsCpuFloat(gateUp) || gateUp.size(-1) % 2 != 0
            || gateUp.numel() / gateUp.size(-1) > MaxRows) return null;
        using var input = gateUp.contiguous();
        int width = (int)(gateUp.size(-1) / 2), rows = (int)(gateUp.numel() / gateUp.size(-1));
        var output = empty(Shape(gateUp, lastDimension: width), ScalarType.Float32);
        float* source = (float*)Address(input), target = (float*)Address(output);
        for (int r = 0; r < rows; r++)
        {
            float* gate = source + (long)r * 2 * width, up = gate + width, result = target + (long)r * width;
            int i = 0;
            for (; i + 8 <= width; i += 8)
            {
                var g = Avx.LoadVector256(gate + i);
                var silu = g / (Vector256<float>.One + Vector256.Exp(-g));
                Avx.Store(result + i, silu * Avx.LoadVector256(up + i));
            }
            for (; i < width; i++) result[i] = gate[i] / (1f + MathF.Exp(-gate[i])) * up[i];
        }
        return output;
    }

    // Tensor.shape costs about 2 µs (an array and a native call per dimension), size(d) 0.05 µs; a decode step asks
    // hundreds of times.
    static long[] Shape(Tensor t, long? lastDimension = null)
    {
        var shape = new long[t.dim()];
        for (int d = 0; d < shape.Length; d++) shape[d] = t.size(d);
        if (lastDimension is { } last) shape[^1] = last;
        return shape;
    }

    static bool SameShape(Tensor a, Tensor b)
    {
        if (a.dim() != b.dim()) return false;
        for (int d = 0; d < a.dim(); d++)
            if (a.size(d) != b.size(d)) return false;
        return true;
    }

    /// <summary>Greedy decoding's choice for each row of logits [B, V]: the first id of the largest logit, and its
    /// log-probability (logit − logsumexp); null when the kernel does not apply.</summary>
    public static (long[] Ids, float[] LogProbs)? Greedy(Tensor logits)
    {
        if (!Supported || !IsCpuFloat(logits) || logits.dim() != 2 || !logits.is_contiguous()) return null;
        int rows = (int)logits.size(0), vocabulary = (int)logits.size(1);
        var (ids, logProbs) = (new long[rows], new float[rows]);
        float* all = (float*)Address(logits);
        for (int r = 0; r < rows; r++)
        {
            float* row = all + (long)r * vocabulary;
            int best = 0;
            for (int i = 1; i < vocabulary; i++)
                if (row[i] > row[best]) best = i;
            float max = row[best];
            var sums = Vector256<float>.Zero;
            var top = Vector256.Create(max);
            int j = 0;
            for (; j + 8 <= vocabulary; j += 8) sums += Vector256.Exp(Avx.LoadVector256(row + j) - top);
            float sum = Vector256.Sum(sums);
            for (; j < vocabulary; j++) sum += MathF.Exp(row[j] - max);
            (ids[r], logProbs[r]) = (best, -MathF.Log(sum));
        }
        return (ids, logProbs);
    }

    static bool IsCpuFloat(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Normalize(float* x, float* weight, float* output, int rows, int size, float eps)
    {
        for (int r = 0; r < rows; r++, x += size, output += size)
        {
            var squares = Vector256<float>.Zero;
            for (int i = 0; i < size; i += 8)
            {
                var v = Avx.LoadVector256(x + i);
                squares = Fma.MultiplyAdd(v, v, squares);
            }
            float mean = Reduce(squares, Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero).ToScalar() / size;
            var scale = Vector256.Create(1f / MathF.Sqrt(mean + eps));
            for (int i = 0; i < size; i += 8)
                Avx.Store(output + i, Avx.Multiply(Avx.LoadVector256(weight + i), Avx.Multiply(Avx.LoadVector256(x + i), scale)));
        }
    }

    /// <summary>
    /// Attention of one new query per row over the first <paramref name="length"/> cached positions: query [B, H, 1, D],
    /// the cache's whole key and value buffers [B, H_kv, capacity, D], and an optional boolean key mask [B, 1, 1, length]
    /// (true = may attend). Each key/value head is read in place for the query heads that share it. Returns [B, 1, H·D],
    /// or null when the kernel does not apply.
    /// </summary>
    public static Tensor? Attention(Tensor query, Tensor keys, Tensor values, int length, Tensor? mask)
    {
        if (!Supported || is_grad_enabled() || query.device_type != DeviceType.CPU || query.dtype != ScalarType.Float32 || query.dim() != 4
            || keys.dtype != ScalarType.Float32 || values.dtype != ScalarType.Float32 || keys.device_type != DeviceType.CPU
            || !keys.is_contiguous() || !values.is_contiguous() || !SameShape(keys, values)) return null;
        long batch = query.size(0), heads = query.size(1), dim = query.size(3), kvHeads = keys.size(1), capacity = keys.size(2);
        if (query.size(2) != 1 || dim % 8 != 0 || keys.size(0) != batch || keys.size(3) != dim || heads % kvHeads != 0 || length > capacity
            || keys.numel() * sizeof(float) > int.MaxValue) return null;
        if (mask is not null && (mask.dtype != ScalarType.Bool || mask.numel() != batch * length)) return null;

        using var q = query.contiguous();
        using var m = mask?.contiguous();
        var output = empty([batch, 1, heads * dim], ScalarType.Float32);
        var job = new AttentionJob(Address(q), Address(keys), Address(values), m is null ? 0 : Address(m), Address(output),
            (int)heads, (int)kvHeads, (int)dim, (int)capacity, length);
        Split((int)(batch * kvHeads), heads / kvHeads * length * dim * 2, job.Run);
        return output;
    }

    sealed class AttentionJob(nint query, nint keys, nint values, nint mask, nint output, int heads, int kvHeads, int dim, int capacity, int length)
    {
        /// <summary>Rows × key/value heads [start, end), numbered row · H_kv + head.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            var scores = new float[length];
            var sums = new float[dim];
            int group = heads / kvHeads;
            float scale = 1f / MathF.Sqrt(dim);
            fixed (float* p = scores, acc = sums)
                for (int pair = start; pair < end; pair++)
                {
                    int row = pair / kvHeads;
                    long cached = (long)pair * capacity * dim;
                    float* k = (float*)keys + cached, v = (float*)values + cached;
                    bool* allowed = mask == 0 ? null : (bool*)mask + (long)row * length;
                    for (int h = pair % kvHeads * group, last = h + group; h < last; h++)
                    {
                        long at = ((long)row * heads + h) * dim;
                        Head((float*)query + at, k, v, allowed, p, acc, (float*)output + at, scale);
                    }
                }
        }

        /// <summary>softmax(q·Kᵀ·scale, masked)·V for one query head, with a max-subtracted softmax.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Head(float* q, float* k, float* v, bool* allowed, float* scores, float* acc, float* output, float scale)
        {
            // Scores four keys at a time: four independent FMA chains and one shared horizontal reduction.
            int j = 0;
            for (; j + 4 <= length; j += 4)
            {
                float* k0 = k + (long)j * dim, k1 = k0 + dim, k2 = k1 + dim, k3 = k2 + dim;
                Vector256<float> d0 = default, d1 = default, d2 = default, d3 = default;
                for (int i = 0; i < dim; i += 8)
                {
                    var x = Avx.LoadVector256(q + i);
                    d0 = Fma.MultiplyAdd(x, Avx.LoadVector256(k0 + i), d0);
                    d1 = Fma.MultiplyAdd(x, Avx.LoadVector256(k1 + i), d1);
                    d2 = Fma.MultiplyAdd(x, Avx.LoadVector256(k2 + i), d2);
                    d3 = Fma.MultiplyAdd(x, Avx.LoadVector256(k3 + i), d3);
                }
                Sse.Store(scores + j, Sse.Multiply(Reduce(d0, d1, d2, d3), Vector128.Create(scale)));
            }
            for (; j < length; j++)
            {
                float* key = k + (long)j * dim;
                var dot = Vector256<float>.Zero;
                for (int i = 0; i < dim; i += 8) dot = Fma.MultiplyAdd(Avx.LoadVector256(q + i), Avx.LoadVector256(key + i), dot);
                scores[j] = Reduce(dot, Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero).ToScalar() * scale;
            }
            float max = float.NegativeInfinity;
            for (int t = 0; t < length; t++)
            {
                if (allowed != null && !allowed[t]) scores[t] = float.NegativeInfinity;
                else max = MathF.Max(max, scores[t]);
            }
            float total = 0;
            int n = 0;
            var top = Vector256.Create(max);
            var totals = Vector256<float>.Zero;
            for (; n + 8 <= length; n += 8)
            {
                var e = Vector256.Exp(Avx.LoadVector256(scores + n) - top);
                Avx.Store(scores + n, e);
                totals += e;
            }
            for (; n < length; n++) total += scores[n] = MathF.Exp(scores[n] - max);
            total += Vector256.Sum(totals);

            // Weighted sum of the values, 32 dimensions (four independent chains) at a time.
            int c = 0;
            for (; c + 32 <= dim; c += 32)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int t = 0; t < length; t++)
                {
                    var weight = Vector256.Create(scores[t]);
                    float* value = v + (long)t * dim + c;
                    a0 = Fma.MultiplyAdd(weight, Avx.LoadVector256(value), a0);
                    a1 = Fma.MultiplyAdd(weight, Avx.LoadVector256(value + 8), a1);
                    a2 = Fma.MultiplyAdd(weight, Avx.LoadVector256(value + 16), a2);
                    a3 = Fma.MultiplyAdd(weight, Avx.LoadVector256(value + 24), a3);
                }
                Avx.Store(acc + c, a0);
                Avx.Store(acc + c + 8, a1);
                Avx.Store(acc + c + 16, a2);
                Avx.Store(acc + c + 24, a3);
            }
            for (; c < dim; c += 8)
            {
                var a = Vector256<float>.Zero;
                for (int t = 0; t < length; t++) a = Fma.MultiplyAdd(Vector256.Create(scores[t]), Avx.LoadVector256(v + (long)t * dim + c), a);
                Avx.Store(acc + c, a);
            }
            var inverse = Vector256.Create(1f / total);
            for (int i = 0; i < dim; i += 8) Avx.Store(output + i, Avx.LoadVector256(acc + i) * inverse);
        }
    }

    /// <summary>Runs <paramref name="body"/> over [0, count) in contiguous ranges, one per thread when the work is large enough.</summary>
    static void Split(int count, long workPerItem, Action<int, int> body)
    {
        int parts = (int)Math.Clamp(count * workPerItem / MinWorkPerThread, 1, Math.Min(get_num_threads(), count));
        if (parts <= 1) body(0, count);
        else KernelThreads.For(parts, p => body((int)((long)count * p / parts), (int)((long)count * (p + 1) / parts)));
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

    /// <summary>
    /// Output columns [from, to) of one weight. The range is cut into four equal parts read side by side, so the weight is
    /// streamed as four long sequential runs (a single core reaches about twice the memory bandwidth that way than with
    /// four adjacent short rows); the few columns left over are done one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Columns(float* x, int rows, int k, float* weight, float* bias, float* output, int stride, int from, int to)
    {
        int quarter = (to - from) / 4;
        for (int n = from; n < from + quarter; n++)
        {
            var columns = new Quad(n, quarter);
            float* w = weight + (long)n * k;
            long gap = (long)quarter * k;
            var add = bias == null ? Vector128<float>.Zero : Vector128.Create(bias[n], bias[n + quarter], bias[n + 2 * quarter], bias[n + 3 * quarter]);
            int r = 0;
            for (; r + 2 <= rows; r += 2)
            {
                var (first, second) = FourByTwo(x + (long)r * k, k, w, gap);
                columns.Store(output + (long)r * stride, Sse.Add(first, add));
                columns.Store(output + (long)(r + 1) * stride, Sse.Add(second, add));
            }
            if (r < rows) columns.Store(output + (long)r * stride, Sse.Add(FourByOne(x + (long)r * k, k, w, gap), add));
        }
        for (int n = from + 4 * quarter; n < to; n++)
            for (int r = 0; r < rows; r++)
            {
                float* xr = x + (long)r * k, w = weight + (long)n * k;
                var a = Vector256<float>.Zero;
                for (int i = 0; i < k; i += 8) a = Fma.MultiplyAdd(Avx.LoadVector256(xr + i), Avx.LoadVector256(w + i), a);
                output[(long)r * stride + n] = Reduce(a, Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero).ToScalar() + (bias == null ? 0 : bias[n]);
            }
    }

    /// <summary>Columns n, n + gap, n + 2·gap, n + 3·gap of an output row.</summary>
    readonly struct Quad(int n, int gap)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(float* row, Vector128<float> values)
        {
            row[n] = values.GetElement(0);
            row[n + gap] = values.GetElement(1);
            row[n + 2 * gap] = values.GetElement(2);
            row[n + 3 * gap] = values.GetElement(3);
        }
    }

    /// <summary>Two input rows times four weight rows that lie <paramref name="gap"/> floats apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector128<float>, Vector128<float>) FourByTwo(float* x0, int k, float* w0, long gap)
    {
        float* x1 = x0 + k, w1 = w0 + gap, w2 = w1 + gap, w3 = w2 + gap;
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
        return (Reduce(a0, a1, a2, a3), Reduce(b0, b1, b2, b3));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> FourByOne(float* x0, int k, float* w0, long gap)
    {
        float* w1 = w0 + gap, w2 = w1 + gap, w3 = w2 + gap;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int i = 0; i < k; i += 8)
        {
            var u = Avx.LoadVector256(x0 + i);
            a0 = Fma.MultiplyAdd(u, Avx.LoadVector256(w0 + i), a0);
            a1 = Fma.MultiplyAdd(u, Avx.LoadVector256(w1 + i), a1);
            a2 = Fma.MultiplyAdd(u, Avx.LoadVector256(w2 + i), a2);
            a3 = Fma.MultiplyAdd(u, Avx.LoadVector256(w3 + i), a3);
        }
        return Reduce(a0, a1, a2, a3);
    }

    /// <summary>The horizontal sums of four vectors, in one fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Reduce(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d)
    {
        var sums = Avx.HorizontalAdd(Avx.HorizontalAdd(a, b), Avx.HorizontalAdd(c, d));
        return Sse.Add(sums.GetLower(), sums.GetUpper());
    }
}
