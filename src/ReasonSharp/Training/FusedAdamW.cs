using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ReasonSharp.Modeling;
using ReasonSharp.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Training;

/// <summary>
/// AdamW updates of a float32 CPU parameter in fewer passes over memory than libtorch's nine element-wise ops.
/// <see cref="Step"/> is one pass: p·decay; m·β1 + (1 − β1)·g; v·β2 + (1 − β2)·g·g; p + step·m / (√v / √(1 − β2ᵗ) +
/// eps), agreeing with torch.optim.AdamW to float rounding. <see cref="StepWithLibtorchRounding"/> is also one pass,
/// and rounds every element exactly as libtorch's ops do: their add_ with alpha and addcmul_ are fused multiply-adds,
/// and their float sqrt is MKL's, which is not always correctly rounded (one ulp off on about a fifth of the elements
/// measured), so it calls that sqrt.
/// </summary>
internal static unsafe class FusedAdamW
{
    /// <summary>The update's constants, in float32 as libtorch applies them to float32 tensors.</summary>
    public readonly record struct Coefficients(float Decay, float Beta1, float Keep1, float Beta2, float Keep2,
        float Correction2, float Eps, float StepSize);

    /// <summary>Elements below which one thread updates the whole tensor.</summary>
    const long MinPerThread = 1 << 18;

    public static bool Applies(Tensor parameter, Tensor grad, Tensor expAvg, Tensor expAvgSq)
    {
        foreach (var t in new[] { parameter, grad, expAvg, expAvgSq })
            if (t.device_type != DeviceType.CPU || t.dtype != ScalarType.Float32 || !t.is_contiguous()) return false;
        return grad.numel() == parameter.numel() && expAvg.numel() == parameter.numel()
            && expAvgSq.numel() == parameter.numel();
    }

    public static void Step(Tensor parameter, Tensor grad, Tensor expAvg, Tensor expAvgSq, Coefficients c) =>
        Run(parameter, grad, expAvg, expAvgSq, c, &Update);

    /// <summary>libtorch's op-by-op numbers, bit for bit, in one pass: 1,024 elements at a time,
    /// m ← fma(g, 1 − β1, m·β1), v ← fma((1 − β2)·g, g, v·β2), root ← MKL's √v (libtorch's own sqrt, called with
    /// libtorch's mode), p ← p·decay + (step·m) / (root / √(1 − β2ᵗ) + eps). Only where <see cref="HasLibtorchSqrt"/>.
    /// </summary>
    public static void StepWithLibtorchRounding(Tensor parameter, Tensor grad, Tensor expAvg, Tensor expAvgSq,
        Coefficients c)
    {
        if (!HasLibtorchSqrt) throw new InvalidOperationException("libtorch's MKL sqrt was not found");
        Run(parameter, grad, expAvg, expAvgSq, c, &UpdateAsLibtorch);
    }

    /// <summary>Splits the tensors' elements into one contiguous part per kernel thread and updates each.</summary>
    static void Run(Tensor parameter, Tensor grad, Tensor expAvg, Tensor expAvgSq, Coefficients c,
        delegate*<float*, float*, float*, float*, long, Coefficients, void> update)
    {
        long count = parameter.numel();
        var (p, g, m, v) = (Address(parameter), Address(grad), Address(expAvg), Address(expAvgSq));
        var kernel = (nint)update;
        int parts = (int)Math.Clamp(count / MinPerThread, 1, get_num_threads());
        KernelThreads.For(parts, part =>
        {
            long start = count * part / parts, end = count * (part + 1) / parts;
            ((delegate*<float*, float*, float*, float*, long, Coefficients, void>)kernel)((float*)p + start,
                (float*)g + start, (float*)m + start, (float*)v + start, end - start, c);
        });
    }

    /// <summary>Whether libtorch's float sqrt (MKL's vmsSqrt, which libtorch_cpu exports on x64) can be called
    /// directly.</summary>
    public static bool HasLibtorchSqrt => LibtorchSqrt != null && SetMklThreadsHere != null;

    /// <summary>libtorch calls vmsSqrt with VML_HA | VML_FTZDAZ_OFF | VML_ERRMODE_IGNORE.</summary>
    const long LibtorchVmlMode = 0x2 | 0x140000 | 0x100;

    static readonly delegate* unmanaged<int, float*, float*, long, void> LibtorchSqrt =
        (delegate* unmanaged<int, float*, float*, long, void>)LibtorchExport("vmsSqrt");

