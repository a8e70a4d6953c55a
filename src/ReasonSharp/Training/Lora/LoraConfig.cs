using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Modeling;

namespace ReasonSharp.Training.Lora;

/// <summary>LoRA settings with PEFT's LoraConfig names (r, lora_alpha, lora_dropout, target_modules, use_rslora) and defaults.</summary>
public sealed record LoraConfig
{
    /// <summary>Projections any supported family can adapt (its <see cref="ModelArchitecture.LinearModules"/>' last
    /// parts); "all-linear" names all of a model's own.</summary>
    public static readonly string[] AllLinear = ModelArchitecture.All.SelectMany(TargetNames).Distinct().ToArray();

    /// <summary>PEFT's target names of a family's projections (q_proj for self_attn.q_proj).</summary>
    public static IEnumerable<string> TargetNames(ModelArchitecture arch) => arch.LinearModules.Select(m => m.Split('.')[^1]);

    /// <summary>Rank of the update B·A.</summary>
    public int R { get; init; } = 8;
    /// <summary>The update is scaled by lora_alpha / r (or lora_alpha / √r with rsLoRA).</summary>
    public double LoraAlpha { get; init; } = 8;
    /// <summary>Dropout on the adapter's input during training.</summary>
    public double LoraDropout { get; init; }
    /// <summary>Module names to adapt (PEFT's default for Llama/Qwen is q_proj and v_proj).</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "v_proj"];
    /// <summary>Rank-stabilised scaling lora_alpha / √r.</summary>
    public bool UseRslora { get; init; }
    /// <summary>Written to adapter_config.json so tools can find the base model.</summary>
    public string? BaseModelNameOrPath { get; init; }

    public double Scaling => UseRslora ? LoraAlpha / Math.Sqrt(R) : LoraAlpha / R;

    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";

    /// <summary>The target list with "all-linear" expanded (to <paramref name="arch"/>'s projections when given);
    /// unknown names are an error.</summary>
    public IReadOnlyList<string> ResolvedTargets(ModelArchitecture? arch = null, string source = "LoRA config")
    {
        var known = arch is null ? AllLinear : TargetNames(arch).ToArray();
        var targets = TargetModules.SelectMany(t => t == "all-linear" ? known : [t]).Distinct().ToList();
        foreach (var t in targets)
            if (!known.Contains(t))
                throw new ReasonSharpException($"{source}: field 'target_modules' names '{t}'; expected any of " +
                    $"{string.Join(", ", known)} or all-linear{(arch is null ? "" : $" ({arch.ModelType})")}");
        if (targets.Count == 0) throw new ReasonSharpException($"{source}: field 'target_modules' is empty");
        return targets;
    }

    public void Validate(string source = "LoRA config")
    {
        if (R <= 0) throw new ReasonSharpException($"{source}: field 'r' is {R}; expected an integer > 0");
        if (!(LoraAlpha > 0)) throw new ReasonSharpException($"{source}: field 'lora_alpha' is {LoraAlpha}; expected a number > 0");
        if (LoraDropout is < 0 or >= 1) throw new ReasonSharpException($"{source}: field 'lora_dropout' is {LoraDropout}; expected a number in [0, 1)");
        ResolvedTargets(source: source);
    }

    /// <summary>adapter_config.json as PEFT writes it for a plain LoRA on a causal LM.</summary>
    public JsonObject ToPeftJson() => new()
    {
        ["alpha_pattern"] = new JsonObject(),
        ["base_model_name_or_path"] = BaseModelNameOrPath,
        ["bias"] = "none",
        ["fan_in_fan_out"] = false,
        ["inference_mode"] = true,
        ["init_lora_weights"] = true,
        ["layers_pattern"] = null,
        ["layers_to_transform"] = null,
        ["lora_alpha"] = LoraAlpha,
        ["lora_dropout"] = LoraDropout,
        ["modules_to_save"] = null,
        ["peft_type"] = "LORA",
        ["r"] = R,
        ["rank_pattern"] = new JsonObject(),
        ["revision"] = null,
        ["target_modules"] = new JsonArray(ResolvedTargets().Order(StringComparer.Ordinal).Select(t => (JsonNode)t).ToArray()),
        ["task_type"] = "CAUSAL_LM",
        ["use_dora"] = false,
        ["use_rslora"] = UseRslora,
    };

    /// <summary>Reads a PEFT adapter_config.json, rejecting the variants this implementation does not apply.</summary>
    public static LoraConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: adapter config not found");
        JsonObject json;
        try { json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new ReasonSharpException($"{path}: expected a JSON object"); }
        catch (JsonException e) { throw new ReasonSharpException($"{path}: malformed JSON at line {e.LineNumber + 1}: {e.Message}", e); }

        T Field<T>(string name, T fallback)
        {
            var node = json[name];
            if (node is null) return fallback;
            try { return node.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new ReasonSharpException($"{path}: field '{name}' is {node.ToJsonString()}; expected a {typeof(T).Name.ToLowerInvariant()}", e);
            }
        }
        void Reject(bool unsupported, string field, string expected)
        {
            if (unsupported) throw new ReasonSharpException($"{path}: field '{field}' is {json[field]?.ToJsonString()}; only {expected} is supported");
        }
        static bool Empty(JsonNode? node) => node is null || node is JsonObject { Count: 0 } || node is JsonArray { Count: 0 };

        Reject(Field("peft_type", "LORA") != "LORA", "peft_type", "\"LORA\"");
        Reject(Field("bias", "none") != "none", "bias", "\"none\"");
        Reject(Field("use_dora", false), "use_dora", "false");
        Reject(Field("fan_in_fan_out", false), "fan_in_fan_out", "false");
        Reject(!Empty(json["modules_to_save"]), "modules_to_save", "null");
        Reject(!Empty(json["layers_to_transform"]), "layers_to_transform", "null");
        Reject(!Empty(json["rank_pattern"]), "rank_pattern", "{}");
        Reject(!Empty(json["alpha_pattern"]), "alpha_pattern", "{}");
        var targets = json["target_modules"] switch
        {
            JsonArray array => array.Select(t => t?.GetValue<string>() ?? "").ToList(),
            JsonValue value when value.TryGetValue<string>(out var s) && s == "all-linear" => ["all-linear"],
            var other => throw new ReasonSharpException($"{path}: field 'target_modules' is {other?.ToJsonString() ?? "missing"}; expected a list of module names or \"all-linear\" (regular expressions are not supported)"),
        };
        var config = new LoraConfig
        {
            R = Field("r", 8),
            LoraAlpha = Field("lora_alpha", 8.0),
            LoraDropout = Field("lora_dropout", 0.0),
            TargetModules = targets,
            UseRslora = Field("use_rslora", false),
            BaseModelNameOrPath = Field<string?>("base_model_name_or_path", null),
        };
        config.Validate(path);
        return config;
    }
}
