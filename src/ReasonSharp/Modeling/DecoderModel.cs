using TorchSharp;
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
    /// <summary>The rotary table of local (sliding-window) layers when the family gives them their own theta.</summary>
    public RotaryEmbedding? RotaryLocal { get; }
    readonly double _embeddingScale;

    /// <summary>Called around each layer's forward; the default runs it directly. Gradient checkpointing replaces it.</summary>
    public Func<DecoderLayer, Tensor, Tensor, Tensor, Tensor?, KvCache?, Tensor>? LayerRunner { get; set; }

    public DecoderModel(ModelConfig config, Device? device = null) : base(nameof(DecoderModel))
    {
        EmbedTokens = nn.Embedding(config.VocabSize, config.HiddenSize, device: device);
        Layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers)
            .Select(i => config.Arch.CreateLayer(config, i, device)).ToArray());
        Norm = new RmsNorm(config.HiddenSize, config, device);
        Rotary = new RotaryEmbedding(config, device);
        _embeddingScale = config.Arch.EmbeddingScale(config);
        register_module("embed_tokens", EmbedTokens);
        register_module("layers", Layers);
        register_module("norm", Norm);
        register_module("rotary_emb", Rotary);
        if (config.Arch.LocalRopeTheta(config) is { } localTheta)
        {
            RotaryLocal = new RotaryEmbedding(config with { RopeTheta = localTheta, RopeScaling = null }, device);
            register_module("rotary_emb_local", RotaryLocal);
        }
    }

    /// <param name="inputIds">[B, T] token ids.</param>
    /// <param name="positionIds">[B, T]; defaults to past length + 0..T-1.</param>
    /// <param name="attentionMask">[B, past + T], 1 for real tokens and 0 for padding; null when nothing is padded.</param>
    /// <param name="sequenceIds">[B, T] ids of packed sequences; attention never crosses them.</param>
    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null, Tensor? sequenceIds = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long batch = inputIds.size(0), steps = inputIds.size(1);
        long past = cache?.Length ?? 0;
        positionIds ??= arange(past, past + steps, device: inputIds.device).unsqueeze(0).expand(batch, steps);
        var hidden = EmbedTokens.forward(inputIds);
        if (_embeddingScale != 1) hidden = hidden * torch.tensor((float)_embeddingScale).to(hidden.dtype);
        var (cos, sin) = Rotary.Forward(positionIds, hidden.dtype);
        var (localCos, localSin) = RotaryLocal?.Forward(positionIds, hidden.dtype) ?? (cos, sin);
        var mask = AttentionMask.Build(batch, steps, past, attentionMask, sequenceIds, inputIds.device);
        var windowed = new Dictionary<int, Tensor?>();
        foreach (var layer in Layers)
        {
            var layout = layer.SelfAttn.Layout;
            var (c, s) = layout.LocalRope ? (localCos, localSin) : (cos, sin);
            var m = layout.SlidingWindow is not { } window ? mask : windowed.TryGetValue(window, out var w) ? w
                : windowed[window] = AttentionMask.Window(mask, batch, steps, past, window, inputIds.device);
            hidden = LayerRunner is null ? layer.Forward(hidden, c, s, m, cache) : LayerRunner(layer, hidden, c, s, m, cache);
        }
        cache?.Advance((int)steps);
        return Norm.Forward(hidden).MoveToOuterDisposeScope();
    }
}
