using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// Tensor arithmetic whose scalar operands stay alive through the native call. TorchSharp turns numbers into
/// temporary <see cref="Scalar"/> objects (tensor + tensor passes alpha = 1 that way) and reads their handles without
/// keeping them alive, so a garbage collection started by another thread can finalize and free one while libtorch
/// still reads it: the op then fails with "Expected false to be true" from Scalar::toFloat, or reads garbage.
/// Measured: 141 failures in 5.1 million `a + b` in 20 s with a thread forcing collections (the loop of
/// HeldScalarsTests, 2026-12-06, nothing else running). The hot paths (model forward, sampling, training losses) use
/// these helpers instead.
/// </summary>
public static class HeldScalars
{
    /// <summary>1, alive for the program.</summary>
    public static readonly Scalar One = 1.0.ToScalar();

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a + s for a scalar the caller holds.</summary>
    public static Tensor Plus(this Tensor a, Scalar s) => a.add(s, One);

    /// <summary><paramref name="op"/> applied to <paramref name="value"/> as a scalar held until it returns.</summary>
    public static Tensor With(double value, Func<Scalar, Tensor> op)
    {
        using var scalar = value.ToScalar();
        return op(scalar);
    }
}
