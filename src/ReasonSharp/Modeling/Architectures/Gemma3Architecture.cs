using System.Text.Json.Nodes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>Gemma 3's own config fields: which layers slide, how far, and their rope and attention scale.</summary>
public sealed record Gemma3Settings(
    int? SlidingWindow, IReadOnlyList<string> LayerTypes, double RopeLocalBaseFreq = 10000,
    double QueryPreAttnScalar = 256, double? FinalLogitSoftcapping = null, int SlidingWindowPattern = 6)
    : ArchitectureSettings
{
    public const string Sliding = "sliding_attention", Full = "full_attention";

    /// <summary>transformers' layer_types: every pattern-th layer (counting from 1) is global, the others
    /// slide.</summary>
    public static IReadOnlyList<string> Pattern(int pattern, int layers) =>
        Enumerable.Range(0, layers).Select(i => (i + 1) % pattern != 0 ? Sliding : Full).ToArray();
}

/// <summary>
/// Gemma3ForCausalLM (model_type gemma3_text): RMSNorm scaling by (1 + w), embeddings scaled by √hidden_size, a
/// tanh-GELU gated MLP, norms before and after attention and MLP, q/k norms, sliding-window layers with their own rope
/// theta between global ones, query_pre_attn_scalar as the attention scale, and optional final logit soft-capping.
/// </summary>
public sealed class Gemma3Architecture : ModelArchitecture
{
    public override string ModelType => "gemma3_text";
    public override string ClassName => "Gemma3ForCausalLM";
    public override string SequenceClassificationClassName => "Gemma3TextForSequenceClassification";
    public override string GgufArchitecture => "gemma3";
    public override bool NormUnitOffset => true;

    /// <summary>transformers' defaults (window 4096, pattern 6), with the attention scale of 1/√head_dim.</summary>
    static Gemma3Settings Defaults(ModelConfig config) =>
        new(4096, Gemma3Settings.Pattern(6, config.NumHiddenLayers), QueryPreAttnScalar: config.HeadDim);

    static Gemma3Settings Settings(ModelConfig config) => config.Settings as Gemma3Settings ?? Defaults(config);

    public override ModelConfig NewConfig(ModelConfig shared) =>
        shared with { QkNorm = true, Settings = Defaults(shared) };

    public override ModelConfig ReadConfig(ModelConfig shared, JsonObject json, FieldReader r, string path)
    {
        var act = r.String("hidden_activation") ?? r.String("hidden_act") ?? "gelu_pytorch_tanh";
        if (act != "gelu_pytorch_tanh")
            throw new ReasonSharpException(
                $"{path}: field 'hidden_activation' is '{act}'; only 'gelu_pytorch_tanh' is supported");
        if (json["attn_logit_softcapping"] is not null)
            throw new ReasonSharpException($"{path}: field 'attn_logit_softcapping' is set; attention soft-capping " +
                "is not supported (expected null)");
        int layers = shared.NumHiddenLayers, pattern = r.Int("sliding_window_pattern") ?? 6;
        if (pattern <= 0)
            throw new ReasonSharpException($"{path}: field 'sliding_window_pattern' must be positive, got {pattern}");
        IReadOnlyList<string> types = Gemma3Settings.Pattern(pattern, layers);
        if (json["layer_types"] is JsonArray array)
        {
            var listed = array.Select(t => t is JsonValue v && v.TryGetValue<string>(out var s) ? s : "").ToArray();
            if (listed.Length < layers || listed.Any(t => t is not (Gemma3Settings.Sliding or Gemma3Settings.Full)))
                throw new ReasonSharpException($"{path}: field 'layer_types' must name {Gemma3Settings.Sliding} or " +
                    $"{Gemma3Settings.Full} for each of the {layers} layers, got {array.ToJsonString()}");
            types = listed.Take(layers).ToArray();
        }
        int? window = json.ContainsKey("sliding_window") ? r.Int("sliding_window") : 4096;
        if (window is <= 0)
            throw new ReasonSharpException($"{path}: field 'sliding_window' must be positive, got {window}");
        var settings = new Gemma3Settings(window, types, r.Double("rope_local_base_freq") ?? 10000,
            r.Double("query_pre_attn_scalar") ?? 256, r.Double("final_logit_softcapping"), pattern);
        if (!(settings.QueryPreAttnScalar > 0) || !(settings.RopeLocalBaseFreq > 0)
            || settings.FinalLogitSoftcapping is <= 0)
            throw new ReasonSharpException($"{path}: fields 'query_pre_attn_scalar', 'rope_local_base_freq' and " +
                "'final_logit_softcapping' must be positive numbers");
        bool bias = r.Bool("attention_bias") ?? false;
        return shared with
        {
            QkvBias = bias,
            OutputBias = bias,
            QkNorm = true,
            Settings = settings,
            HeadDim = r.Int("head_dim") ?? 256,
            RopeTheta = r.Double("rope_theta") ?? 1_000_000,
            TieWordEmbeddings = r.Bool("tie_word_embeddings") ?? true,
        };
    }

