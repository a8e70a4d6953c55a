using ReasonSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Training;

/// <summary>
/// Per-layer activation recomputation. Each decoder layer runs forward without autograd, keeping only its input; in
/// backward the layer is recomputed with autograd from that input (with the random state it saw, so dropout repeats)
/// and the incoming gradient is back-propagated through it, which accumulates its parameters' gradients and yields the
/// gradient of its input. Peak activation memory drops from all layers' intermediates to one layer's plus the inputs.
/// </summary>
public static class GradientCheckpointing
{
    /// <summary>Installs the recomputing layer runner on the model (idempotent).</summary>
    public static void Enable(CausalLM model) => model.Model.LayerRunner = RunLayer;

    public static void Disable(CausalLM model) => model.Model.LayerRunner = null;

    /// <summary>Layer recomputations done in backward so far (for tests and diagnostics).</summary>
    public static long Recomputations => Interlocked.Read(ref _recomputations);
    static long _recomputations;

    public static bool IsEnabled(CausalLM model) => model.Model.LayerRunner == (Func<DecoderLayer, Tensor, Tensor, Tensor, Tensor?, KvCache?, Tensor>)RunLayer;

    static Tensor RunLayer(DecoderLayer layer, Tensor hidden, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        if (cache is not null || !is_grad_enabled()) return layer.Forward(hidden, cos, sin, mask, cache);
        // With a frozen embedding (LoRA) nothing upstream needs a gradient, but the layer's own parameters do: make
        // the input a leaf that requires one, so the recomputation node is part of the graph.
        if (!hidden.requires_grad && layer.parameters().Any(p => p.requires_grad))
            hidden = hidden.detach().requires_grad_(true);
        return CheckpointedLayer.apply(hidden, cos, sin, mask, layer);
    }

    sealed class RandomState(Tensor state) { public Tensor State { get; } = state; }

    sealed class CheckpointedLayer : autograd.SingleTensorFunction<CheckpointedLayer>
    {
        public override string Name => "CheckpointedDecoderLayer";

        // vars: hidden, cos, sin, mask (may be null), layer.
        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (hidden, cos, sin, mask, layer) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], vars[3] as Tensor, (DecoderLayer)vars[4]);
            ctx.save_for_backward([hidden, cos, sin, mask!]);
            ctx.save_data("layer", layer);
            ctx.save_data("rng", new RandomState(random.get_rng_state().DetachFromDisposeScope()));
            return layer.Forward(hidden, cos, sin, mask, null);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            Interlocked.Increment(ref _recomputations);
            var saved = ctx.get_saved_variables();
            var layer = (DecoderLayer)ctx.get_data("layer");
            var rng = ((RandomState)ctx.get_data("rng")).State;
            Tensor? inputGrad;
            using (var scope = NewDisposeScope())
            using (enable_grad())
            {
                bool inputNeedsGrad = saved[0].requires_grad;
                var input = saved[0].detach().requires_grad_(inputNeedsGrad);
                var mask = saved[3] is { IsInvalid: false } m && m.numel() > 0 ? m : null;
                var current = random.get_rng_state();
                random.set_rng_state(rng);
                var output = layer.Forward(input, saved[1], saved[2], mask, null);
                random.set_rng_state(current);
                output.backward([gradOutput]);
                inputGrad = inputNeedsGrad ? input.grad?.MoveToOuterDisposeScope() : null;
            }
            foreach (var t in saved) t?.Dispose();
            rng.Dispose();
            return [inputGrad!, null!, null!, null!, null!];
        }
    }
}
