using System.Text.Json;
using System.Text.Json.Nodes;

namespace ReasonSharp.Modeling;

/// <summary>Llama-3 style RoPE frequency scaling (`rope_scaling` with `rope_type: llama3`), or linear scaling.</summary>
public sealed record RopeScaling(string RopeType, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// The numerics-relevant fields of a Hugging Face decoder config.json shared by every family; the family's own fields
/// are read and written by its <see cref="ModelArchitecture"/>. Values that would change the numerics but are not
/// supported are rejected, naming the field.
/// </summary>
public sealed record ModelConfig
{
    public required string ModelType { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public int NumKeyValueHeads { get; init; }
    public int HeadDim { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000;
    public RopeScaling? RopeScaling { get; init; }
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on q/k/v projections (always on for qwen2).</summary>
    public bool QkvBias { get; init; }
    /// <summary>Bias on o_proj (llama's attention_bias also covers o_proj; qwen2 never has it).</summary>
    public bool OutputBias { get; init; }
    public bool MlpBias { get; init; }
    /// <summary>RMSNorm on each head's queries and keys before RoPE (qwen3, gemma3).</summary>
    public bool QkNorm { get; init; }
    /// <summary>The family's own fields (null when it has none).</summary>
    public ArchitectureSettings? Settings { get; init; }
    public double InitializerRange { get; init; } = 0.02;
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }
    public string TorchDtype { get; init; } = "float32";
    /// <summary>Outputs of the sequence-classification head (`score`, transformers' *ForSequenceClassification, 1 for
    /// a reward model); null: a causal LM with its vocabulary head.</summary>
    public int? NumLabels { get; init; }

    /// <summary>A sequence classifier (reward model) rather than a causal LM.</summary>
    public bool IsSequenceClassifier => NumLabels is not null;

    /// <summary>The family's descriptor.</summary>
    public ModelArchitecture Arch => ModelArchitecture.Get(ModelType);

    /// <summary>config.json's architectures[0]: the causal LM's class, or the family's *ForSequenceClassification.
    /// </summary>
    public string Architecture => IsSequenceClassifier ? Arch.SequenceClassificationClassName : Arch.ClassName;

    /// <summary>The parsed file, kept so that a save writes back every field it had.</summary>
    public JsonObject? Source { get; init; }

    /// <summary>A config for a new model of the given family, with Hugging Face's per-family bias conventions.</summary>
    public static ModelConfig Create(string modelType, int vocabSize, int hiddenSize, int intermediateSize, int layers, int heads,
        int kvHeads, int? headDim = null, bool tieWordEmbeddings = true, double ropeTheta = 10000, int maxPositions = 2048,
        double rmsNormEps = 1e-6, int? bosTokenId = null, IReadOnlyList<int>? eosTokenIds = null, int? padTokenId = null)
    {
        var arch = ModelArchitecture.Get(modelType);
        var config = new ModelConfig
        {
            ModelType = modelType, VocabSize = vocabSize, HiddenSize = hiddenSize, IntermediateSize = intermediateSize,
            NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = kvHeads, HeadDim = headDim ?? hiddenSize / heads,
            TieWordEmbeddings = tieWordEmbeddings, RopeTheta = ropeTheta, MaxPositionEmbeddings = maxPositions, RmsNormEps = rmsNormEps,
            BosTokenId = bosTokenId, EosTokenIds = eosTokenIds ?? [], PadTokenId = padTokenId,
        };
        config = arch.NewConfig(config);
        config.Validate("(new config)");
        return config;
    }

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: config.json not found");
        JsonObject json;
        try { json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new ReasonSharpException($"{path}: expected a JSON object"); }
        catch (JsonException e) { throw new ReasonSharpException($"{path}: malformed JSON at line {e.LineNumber + 1}: {e.Message}", e); }
        return Parse(json, path);
    }

    public static ModelConfig Parse(JsonObject json, string path)
    {
        var r = new FieldReader(json, path);
        var known = string.Join(", ", ModelArchitecture.ModelTypes);
        var modelType = r.String("model_type") ?? throw new ReasonSharpException($"{path}: missing field 'model_type' (expected one of {known})");
        var arch = ModelArchitecture.Find(modelType)
            ?? throw new ReasonSharpException($"{path}: field 'model_type' is '{modelType}', which is not supported; expected one of {known}");
        var architecture = arch.ClassName;
        var declared = json["architectures"] is JsonArray archs && archs.Count > 0 ? archs[0]?.GetValue<string>() : null;
        bool classifier = declared == arch.SequenceClassificationClassName;
        if (declared is not null && declared != architecture && !classifier)
            throw new ReasonSharpException($"{path}: field 'architectures' is '{declared}', which does not match " +
                $"model_type '{modelType}' (expected {architecture} or {arch.SequenceClassificationClassName})");

        var hidden = r.RequiredInt("hidden_size");
        var heads = r.RequiredInt("num_attention_heads");
        var config = new ModelConfig
        {
            ModelType = modelType,
            VocabSize = r.RequiredInt("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = r.RequiredInt("intermediate_size"),
            NumHiddenLayers = r.RequiredInt("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = r.Int("num_key_value_heads") ?? heads,
            HeadDim = r.Int("head_dim") ?? hidden / heads,
            MaxPositionEmbeddings = r.Int("max_position_embeddings") ?? 2048,
            RmsNormEps = r.Double("rms_norm_eps") ?? 1e-6,
            RopeTheta = r.Double("rope_theta") ?? 10000,
            RopeScaling = ParseRopeScaling(json["rope_scaling"] as JsonObject, path),
            TieWordEmbeddings = r.Bool("tie_word_embeddings") ?? false,
            InitializerRange = r.Double("initializer_range") ?? 0.02,
            BosTokenId = r.Int("bos_token_id"),
            EosTokenIds = r.IntOrList("eos_token_id"),
            PadTokenId = r.Int("pad_token_id"),
            TorchDtype = r.String("torch_dtype") ?? r.String("dtype") ?? "float32",
            NumLabels = classifier ? ReadNumLabels(json, r, path) : null,
            Source = json,
        };
        if ((r.Double("attention_dropout") ?? 0) != 0)
            throw new ReasonSharpException($"{path}: field 'attention_dropout' must be 0; attention dropout is not supported");
        if ((r.Double("partial_rotary_factor") ?? 1) != 1)
            throw new ReasonSharpException($"{path}: field 'partial_rotary_factor' must be 1; partial rotary embeddings are not supported");
        if (json["quantization_config"] is not null)
            throw new ReasonSharpException($"{path}: field 'quantization_config' is present; quantized checkpoints are not supported (use a float16/bfloat16/float32 checkpoint)");
        config = arch.ReadConfig(config, json, r, path);
        config.Validate(path);
        return config;
    }

    /// <summary>transformers' rule: id2label's size when present, else num_labels, else 2.</summary>
    static int ReadNumLabels(JsonObject json, FieldReader r, string path)
    {
        int labels = json["id2label"] is JsonObject id2label ? id2label.Count : r.Int("num_labels") ?? 2;
        if (labels < 1)
            throw new ReasonSharpException($"{path}: field 'num_labels' must be positive, got {labels}");
        return labels;
    }

    /// <summary>This config with a sequence-classification head of <paramref name="numLabels"/> outputs in place of
    /// the vocabulary head (transformers' from_pretrained(num_labels=…) on a causal LM's folder).</summary>
    public ModelConfig AsSequenceClassifier(int numLabels = 1)
    {
        if (numLabels < 1) throw new ReasonSharpException($"num_labels must be positive, got {numLabels}");
        return this with { NumLabels = numLabels };
    }

    static RopeScaling? ParseRopeScaling(JsonObject? json, string path)
    {
        if (json is null) return null;
        var r = new FieldReader(json, path, "rope_scaling.");
        var type = r.String("rope_type") ?? r.String("type") ?? "default";
        return type switch
        {
            "default" => null,
            "linear" => new RopeScaling("linear", r.RequiredDouble("factor")),
            "llama3" => new RopeScaling("llama3", r.RequiredDouble("factor"), r.RequiredDouble("low_freq_factor"),
                r.RequiredDouble("high_freq_factor"), r.RequiredInt("original_max_position_embeddings")),
            _ => throw new ReasonSharpException($"{path}: field 'rope_scaling.rope_type' is '{type}', which is not supported; expected default, linear or llama3"),
        };
    }

    public void Validate(string path)
    {
        void Positive(int value, string field)
        {
            if (value <= 0) throw new ReasonSharpException($"{path}: field '{field}' must be positive, got {value}");
        }
        Positive(VocabSize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(NumKeyValueHeads, "num_key_value_heads");
        Positive(HeadDim, "head_dim");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        // Values that would silently turn every logit into NaN or Inf (e.g. rope_theta -1).
        void Finite(double value, string field, bool zeroAllowed = false)
        {
            if (!double.IsFinite(value) || value < 0 || (value == 0 && !zeroAllowed))
                throw new ReasonSharpException(
                    $"{path}: field '{field}' must be a finite number {(zeroAllowed ? ">=" : ">")} 0, got {value}");
        }
        Finite(RmsNormEps, "rms_norm_eps");
        Finite(RopeTheta, "rope_theta");
        Finite(InitializerRange, "initializer_range", zeroAllowed: true);
        if (RopeScaling is { } scaling)
        {
            Finite(scaling.Factor, "rope_scaling.factor");
            if (scaling.RopeType == "llama3")
            {
                Finite(scaling.LowFreqFactor, "rope_scaling.low_freq_factor");
                Positive(scaling.OriginalMaxPositionEmbeddings, "rope_scaling.original_max_position_embeddings");
                if (!(scaling.HighFreqFactor > scaling.LowFreqFactor) || !double.IsFinite(scaling.HighFreqFactor))
                    throw new ReasonSharpException(
                        $"{path}: field 'rope_scaling.high_freq_factor' ({scaling.HighFreqFactor}) must be finite " +
                        $"and greater than low_freq_factor ({scaling.LowFreqFactor})");
            }
        }
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new ReasonSharpException($"{path}: field 'num_key_value_heads' ({NumKeyValueHeads}) must divide num_attention_heads ({NumAttentionHeads})");
        if (HeadDim % 2 != 0)
            throw new ReasonSharpException($"{path}: field 'head_dim' ({HeadDim}) must be even for rotary embeddings");
    }

    /// <summary>The config.json to write: the source's fields (if any) with this config's values on top.</summary>
    public JsonObject ToJson(string torchDtype)
    {
        var json = Source?.DeepClone() as JsonObject ?? new JsonObject();
        json["architectures"] = new JsonArray(Architecture);
        json["model_type"] = ModelType;
        json["vocab_size"] = VocabSize;
        json["hidden_size"] = HiddenSize;
        json["intermediate_size"] = IntermediateSize;
        json["num_hidden_layers"] = NumHiddenLayers;
        json["num_attention_heads"] = NumAttentionHeads;
        json["num_key_value_heads"] = NumKeyValueHeads;
        json["head_dim"] = HeadDim;
        json["max_position_embeddings"] = MaxPositionEmbeddings;
        json["rms_norm_eps"] = RmsNormEps;
        json["rope_theta"] = RopeTheta;
        json["rope_scaling"] = RopeScaling is null ? null : new JsonObject
        {
            ["rope_type"] = RopeScaling.RopeType, ["factor"] = RopeScaling.Factor, ["low_freq_factor"] = RopeScaling.LowFreqFactor,
            ["high_freq_factor"] = RopeScaling.HighFreqFactor, ["original_max_position_embeddings"] = RopeScaling.OriginalMaxPositionEmbeddings,
        };
        json["tie_word_embeddings"] = TieWordEmbeddings;
        json["initializer_range"] = InitializerRange;
        json["bos_token_id"] = BosTokenId;
        json["eos_token_id"] = EosTokenIds.Count == 1 ? EosTokenIds[0] : new JsonArray(EosTokenIds.Select(i => (JsonNode)i).ToArray());
        if (PadTokenId is not null) json["pad_token_id"] = PadTokenId;
        json["torch_dtype"] = torchDtype;
        json["attention_dropout"] = 0.0;
        json["use_cache"] = true;
        if (NumLabels is { } labels)
        {
            json["num_labels"] = labels;
            json["id2label"] = new JsonObject(Enumerable.Range(0, labels)
                .Select(i => KeyValuePair.Create(i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    (JsonNode?)$"LABEL_{i}")));
            json["label2id"] = new JsonObject(Enumerable.Range(0, labels)
                .Select(i => KeyValuePair.Create($"LABEL_{i}", (JsonNode?)i)));
        }
        else
        {
            json.Remove("num_labels");
            json.Remove("id2label");
            json.Remove("label2id");
        }
        Arch.WriteConfig(this, json);
        return json;
    }

    /// <summary>Parameter count of the model this config describes (embeddings counted once when tied).</summary>
    public long ParameterCount()
    {
        long q = (long)NumAttentionHeads * HeadDim, kv = (long)NumKeyValueHeads * HeadDim;
        long attention = HiddenSize * q + 2 * HiddenSize * kv + q * HiddenSize + (QkvBias ? q + 2 * kv : 0) + (OutputBias ? HiddenSize : 0) + (QkNorm ? 2 * HeadDim : 0);
        long mlp = 3L * HiddenSize * IntermediateSize + (MlpBias ? 2L * IntermediateSize + HiddenSize : 0);
        long layer = attention + mlp + 2L * HiddenSize + Arch.ExtraLayerParameters(this);
        long embeddings = (long)VocabSize * HiddenSize * (TieWordEmbeddings || IsSequenceClassifier ? 1 : 2);
        return NumHiddenLayers * layer + embeddings + HiddenSize + (long)(NumLabels ?? 0) * HiddenSize;
    }
}

/// <summary>Typed access to config.json fields, with errors that name the file and field.</summary>
public sealed class FieldReader(JsonObject json, string path, string prefix = "")
{
    JsonValue? Value(string field) => json[field] switch
    {
        null => null,
        JsonValue v => v,
        var other => throw Wrong(field, "a single value", other.ToJsonString()),
    };

    ReasonSharpException Wrong(string field, string expected, string got) =>
        new($"{path}: field '{prefix}{field}' must be {expected}, got {got}");

    public string? String(string field)
    {
        var v = Value(field);
        if (v is null) return null;
        return v.TryGetValue<string>(out var s) ? s : throw Wrong(field, "a string", v.ToJsonString());
    }

    public int? Int(string field)
    {
        var v = Value(field);
        if (v is null) return null;
        if (v.TryGetValue<int>(out var i)) return i;
        if (v.TryGetValue<double>(out var d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue) return (int)d;
        throw Wrong(field, "an integer", v.ToJsonString());
    }

    public double? Double(string field)
    {
        var v = Value(field);
        if (v is null) return null;
        if (v.TryGetValue<double>(out var d)) return d;
        // A value built in memory (not parsed) from an integer does not convert itself.
        if (v.TryGetValue<long>(out var l)) return l;
        if (v.TryGetValue<int>(out var i)) return i;
        throw Wrong(field, "a number", v.ToJsonString());
    }

    public bool? Bool(string field)
    {
        var v = Value(field);
        if (v is null) return null;
        return v.TryGetValue<bool>(out var b) ? b : throw Wrong(field, "true or false", v.ToJsonString());
    }

    public int RequiredInt(string field) => Int(field) ?? throw new ReasonSharpException($"{path}: missing field '{prefix}{field}' (an integer)");
    public double RequiredDouble(string field) => Double(field) ?? throw new ReasonSharpException($"{path}: missing field '{prefix}{field}' (a number)");

    public IReadOnlyList<int> IntOrList(string field) => json[field] switch
    {
        null => [],
        JsonArray a => a.Select((n, i) => n is JsonValue v && v.TryGetValue<int>(out var x) ? x : throw Wrong($"{field}[{i}]", "an integer", n?.ToJsonString() ?? "null")).ToArray(),
        _ => Int(field) is { } one ? [one] : [],
    };
}
