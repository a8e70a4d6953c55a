using ReasonSharp.Modeling;

namespace ReasonSharp.Tests.Modeling;

/// <summary>Tiny randomly initialised configurations of each architecture, for fast tests.</summary>
public static class TinyModels
{
    /// <summary>Two layers; four for smollm3, whose fourth layer is its first NoPE layer.</summary>
    public static ModelConfig Config(string modelType, bool tied = true, int vocab = 97, int kvHeads = 2) =>
        ModelConfig.Create(modelType, vocabSize: vocab, hiddenSize: 32, intermediateSize: 64, layers: modelType == "smollm3" ? 4 : 2,
            heads: 4, kvHeads: kvHeads, headDim: modelType == "qwen3" ? 16 : null, tieWordEmbeddings: tied, eosTokenIds: [1], bosTokenId: 0);

    public static CausalLM Create(string modelType, bool tied = true, long seed = 1, int kvHeads = 2)
    {
        var model = new CausalLM(Config(modelType, tied, kvHeads: kvHeads), seed: seed);
        model.eval();
        return model;
    }

    public static IEnumerable<object[]> Architectures() =>
        new[] { "llama", "qwen2", "qwen3", "smollm3", "gemma3_text" }.SelectMany(a => new[] { new object[] { a, true }, new object[] { a, false } });
}
