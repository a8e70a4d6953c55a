using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Training;

/// <summary>The reference model of GRPO's KL and of DPO, when it is not the LoRA base with adapters off.</summary>
public static class FrozenModel
{
    /// <summary>A copy of <paramref name="model"/>'s weights on its device, in eval mode, with no gradients.</summary>
    public static CausalLM Copy(CausalLM model)
    {
        var copy = new CausalLM(model.Config, model.Device, initialize: false);
        using (no_grad())
        {
            var source = model.state_dict();
            foreach (var (name, tensor) in copy.state_dict()) tensor.copy_(source[name]);
        }
        foreach (var p in copy.parameters()) p.requires_grad = false;
        copy.eval();
        return copy;
    }
}
