using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// A module whose state-dict entries are exactly those it registers by name (the checkpoint keys). TorchSharp would
/// otherwise also register every Module/Tensor field and property backing field it finds by reflection.
/// </summary>
public abstract class ExplicitModule(string name) : nn.Module(name)
{
    readonly Dictionary<string, nn.Module<Tensor, Tensor>> _replaced = [];

    protected override void RegisterComponents() { }

    /// <summary>
    /// Registers <paramref name="replacement"/> under the name of the child <paramref name="childName"/> (e.g. q_proj), so
    /// that forward calls it instead (a LoRA wrapper around the original Linear). Passing the original back undoes it.
    /// </summary>
    public void ReplaceChild(string childName, nn.Module<Tensor, Tensor> replacement)
    {
        if (!named_children().Any(c => c.name == childName))
            throw new ArgumentException($"{GetType().Name} has no child module '{childName}'", nameof(childName));
        register_module(childName, null!);
        register_module(childName, replacement);
        _replaced[childName] = replacement;
    }

    /// <summary>The module that computes <paramref name="childName"/>: its replacement if any, else <paramref name="original"/>.</summary>
    protected nn.Module<Tensor, Tensor> Child(string childName, nn.Module<Tensor, Tensor> original) =>
        _replaced.TryGetValue(childName, out var replacement) ? replacement : original;

    /// <summary>
    /// The outputs of several linear children applied to the same input. In inference (eval mode, no autograd), when none
    /// is replaced and the decode kernel applies (float32 on the CPU, few rows), they are computed in one pass into one
    /// tensor and returned as views of it; otherwise each child (or its replacement) runs its own forward.
    /// </summary>
    protected Tensor[] Project(Tensor x, params ReadOnlySpan<(string Name, Linear Layer)> children)
    {
        var outputs = new Tensor[children.Length];
        if (Fused(x, children) is { } fused)
        {
            long offset = 0;
            for (int i = 0; i < outputs.Length; i++)
            {
                long width = children[i].Layer.weight!.size(0);
                outputs[i] = children.Length == 1 ? fused : fused.narrow(-1, offset, width);
                offset += width;
            }
            return outputs;
        }
        for (int i = 0; i < outputs.Length; i++) outputs[i] = Child(children[i].Name, children[i].Layer).forward(x);
        return outputs;
    }

    /// <summary>The outputs of several linear children side by side in one tensor [.., Σ out_features], computed in one
    /// pass by the decode kernel; null outside inference, when a child is replaced or when the kernel does not
    /// apply.</summary>
    protected Tensor? Fused(Tensor x, params ReadOnlySpan<(string Name, Linear Layer)> children)
    {
        if (training) return null;
        var weights = new (Tensor, Tensor?)[children.Length];
        for (int i = 0; i < children.Length; i++)
        {
            if (_replaced.ContainsKey(children[i].Name)) return null;
            weights[i] = (children[i].Layer.weight!, children[i].Layer.bias);
        }
        return DecodeKernels.Linear(x, weights);
    }
}
