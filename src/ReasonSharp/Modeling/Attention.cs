using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// Grouped-query self-attention with rotary embeddings (llama, qwen2 with q/k/v biases, qwen3 and gemma3 with q/k norms),
/// as the family lays out each layer (<see cref="LayerAttention"/>: NoPE layers, sliding windows).
/// </summary>
public sealed class Attention : ExplicitModule
{
    readonly int _heads, _kvHeads, _headDim, _layerIndex;
    /// <summary>Factor on the queries that turns SDPA's 1/√head_dim into the family's attention scale.</summary>
    readonly double _queryScale;
    readonly Scalar _queryScaleScalar;
    public LayerAttention Layout { get; }
    public Linear QProj { get; }
    public Linear KProj { get; }
    public Linear VProj { get; }
    public Linear OProj { get; }
    public RmsNorm? QNorm { get; }
    public RmsNorm? KNorm { get; }

    public Attention(ModelConfig config, int layerIndex, Device? device = null) : base(nameof(Attention))
    {
        (_heads, _kvHeads, _headDim, _layerIndex) = (config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim, layerIndex);
        Layout = config.Arch.Layer(config, layerIndex);
        _queryScale = config.Arch.AttentionScale(config) * Math.Sqrt(_headDim);
        _queryScaleScalar = _queryScale.ToScalar();
        QProj = nn.Linear(config.HiddenSize, _heads * _headDim, hasBias: config.QkvBias, device: device);
        KProj = nn.Linear(config.HiddenSize, _kvHeads * _headDim, hasBias: config.QkvBias, device: device);
        VProj = nn.Linear(config.HiddenSize, _kvHeads * _headDim, hasBias: config.QkvBias, device: device);
        OProj = nn.Linear(_heads * _headDim, config.HiddenSize, hasBias: config.OutputBias, device: device);
        register_module("q_proj", QProj);
        register_module("k_proj", KProj);
        register_module("v_proj", VProj);
        register_module("o_proj", OProj);
        if (config.QkNorm)
        {
            QNorm = new RmsNorm(_headDim, config, device);
            KNorm = new RmsNorm(_headDim, config, device);
            register_module("q_norm", QNorm);
            register_module("k_norm", KNorm);
        }
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        if (cache is not null && x.size(1) == 1 && !training && DecodeStep(x, cos, sin, mask, cache) is { } decoded)
            return decoded;
        using var scope = NewDisposeScope();
        long batch = x.size(0), steps = x.size(1);
        var qkv = Project(x, ("q_proj", QProj), ("k_proj", KProj), ("v_proj", VProj));
        var q = qkv[0].view(batch, steps, _heads, _headDim);
        var k = qkv[1].view(batch, steps, _kvHeads, _headDim);
        var v = qkv[2].view(batch, steps, _kvHeads, _headDim).transpose(1, 2);
        if (QNorm is not null) q = QNorm.Forward(q);
        if (KNorm is not null) k = KNorm.Forward(k);
        q = q.transpose(1, 2);
        k = k.transpose(1, 2);
        if (Layout.Rope)
        {
            q = RotaryEmbedding.Apply(q, cos, sin);
            k = RotaryEmbedding.Apply(k, cos, sin);
        }
        if (_queryScale != 1) q = q * _queryScaleScalar;
        bool causal = mask is null && (cache is null || cache.Length == 0) && steps > 1;
        if (cache is not null) (k, v) = cache.Append(_layerIndex, k, v);
        Tensor merged;
        if (steps == 1)
        {
            // One query per row: the query heads that share a key/value head become that head's queries, so attention
            // reads the keys and values (the whole cache when decoding) where they are, without repeat_interleave copies.
            var (keyBuffer, valueBuffer) = cache?.Buffers(_layerIndex) ?? (k, v);
            merged = (training ? null : DecodeKernels.Attention(q, keyBuffer, valueBuffer, (int)k.size(2), mask))
                ?? nn.functional.scaled_dot_product_attention(q.reshape(batch, _kvHeads, _heads / _kvHeads, _headDim), k, v, attn_mask: mask)
                    .reshape(batch, 1, _heads * _headDim);
        }
        else
        {
            if (_kvHeads != _heads)
            {
                k = k.repeat_interleave(_heads / _kvHeads, dim: 1);
                v = v.repeat_interleave(_heads / _kvHeads, dim: 1);
            }
            var attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask, is_casual: causal);
            merged = attended.transpose(1, 2).reshape(batch, steps, _heads * _headDim);
        }
        return Project(merged, ("o_proj", OProj))[0].MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One decode step in three kernel calls (the path above computes the same, op by op, everywhere else): q/k/v in
    /// one pass over the weights, norms + rotary + the cache write, and attention over the cache in place. Null when
    /// a kernel does not apply (training, LoRA, not float32 on the CPU, Gemma's (1 + w) norms, …).
    /// </summary>
    Tensor? DecodeStep(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache cache)
    {
        if (QNorm is { UnitOffset: true } || KNorm is { UnitOffset: true }) return null;
        using var scope = NewDisposeScope();
        if (Fused(x, ("q_proj", QProj), ("k_proj", KProj), ("v_proj", VProj)) is not { } qkv) return null;
        var (keys, values) = cache.Buffers(_layerIndex);
        var q = DecodeKernels.RotateIntoCache(qkv, _heads, _kvHeads, Layout.Rope ? cos : null, Layout.Rope ? sin : null,
            QNorm is null ? null : (QNorm.Weight, QNorm.Eps), KNorm is null ? null : (KNorm.Weight, KNorm.Eps),
            (float)_queryScale, keys, values, cache.Length);
        if (q is null || DecodeKernels.Attention(q, keys, values, cache.Length + 1, mask) is not { } merged)
            return null;
        return Project(merged, ("o_proj", OProj))[0].MoveToOuterDisposeScope();
    }
}
