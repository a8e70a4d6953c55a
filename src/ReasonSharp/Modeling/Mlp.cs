using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>SiLU-gated feed-forward: down(silu(gate(x)) · up(x)).</summary>
public sealed class Mlp : ExplicitModule
{
    public Linear GateProj { get; }
    public Linear UpProj { get; }
    public Linear DownProj { get; }

    public Mlp(ModelConfig config, Device? device = null) : base(nameof(Mlp))
    {
        GateProj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias, device: device);
        UpProj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias, device: device);
        DownProj = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: config.MlpBias, device: device);
        register_module("gate_proj", GateProj);
        register_module("up_proj", UpProj);
        register_module("down_proj", DownProj);
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gateUp = Project(x, ("gate_proj", GateProj), ("up_proj", UpProj));
        return Project(nn.functional.silu(gateUp[0]) * gateUp[1], ("down_proj", DownProj))[0].MoveToOuterDisposeScope();
    }
}
