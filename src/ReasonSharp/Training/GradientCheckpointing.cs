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

    public static bool IsEnabled(CausalLM model) =>
        model.Model.LayerRunner == (Func<DecoderLayer, Tensor, Tensor, Tensor, Tensor?, KvCache?, Tensor>)RunLayer;

    static Tensor RunLayer(DecoderLayer layer, Tensor hidden, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        if (cache is not null || !is_grad_enabled()) return layer.Forward(hidden, cos, sin, mask, cache);
        // With a frozen embedding (LoRA) nothing upstream needs a gradient, but the layer's own parameters do: make
        // the input a leaf that requires one, so the recomputation node is part of the graph.
        if (!hidden.requires_grad && layer.parameters().Any(p => p.requires_grad))
            hidden = hidden.detach().requires_grad_(true);
        return CheckpointedLayer.apply(hidden, cos, sin, mask, layer);
    }

    /// <summary>The random states a layer's forward may draw from: torch's global CPU generator and the generators its
    /// modules own.</summary>
    sealed class RandomStates : IDisposable
    {
        readonly Tensor _global;
        readonly List<(Generator Generator, Tensor State)> _owned;

        RandomStates(Tensor global, List<(Generator, Tensor)> owned) => (_global, _owned) = (global, owned);

        public static RandomStates Capture(nn.Module layer) => new(
            random.get_rng_state().DetachFromDisposeScope(),
            layer.modules().OfType<IHasGenerator>().Select(m => m.Generator).OfType<Generator>().Distinct()
                .Select(g => (g, g.get_state().DetachFromDisposeScope())).ToList());

        /// <summary>Sets the captured states, runs <paramref name="action"/>, then puts the current states
        /// back.</summary>
        public T Replay<T>(Func<T> action)
        {
            var current = CurrentStatesOf(this);
            Apply(_global, _owned);
            try { return action(); }
            finally
            {
                Apply(current._global, current._owned);
                current.Dispose();
            }
        }

        static RandomStates CurrentStatesOf(RandomStates like) =>
            new(random.get_rng_state(), like._owned.Select(o => (o.Generator, o.Generator.get_state())).ToList());

        static void Apply(Tensor global, List<(Generator Generator, Tensor State)> owned)
        {
            random.set_rng_state(global);
            foreach (var (generator, state) in owned) generator.set_state(state);
        }

        public void Dispose()
        {
            _global.Dispose();
            foreach (var (_, state) in _owned) state.Dispose();
        }
    }

    sealed class CheckpointedLayer : autograd.SingleTensorFunction<CheckpointedLayer>
    {
        public override string Name => "CheckpointedDecoderLayer";

        // vars: hidden, cos, sin, mask (may be null), layer.
        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (hidden, cos, sin, mask, layer) =
                ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], vars[3] as Tensor, (DecoderLayer)vars[4]);
            ctx.save_for_backward([hidden, cos, sin, mask!]);
            ctx.save_data("layer", layer);
            ctx.save_data("rng", RandomStates.Capture(layer));
            return layer.Forward(hidden, cos, sin, mask, null);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            Interlocked.Increment(ref _recomputations);
            var saved = ctx.get_saved_variables();
            var layer = (DecoderLayer)ctx.get_data("layer");
            var rng = (RandomStates)ctx.get_data("rng");
            Tensor? inputGrad;
            using (var scope = NewDisposeScope())
            using (enable_grad())
            {
                bool inputNeedsGrad = saved[0].requires_grad;
                var input = saved[0].detach().requires_grad_(inputNeedsGrad);
                var mask = saved[3] is { IsInvalid: false } m && m.numel() > 0 ? m : null;
                var output = rng.Replay(() => layer.Forward(input, saved[1], saved[2], mask, null));
                output.backward([gradOutput]);
                inputGrad = inputNeedsGrad ? input.grad?.MoveToOuterDisposeScope() : null;
            }
            foreach (var t in saved) t?.Dispose();
            rng.Dispose();
            return [inputGrad!, null!, null!, null!, null!];
        }
    }
}