    /// <summary>MKL's thread-local thread count (returns the previous one; 0: the global count). vmsSqrt on 1,024
    /// elements costs about 9 µs more when MKL may use its threads, so it is 1 within an update.</summary>
    static readonly delegate* unmanaged<int, int> SetMklThreadsHere =
        (delegate* unmanaged<int, int>)LibtorchExport("MKL_Set_Num_Threads_Local");

    static nint LibtorchExport(string symbol)
    {
        TorchNative.EnsureLoaded();
        foreach (var name in new[] { "libtorch_cpu.so", "torch_cpu", "libtorch_cpu.dylib" })
            if (NativeLibrary.TryLoad(name, out var library) && NativeLibrary.TryGetExport(library, symbol, out var at))
                return at;
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void UpdateAsLibtorch(float* p, float* g, float* m, float* v, long count, Coefficients c)
    {
        const int Chunk = 1024;
        float* root = stackalloc float[Chunk];
        int mklThreads = SetMklThreadsHere(1);
        try
        {
            for (long start = 0; start < count; start += Chunk)
            {
                int n = (int)Math.Min(Chunk, count - start);
                Moments(g + start, m + start, v + start, n, c);
                LibtorchSqrt(n, v + start, root, LibtorchVmlMode);
                Apply(p + start, m + start, root, n, c);
            }
        }
        finally { SetMklThreadsHere(mklThreads); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Moments(float* g, float* m, float* v, long count, Coefficients c)
    {
        var (beta1, keep1, beta2, keep2) = (Vector256.Create(c.Beta1), Vector256.Create(c.Keep1),
            Vector256.Create(c.Beta2), Vector256.Create(c.Keep2));
        long i = 0;
        for (; i + 8 <= count; i += 8)
        {
            var grad = Vector256.Load(g + i);
            Vector256.Store(Vector256.FusedMultiplyAdd(grad, keep1, Vector256.Load(m + i) * beta1), m + i);
            Vector256.Store(Vector256.FusedMultiplyAdd(keep2 * grad, grad, Vector256.Load(v + i) * beta2), v + i);
        }
        for (; i < count; i++)
        {
            m[i] = MathF.FusedMultiplyAdd(g[i], c.Keep1, m[i] * c.Beta1);
            v[i] = MathF.FusedMultiplyAdd(c.Keep2 * g[i], g[i], v[i] * c.Beta2);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Apply(float* p, float* m, float* root, long count, Coefficients c)
    {
        var (decay, correction2, eps, step) = (Vector256.Create(c.Decay), Vector256.Create(c.Correction2),
            Vector256.Create(c.Eps), Vector256.Create(c.StepSize));
        long i = 0;
        for (; i + 8 <= count; i += 8)
        {
            var denominator = Vector256.Load(root + i) / correction2 + eps;
            Vector256.Store(Vector256.Load(p + i) * decay + step * Vector256.Load(m + i) / denominator, p + i);
        }
        for (; i < count; i++) p[i] = p[i] * c.Decay + c.StepSize * m[i] / (root[i] / c.Correction2 + c.Eps);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Update(float* p, float* g, float* m, float* v, long count, Coefficients c)
    {
        var (decay, beta1, keep1, beta2, keep2) = (Vector256.Create(c.Decay), Vector256.Create(c.Beta1),
            Vector256.Create(c.Keep1), Vector256.Create(c.Beta2), Vector256.Create(c.Keep2));
        var (correction2, eps, step) = (Vector256.Create(c.Correction2), Vector256.Create(c.Eps),
            Vector256.Create(c.StepSize));
        bool decays = c.Decay != 1f;
        long i = 0;
        for (; i + 8 <= count; i += 8)
        {
            var grad = Vector256.Load(g + i);
            var weight = Vector256.Load(p + i);
            if (decays) weight *= decay;
            var first = Vector256.Load(m + i) * beta1 + keep1 * grad;
            var second = Vector256.Load(v + i) * beta2 + keep2 * grad * grad;
            var denominator = Vector256.Sqrt(second) / correction2 + eps;
            Vector256.Store(weight + step * (first / denominator), p + i);
            Vector256.Store(first, m + i);
            Vector256.Store(second, v + i);
        }
        for (; i < count; i++)
        {
            float grad = g[i], weight = decays ? p[i] * c.Decay : p[i];
            float first = m[i] * c.Beta1 + c.Keep1 * grad, second = v[i] * c.Beta2 + c.Keep2 * grad * grad;
            p[i] = weight + c.StepSize * (first / (MathF.Sqrt(second) / c.Correction2 + c.Eps));
            (m[i], v[i]) = (first, second);
        }
    }

    static nint Address(Tensor t)
    {
        fixed (byte* bytes = t.bytes) return (nint)bytes;
    }
}
