namespace ReasonSharp.Modeling;

/// <summary>Named shapes for `reason init-model --size`: tiny ones for CPU training and tests, and real ones for reference.</summary>
public sealed record ModelShape(int HiddenSize, int IntermediateSize, int Layers, int Heads, int KvHeads, double RopeTheta = 10000, int? HeadDim = null);

public static class ModelPresets
{
    public static readonly IReadOnlyDictionary<string, ModelShape> Shapes = new Dictionary<string, ModelShape>
    {
        ["nano"] = new(64, 192, 2, 4, 2),
        ["tiny"] = new(128, 384, 4, 4, 2),
        ["small"] = new(256, 768, 6, 8, 4),
        ["25m"] = new(512, 1408, 6, 8, 4),
        ["100m"] = new(768, 2048, 12, 12, 4),
        ["qwen2.5-0.5b"] = new(896, 4864, 24, 14, 2, 1_000_000),
        ["qwen3-0.6b"] = new(1024, 3072, 28, 16, 8, 1_000_000, 128),
    };

    public static ModelShape Get(string name) => Shapes.TryGetValue(name, out var shape) ? shape
        : throw new ReasonSharpException($"--size '{name}' is not a known preset; expected one of {string.Join(", ", Shapes.Keys)}");
}
