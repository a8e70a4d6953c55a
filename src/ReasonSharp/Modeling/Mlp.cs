using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>Gated feed-forward: down(act(gate(x)) · up(x)), act being the family's (SiLU, Gemma's tanh GELU).</summary>
public sealed class Mlp : ExplicitModule
{
    public Linear GateProj { get; }
    public Linear UpProj { get; }
    public Linear DownProj { get; }
    /// <summary>The gate's activation; tests may swap in a reference implementation's own.</summary>
    public Func<Tensor, Tensor> Activation { get; set; }

    public Mlp(ModelConfig config, Device? device = null) : base(nameof(Mlp))
    {
        GateProj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias, device: device);
        UpProj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias, device: device);
        DownProj = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: config.MlpBias, device: device);
        register_module("gate_proj", GateProj);
        register_module("up_proj", UpProj);
        register_module("down_proj", DownProj);
        Activation = config.Arch.Activation(config);
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (ReferenceEquals(Activation, ModelArchitecture.Silu)
            && Fused(x, ("gate_proj", GateProj), ("up_proj", UpProj)) is { } fused
            && DecodeKernels.SiluTimesUp(fused) is { } activated)
            return Project(activated, ("down_proj", DownProj))[0].MoveToOuterDisposeScope();
        var gateUp = Project(x, ("gate_proj", GateProj), ("up_proj", UpProj));
        return Project(Activation(gateUp[0]) * gateUp[1], ("down_proj", DownProj))[0].MoveToOuterDisposeScope();
    }
}
