using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>Rotary position embeddings (rotate-half layout, as Hugging Face's Llama/Qwen), with Llama-3 or linear frequency scaling.</summary>
public sealed class RotaryEmbedding : ExplicitModule
{
    readonly Tensor _invFreq;

    public RotaryEmbedding(ModelConfig config, Device? device = null) : base(nameof(RotaryEmbedding))
    {
        _invFreq = tensor(InverseFrequencies(config), device: device);
        register_buffer("inv_freq", _invFreq, persistent: false);
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

    /// <summary>cos and sin of shape [B, 1, T, head_dim] for position ids of shape [B, T].</summary>
    public (Tensor Cos, Tensor Sin) Forward(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var freqs = positionIds.to(float32).unsqueeze(-1) * _invFreq;
        var emb = cat([freqs, freqs], -1).unsqueeze(1);
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }
}
