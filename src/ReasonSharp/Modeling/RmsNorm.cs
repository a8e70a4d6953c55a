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
    public Parameter Weight { get; }
    public bool UnitOffset { get; }

    public RmsNorm(int size, double eps, Device? device = null, bool unitOffset = false) : base(nameof(RmsNorm))
    {
        _eps = eps;
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
        var normed = x32 * rsqrt(x32.pow(2).mean([-1L], keepdim: true) + _eps);
        if (UnitOffset) return (normed * (1 + Weight.to(float32))).to(x.dtype).MoveToOuterDisposeScope();
        return (Weight * normed.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
