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
}
