using ReasonSharp.Modeling;

namespace ReasonSharp.Generation;

/// <summary>Generation for a loaded model folder (here, so that Modeling does not depend on Generation).</summary>
public static class LanguageModelGeneration
{
    /// <summary>A batched generation engine over the model, decoding with its tokenizer.</summary>
    public static GenerationEngine Engine(this LanguageModel model) => new(model.Model, model.Decode);
}
