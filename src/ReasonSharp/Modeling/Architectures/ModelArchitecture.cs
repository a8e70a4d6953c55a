using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>How one layer attends: with or without rotary embeddings, over all earlier keys or a sliding window, and
/// with the global or the local rotary table.</summary>
public sealed record LayerAttention(bool Rope = true, int? SlidingWindow = null, bool LocalRope = false);

/// <summary>Family-specific config fields (beyond the shared ones in <see cref="ModelConfig"/>); each architecture
/// that has any defines its own record.</summary>
public abstract record ArchitectureSettings;

/// <summary>
/// What sets one model family apart: its config.json keys, its layer modules, its GGUF layout (llama.cpp's
/// architecture, tensor names, metadata), its LoRA target names and its default chat template. Everything else
/// (loading, saving, generation, training) is shared. A new family is one subclass, its modules, and one line in
/// <see cref="All"/>.
/// </summary>
public abstract class ModelArchitecture
{
    /// <summary>Every supported family, by config.json's model_type.</summary>
    public static readonly IReadOnlyList<ModelArchitecture> All =
    [
        new LlamaArchitecture(), new Qwen2Architecture(), new Qwen3Architecture(), new SmolLM3Architecture(),
        new Gemma3Architecture(),
    ];

    public static IEnumerable<string> ModelTypes => All.Select(a => a.ModelType);

    public static ModelArchitecture? Find(string modelType) => All.FirstOrDefault(a => a.ModelType == modelType);

    public static ModelArchitecture Get(string modelType) => Find(modelType) ?? throw new ReasonSharpException(
        $"model type '{modelType}' is not supported; expected one of {string.Join(", ", ModelTypes)}");

    /// <summary>config.json's model_type.</summary>
    public abstract string ModelType { get; }
    /// <summary>config.json's architectures[0] (the transformers class).</summary>
    public abstract string ClassName { get; }
    /// <summary>The transformers class of the family's sequence classifier (a reward model): `model.*` as the causal
    /// LM, a bias-free `score` head in place of lm_head.</summary>
    public virtual string SequenceClassificationClassName =>
        ClassName.Replace("ForCausalLM", "ForSequenceClassification", StringComparison.Ordinal);

    // ---- config.json ----

    /// <summary>A new model's config: the family's conventions applied to the shared fields.</summary>
    public virtual ModelConfig NewConfig(ModelConfig shared) => shared;

    /// <summary>Reads the family's own fields (and rejects what it cannot compute) on top of the shared ones.</summary>
    public virtual ModelConfig ReadConfig(ModelConfig shared, JsonObject json, FieldReader r, string path)
    {
        bool bias = r.Bool("attention_bias") ?? false;
        RejectSlidingWindow(json, r, path);
        return shared with { QkvBias = bias, OutputBias = bias, MlpBias = r.Bool("mlp_bias") ?? false };
    }

    /// <summary>Writes the family's own fields into config.json.</summary>
    public virtual void WriteConfig(ModelConfig config, JsonObject json)
    {
        json["attention_bias"] = config.QkvBias;
        json["mlp_bias"] = config.MlpBias;
        json["hidden_act"] = "silu";
        json["use_sliding_window"] = false;
    }

    protected static void RejectSlidingWindow(JsonObject json, FieldReader r, string path)
    {
        if (r.String("hidden_act") is { } act && act != "silu")
            throw new ReasonSharpException($"{path}: field 'hidden_act' is '{act}'; only 'silu' is supported");
        if (r.Bool("use_sliding_window") == true)
            throw new ReasonSharpException(
                $"{path}: field 'use_sliding_window' is true; sliding-window attention is not supported");
        if (json["layer_types"] is JsonArray types && types.Any(t => t?.GetValue<string>() != "full_attention"))
            throw new ReasonSharpException(
                $"{path}: field 'layer_types' asks for non-full attention layers, which are not supported");
    }

    // ---- modules ----

