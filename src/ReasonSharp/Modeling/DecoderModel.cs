using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>The transformer body (`model.*` keys): token embeddings, decoder layers, final norm.</summary>
public sealed class DecoderModel : ExplicitModule
{
    public Embedding EmbedTokens { get; }
    public ModuleList<DecoderLayer> Layers { get; }
    public RmsNorm Norm { get; }
    public RotaryEmbedding Rotary { get; }

    /// <summary>Called around each layer's forward; the default runs it directly. Gradient checkpointing replaces it.</summary>
    public Func<DecoderLayer, Tensor, Tensor, Tensor, Tensor?, KvCache?, Tensor>? LayerRunner { get; set; }

    public DecoderModel(ModelConfig config, Device? device = null) : base(nameof(DecoderModel))
    {
        EmbedTokens = nn.Embedding(config.VocabSize, config.HiddenSize, device: device);
        Layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new DecoderLayer(config, i, device)).ToArray());
        Norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, device);
        Rotary = new RotaryEmbedding(config, device);
        register_module("embed_tokens", EmbedTokens);
        register_module("layers", Layers);
        register_module("norm", Norm);
        register_module("rotary_emb", Rotary);
    }

    /// <param name="inputIds">[B, T] token ids.</param>
    /// <param name="positionIds">[B, T]; defaults to past length + 0..T-1.</param>
    /// <param name="attentionMask">[B, past + T], 1 for real tokens and 0 for padding; null when nothing is padded.</param>
    /// <param name="sequenceIds">[B, T] ids of packed sequences; attention never crosses them.</param>
    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null, Tensor? sequenceIds = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long batch = inputIds.shape[0], steps = inputIds.shape[1];
        long past = cache?.Length ?? 0;
        positionIds ??= arange(past, past + steps, device: inputIds.device).unsqueeze(0).expand(batch, steps);
        var hidden = EmbedTokens.forward(inputIds);
        var (cos, sin) = Rotary.Forward(positionIds, hidden.dtype);
        var mask = AttentionMask.Build(batch, steps, past, attentionMask, sequenceIds, inputIds.device);
        foreach (var layer in Layers)
            hidden = LayerRunner is null ? layer.Forward(hidden, cos, sin, mask, cache) : LayerRunner(layer, hidden, cos, sin, mask, cache);
        cache?.Advance((int)steps);
        return Norm.Forward(hidden).MoveToOuterDisposeScope();
    }
}
