using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>Root-mean-square layer norm: x / sqrt(mean(x²) + eps) · weight, computed in float32.</summary>
public sealed class RmsNorm : ExplicitModule
{
    readonly double _eps;
    public Parameter Weight { get; }

    public RmsNorm(int size, double eps, Device? device = null) : base(nameof(RmsNorm))
    {
        _eps = eps;
        Weight = new Parameter(ones(size, device: device));
        register_parameter("weight", Weight);
    }

    public Tensor Forward(Tensor x)
    {
        if (!training && DecodeKernels.RmsNorm(x, Weight, _eps) is { } fast) return fast;
        using var scope = NewDisposeScope();
        var x32 = x.to(float32);
        var normed = x32 * rsqrt(x32.pow(2).mean([-1L], keepdim: true) + _eps);
        return (Weight * normed.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
