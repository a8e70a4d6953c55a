using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// A module whose state-dict entries are exactly those it registers by name (the checkpoint keys). TorchSharp would
/// otherwise also register every Module/Tensor field and property backing field it finds by reflection.
/// </summary>
public abstract class ExplicitModule(string name) : nn.Module(name)
{
    protected override void RegisterComponents() { }
}