    public override void WriteConfig(ModelConfig config, JsonObject json)
    {
        var s = Settings(config);
        json["attention_bias"] = config.QkvBias;
        json["hidden_activation"] = "gelu_pytorch_tanh";
        json["sliding_window"] = s.SlidingWindow;
        json["sliding_window_pattern"] = s.SlidingWindowPattern;
        json["layer_types"] = new JsonArray(s.LayerTypes.Select(t => (JsonNode)t).ToArray());
        json["rope_local_base_freq"] = s.RopeLocalBaseFreq;
        json["query_pre_attn_scalar"] = s.QueryPreAttnScalar;
        json["final_logit_softcapping"] = s.FinalLogitSoftcapping;
        json["attn_logit_softcapping"] = null;
    }

    public override DecoderLayer CreateLayer(ModelConfig config, int index, Device? device) =>
        new Gemma3DecoderLayer(config, index, device);

    public override LayerAttention Layer(ModelConfig config, int index)
    {
        var s = Settings(config);
        bool sliding = s.LayerTypes[index] == Gemma3Settings.Sliding && s.SlidingWindow is not null;
        return new LayerAttention(SlidingWindow: sliding ? s.SlidingWindow : null, LocalRope: sliding);
    }

    public override double AttentionScale(ModelConfig config) => 1 / Math.Sqrt(Settings(config).QueryPreAttnScalar);
    public override double? LocalRopeTheta(ModelConfig config) => Settings(config).RopeLocalBaseFreq;
    public override double EmbeddingScale(ModelConfig config) => Math.Sqrt(config.HiddenSize);
    public override double? FinalLogitSoftcapping(ModelConfig config) => Settings(config).FinalLogitSoftcapping;
    public override Func<Tensor, Tensor> Activation(ModelConfig config) =>
        x => nn.functional.gelu(x, GELU.Approximate.tanh);
    public override long ExtraLayerParameters(ModelConfig config) => 2L * config.HiddenSize;

    public override IReadOnlyDictionary<string, string> GgufLayerTensors { get; } = new Dictionary<string, string>
    {
        ["input_layernorm"] = "attn_norm",
        ["post_attention_layernorm"] = "post_attention_norm",
        ["pre_feedforward_layernorm"] = "ffn_norm",
        ["post_feedforward_layernorm"] = "post_ffw_norm",
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

    public override string? GgufProblem(ModelConfig config)
    {
        var s = Settings(config);
        if (config.QkvBias || config.OutputBias || config.MlpBias)
            return "attention_bias is true, but llama.cpp's gemma3 graph has no projection biases";
        if (s.FinalLogitSoftcapping is not null)
            return "final_logit_softcapping is set, but llama.cpp's sliding-window gemma3 graph does not cap logits";
        if (s.QueryPreAttnScalar != config.HeadDim)
            return $"query_pre_attn_scalar ({s.QueryPreAttnScalar}) differs from head_dim ({config.HeadDim}), " +
                "but llama.cpp scales attention by 1/√head_dim";
        if (s.SlidingWindow is null) return "sliding_window is null, but llama.cpp's gemma3 graph always slides";
        var expected = Gemma3Settings.Pattern(s.SlidingWindowPattern, config.NumHiddenLayers);
        if (!s.LayerTypes.SequenceEqual(expected))
            return $"layer_types do not follow sliding_window_pattern {s.SlidingWindowPattern}, the only layout " +
                "llama.cpp reads";
        return null;
    }

    public override IEnumerable<(string Key, object Value)> GgufMetadata(ModelConfig config)
    {
        var s = Settings(config);
        yield return ("attention.sliding_window", (uint)s.SlidingWindow!.Value);
        yield return ("attention.sliding_window_pattern", (uint)s.SlidingWindowPattern);
        yield return ("rope.freq_base_swa", (float)s.RopeLocalBaseFreq);
    }
}

/// <summary>Gemma 3's block: x + post_attn_norm(attn(input_norm(x))), then
/// + post_ffw_norm(mlp(pre_ffw_norm(·))).</summary>
public sealed class Gemma3DecoderLayer : DecoderLayer
{
    public RmsNorm PreFeedforwardLayernorm { get; }
    public RmsNorm PostFeedforwardLayernorm { get; }

    public Gemma3DecoderLayer(ModelConfig config, int layerIndex, Device? device = null)
        : base(config, layerIndex, device)
    {
        PreFeedforwardLayernorm = new RmsNorm(config.HiddenSize, config, device);
        PostFeedforwardLayernorm = new RmsNorm(config.HiddenSize, config, device);
        register_module("pre_feedforward_layernorm", PreFeedforwardLayernorm);
        register_module("post_feedforward_layernorm", PostFeedforwardLayernorm);
    }

    public override Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = x + PostAttentionLayernorm.Forward(SelfAttn.Forward(InputLayernorm.Forward(x), cos, sin, mask, cache));
        var ffn = PostFeedforwardLayernorm.Forward(Mlp.Forward(PreFeedforwardLayernorm.Forward(h)));
        return (h + ffn).MoveToOuterDisposeScope();
    }
}
