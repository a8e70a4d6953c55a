using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// Root-mean-square layer norm: x / sqrt(mean(x²) + eps) · weight, computed in float32. With a unit offset (Gemma) the
/// factor is (1 + weight), and a new norm's weight is 0 instead of 1.
/// </summary>
public sealed class RmsNorm : ExplicitModule
{
    readonly double _eps;
    readonly Scalar _epsScalar;
    public Parameter Weight { get; }
    public bool UnitOffset { get; }
    public double Eps => _eps;

    public RmsNorm(int size, double eps, Device? device = null, bool unitOffset = false) : base(nameof(RmsNorm))
    {
        _eps = eps;
        _epsScalar = eps.ToScalar();
        UnitOffset = unitOffset;
        Weight = new Parameter(unitOffset ? zeros(size, device: device) : ones(size, device: device));
        register_parameter("weight", Weight);
    }

    public RmsNorm(int size, ModelConfig config, Device? device = null)
        : this(size, config.RmsNormEps, device, config.Arch.NormUnitOffset) { }

    public Tensor Forward(Tensor x)
    {
        if (!training && !UnitOffset && DecodeKernels.RmsNorm(x, Weight, _eps) is { } fast) return fast;
        using var scope = NewDisposeScope();
        var x32 = x.to(float32);
        var normed = x32 * rsqrt(x32.square().mean([-1L], keepdim: true).Plus(_epsScalar));
        if (UnitOffset)
            return (normed * Weight.to(float32).Plus(HeldScalars.One)).to(x.dtype).MoveToOuterDisposeScope();
        return (Weight * normed.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
