using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>Rotary position embeddings (rotate-half layout, as Hugging Face's Llama/Qwen), with Llama-3 or linear frequency scaling.</summary>
public sealed class RotaryEmbedding : ExplicitModule
{
    readonly Tensor _invFreq, _frequencies, _sinSign;

    public RotaryEmbedding(ModelConfig config, Device? device = null) : base(nameof(RotaryEmbedding))
    {
        var inverse = InverseFrequencies(config);
        _invFreq = tensor(inverse, device: device);
        // Per head dimension: the frequency of its pair, and the sign rotate-half gives its partner ([-x₂, x₁]).
        _frequencies = tensor([.. inverse, .. inverse], device: device);
        _sinSign = tensor([.. inverse.Select(_ => -1f), .. inverse.Select(_ => 1f)], device: device);
        register_buffer("inv_freq", _invFreq, persistent: false);
        register_buffer("frequencies", _frequencies, persistent: false);
        register_buffer("sin_sign", _sinSign, persistent: false);
    }

    public static float[] InverseFrequencies(ModelConfig config)
    {
        int half = config.HeadDim / 2;
        var inv = new double[half];
        for (int i = 0; i < half; i++)
            inv[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / config.HeadDim);
        if (config.RopeScaling is { } s)
        {
            if (s.RopeType == "linear")
                for (int i = 0; i < half; i++) inv[i] /= s.Factor;
            else
            {
                double lowWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
                double highWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
                for (int i = 0; i < half; i++)
                {
                    double wavelen = 2 * Math.PI / inv[i];
                    if (wavelen > lowWavelen) inv[i] /= s.Factor;
                    else if (wavelen >= highWavelen)
                    {
                        double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                        inv[i] = (1 - smooth) * inv[i] / s.Factor + smooth * inv[i];
                    }
                }
            }
        }
        return inv.Select(v => (float)v).ToArray();
    }

    /// <summary>
    /// cos and signed sin of shape [B, 1, T, head_dim] for position ids of shape [B, T], computed once per forward for all
    /// layers. The sin of the first half of each head is negated: that is the sign rotate-half gives, see <see cref="Apply"/>.
    /// </summary>
    public (Tensor Cos, Tensor Sin) Forward(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var angles = (positionIds.to(float32).unsqueeze(-1) * _frequencies).unsqueeze(1);
        return (angles.cos().to(dtype).MoveToOuterDisposeScope(), (angles.sin() * _sinSign).to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>x·cos + rotate_half(x)·sin, where rotate_half(x) = [-x₂, x₁] = roll(x)·sign and the sign is already in <paramref name="sin"/>.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        return (x * cos).Plus(x.roll(x.shape[^1] / 2, -1) * sin).MoveToOuterDisposeScope();
    }
}
