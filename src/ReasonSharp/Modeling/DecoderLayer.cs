using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>Pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(·)). Families with more norms
/// derive.</summary>
public class DecoderLayer : ExplicitModule
{
    public Attention SelfAttn { get; }
    public Mlp Mlp { get; }
    public RmsNorm InputLayernorm { get; }
    public RmsNorm PostAttentionLayernorm { get; }

    public DecoderLayer(ModelConfig config, int layerIndex, Device? device = null) : base(nameof(DecoderLayer))
    {
        SelfAttn = new Attention(config, layerIndex, device);
        Mlp = new Mlp(config, device);
        InputLayernorm = new RmsNorm(config.HiddenSize, config, device);
        PostAttentionLayernorm = new RmsNorm(config.HiddenSize, config, device);
        register_module("self_attn", SelfAttn);
        register_module("mlp", Mlp);
        register_module("input_layernorm", InputLayernorm);
        register_module("post_attention_layernorm", PostAttentionLayernorm);
    }

    public virtual Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(SelfAttn.Forward(InputLayernorm.Forward(x), cos, sin, mask, cache));
        return h.Plus(Mlp.Forward(PostAttentionLayernorm.Forward(h))).MoveToOuterDisposeScope();
    }
}
