using ReasonSharp.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Training.Lora;

/// <summary>A bare weight matrix registered as "weight" (lora_A / lora_B), so the keys are PEFT's.</summary>
public sealed class LoraWeight : ExplicitModule
{
    public Parameter Weight { get; }

    public LoraWeight(Tensor weight) : base(nameof(LoraWeight))
    {
        Weight = new Parameter(weight, requires_grad: true);
        register_parameter("weight", Weight);
    }
}

/// <summary>
/// A frozen Linear plus a low-rank update: y = W·x + b + scaling · B·A·dropout(x). Registered in place of the Linear,
/// it keeps the Linear's parameter names (q_proj.weight, q_proj.bias) and adds q_proj.lora_A.weight and q_proj.lora_B.weight.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>, IHasGenerator
{
    public Linear Base { get; }
    /// <summary>[r, in_features], PEFT's init: kaiming-uniform (a = √5), i.e. uniform(±1/√in).</summary>
    public LoraWeight LoraA { get; }
    /// <summary>[out_features, r], initialised to zeros so training starts from the base model.</summary>
    public LoraWeight LoraB { get; }
    public double Scaling { get; }
    public double Dropout { get; }
    /// <summary>When false the layer computes the base Linear alone (GRPO's reference model).</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Draws the dropout masks (shared by the adapters of a model); its state is saved in checkpoints and replayed by gradient checkpointing.</summary>
    public Generator? Generator { get; set; }

    public LoraLinear(Linear baseLinear, int r, double scaling, double dropout, Generator? generator = null) : base(nameof(LoraLinear))
    {
        Base = baseLinear;
        Scaling = scaling;
        Dropout = dropout;
        var weight = baseLinear.weight!;
        long inFeatures = weight.shape[1], outFeatures = weight.shape[0];
        using (no_grad())
        {
            double bound = 1.0 / Math.Sqrt(inFeatures);
            LoraA = new LoraWeight(empty(r, inFeatures, weight.dtype, weight.device).uniform_(-bound, bound, generator));
            LoraB = new LoraWeight(zeros(outFeatures, r, weight.dtype, weight.device));
        }
        register_parameter("weight", weight);
        if (baseLinear.bias is { } bias) register_parameter("bias", bias);
        register_module("lora_A", LoraA);
        register_module("lora_B", LoraB);
    }

    protected override void RegisterComponents() { }

    public override Tensor forward(Tensor x)
    {
        if (!Enabled) return Base.forward(x);
        using var scope = NewDisposeScope();
        var input = Dropout > 0 && training
            ? x * HeldScalars.With(1 - Dropout, keep => empty_like(x).bernoulli_(1 - Dropout, Generator).div_(keep))
            : x;
        var update = HeldScalars.With(Scaling,
            scaling => nn.functional.linear(nn.functional.linear(input, LoraA.Weight), LoraB.Weight).mul_(scaling));
        return Base.forward(x).add_(update, HeldScalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>scaling · B·A, the change this adapter makes to the base weight.</summary>
    public Tensor Delta()
    {
        using var _ = no_grad();
        return HeldScalars.With(Scaling, scaling => LoraB.Weight.matmul(LoraA.Weight).mul_(scaling));
    }
}
