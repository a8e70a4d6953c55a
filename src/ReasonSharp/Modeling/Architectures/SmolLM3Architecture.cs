using System.Text.Json.Nodes;

namespace ReasonSharp.Modeling;

/// <summary>SmolLM3's no_rope_layers: per layer, 1 when it applies rotary embeddings and 0 for a NoPE layer.</summary>
public sealed record SmolLM3Settings(IReadOnlyList<int> NoRopeLayers) : ArchitectureSettings
{
    /// <summary>transformers' default: every no_rope_layer_interval-th layer (counting from 1) is NoPE.</summary>
    public static SmolLM3Settings Every(int interval, int layers) =>
        new(Enumerable.Range(0, layers).Select(i => (i + 1) % interval != 0 ? 1 : 0).ToArray());
}

/// <summary>SmolLM3ForCausalLM: Llama with NoPE layers (no rotary embeddings on every fourth layer by
/// default).</summary>
public sealed class SmolLM3Architecture : ModelArchitecture
{
    /// <summary>llama.cpp's smollm3 graph skips RoPE on every fourth layer and reads no per-layer list.</summary>
    const int LlamaCppNoRopeStep = 4;

    public override string ModelType => "smollm3";
    public override string ClassName => "SmolLM3ForCausalLM";
    public override string? DefaultChatTemplate => "dual-mode";
    public override bool GgufInterleavedRope => true;

    static SmolLM3Settings Settings(ModelConfig config) =>
        config.Settings as SmolLM3Settings ?? SmolLM3Settings.Every(4, config.NumHiddenLayers);

    public override ModelConfig NewConfig(ModelConfig shared) =>
        shared with { Settings = SmolLM3Settings.Every(4, shared.NumHiddenLayers) };

    public override ModelConfig ReadConfig(ModelConfig shared, JsonObject json, FieldReader r, string path)
    {
        // transformers' SmolLM3 defaults: tied embeddings, rope_theta 2e6.
        var config = base.ReadConfig(shared, json, r, path) with
        {
            TieWordEmbeddings = r.Bool("tie_word_embeddings") ?? true,
            RopeTheta = r.Double("rope_theta") ?? 2_000_000,
        };
        int interval = r.Int("no_rope_layer_interval") ?? 4;
        if (interval <= 0)
            throw new ReasonSharpException($"{path}: field 'no_rope_layer_interval' must be positive, got {interval}");
        if (json["no_rope_layers"] is null)
            return config with { Settings = SmolLM3Settings.Every(interval, config.NumHiddenLayers) };
        var flags = r.IntOrList("no_rope_layers");
        if (flags.Count < config.NumHiddenLayers || flags.Any(f => f is not (0 or 1)))
            throw new ReasonSharpException($"{path}: field 'no_rope_layers' must list 0 or 1 for each of the " +
                $"{config.NumHiddenLayers} layers (1 = rotary embeddings), got [{string.Join(", ", flags)}]");
        return config with { Settings = new SmolLM3Settings(flags.Take(config.NumHiddenLayers).ToArray()) };
    }

    public override void WriteConfig(ModelConfig config, JsonObject json)
    {
        base.WriteConfig(config, json);
        json["no_rope_layers"] = new JsonArray(Settings(config).NoRopeLayers.Select(f => (JsonNode)f).ToArray());
    }

    public override LayerAttention Layer(ModelConfig config, int index) =>
        new(Rope: Settings(config).NoRopeLayers[index] == 1);

    public override string? GgufProblem(ModelConfig config)
    {
        var expected = SmolLM3Settings.Every(LlamaCppNoRopeStep, config.NumHiddenLayers).NoRopeLayers;
        var actual = Settings(config).NoRopeLayers;
        return actual.SequenceEqual(expected) ? null
            : $"no_rope_layers is [{string.Join(", ", actual)}], but llama.cpp's smollm3 graph " +
              $"always skips RoPE on every {LlamaCppNoRopeStep}th layer ([{string.Join(", ", expected)}])";
    }
}