    public virtual DecoderLayer CreateLayer(ModelConfig config, int index, Device? device) =>
        new(config, index, device);

    /// <summary>How layer <paramref name="index"/> attends.</summary>
    public virtual LayerAttention Layer(ModelConfig config, int index) => new();

    /// <summary>Multiplier of the softmax logits (q·k); SDPA's 1/√head_dim by default.</summary>
    public virtual double AttentionScale(ModelConfig config) => 1 / Math.Sqrt(config.HeadDim);

    /// <summary>rope_theta of the local (sliding-window) layers' rotary table; null: one table for all.</summary>
    public virtual double? LocalRopeTheta(ModelConfig config) => null;

    /// <summary>Factor on the token embeddings (Gemma: √hidden_size).</summary>
    public virtual double EmbeddingScale(ModelConfig config) => 1;

    /// <summary>Norm weights are stored as w in x·(1 + w) (Gemma) rather than x·w.</summary>
    public virtual bool NormUnitOffset => false;

    /// <summary>tanh soft cap of the output logits, or null.</summary>
    public virtual double? FinalLogitSoftcapping(ModelConfig config) => null;

    /// <summary>The MLP's gate activation.</summary>
    public virtual Func<Tensor, Tensor> Activation(ModelConfig config) => Silu;

    /// <summary>SiLU, the default activation (the decode kernels recognise it by reference).</summary>
    public static readonly Func<Tensor, Tensor> Silu = x => nn.functional.silu(x);

    /// <summary>Parameters a layer has beyond attention, MLP and two norms.</summary>
    public virtual long ExtraLayerParameters(ModelConfig config) => 0;

    // ---- LoRA ----

    /// <summary>The linear projections of a layer, as module paths under model.layers.N (PEFT's target names are the
    /// last part).</summary>
    public virtual IReadOnlyList<string> LinearModules { get; } =
    [
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
    ];

    // ---- chat ----

    /// <summary>The chat template (a built-in name) used when the tokenizer has none; null: the tokenizer must
    /// have one.</summary>
    public virtual string? DefaultChatTemplate => null;

    // ---- GGUF (llama.cpp) ----

    /// <summary>llama.cpp's general.architecture.</summary>
    public virtual string GgufArchitecture => ModelType;

    /// <summary>llama.cpp rotates interleaved pairs (its "normal" RoPE): q/k rows are permuted from HF's
    /// rotate-half.</summary>
    public virtual bool GgufInterleavedRope => false;

    /// <summary>llama.cpp reads Llama-3 rope scaling as a rope_freqs tensor for this architecture.</summary>
    public virtual bool GgufRopeFrequencies => false;

    /// <summary>llama.cpp's name of each layer module (path under model.layers.N).</summary>
    public virtual IReadOnlyDictionary<string, string> GgufLayerTensors { get; } = new Dictionary<string, string>
    {
        ["input_layernorm"] = "attn_norm",
        ["post_attention_layernorm"] = "ffn_norm",
        ["self_attn.q_proj"] = "attn_q",
        ["self_attn.k_proj"] = "attn_k",
        ["self_attn.v_proj"] = "attn_v",
        ["self_attn.o_proj"] = "attn_output",
        ["self_attn.q_norm"] = "attn_q_norm",
        ["self_attn.k_norm"] = "attn_k_norm",
        ["mlp.gate_proj"] = "ffn_gate",
        ["mlp.up_proj"] = "ffn_up",
        ["mlp.down_proj"] = "ffn_down",
    };

    /// <summary>Why llama.cpp would compute something else for this config, or null when it computes the
    /// same.</summary>
    public virtual string? GgufProblem(ModelConfig config) => null;

    /// <summary>Metadata beyond the shared keys, without the "ARCH." prefix; values are uint, float, bool or
    /// string.</summary>
    public virtual IEnumerable<(string Key, object Value)> GgufMetadata(ModelConfig config) => [];
}
