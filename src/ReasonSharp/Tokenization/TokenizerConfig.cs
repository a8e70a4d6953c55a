using System.Text.Json;
using System.Text.Json.Nodes;

namespace ReasonSharp.Tokenization;

/// <summary>
/// tokenizer_config.json as transformers writes it: bos/eos/pad/unk/sep tokens (strings or {"content": …} objects),
/// add_bos_token/add_eos_token, `added_tokens_decoder`, `chat_template` (or a `chat_template.jinja` beside it) and
/// `model_max_length`.
/// </summary>
public sealed class TokenizerConfig
{
    public const string FileName = "tokenizer_config.json";
    public const string ChatTemplateFileName = "chat_template.jinja";

    public string? SourcePath { get; }
    public string? BosToken { get; }
    public string? EosToken { get; }
    public string? PadToken { get; }
    public string? UnkToken { get; }
    public string? SepToken { get; }
    /// <summary>`add_bos_token` / `add_eos_token`: whether encoding adds BOS / EOS; null when the file does not say.</summary>
    public bool? AddBosToken { get; }
    public bool? AddEosToken { get; }
    /// <summary>The template in use: `chat_template.jinja` when present, else the file's default (or first) template.</summary>
    public string? ChatTemplate { get; }
    /// <summary>The file's `chat_template` by name (a single string is "default"); empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> ChatTemplatesByName { get; }
    /// <summary>`model_max_length`, or null when absent or effectively unbounded (transformers writes 1e30 then).</summary>
    public int? ModelMaxLength { get; }
    /// <summary>`added_tokens_decoder`: id → token.</summary>
    public IReadOnlyDictionary<int, AddedToken> AddedTokensDecoder { get; }

    /// <summary>The file's JSON, kept whole so that saving loses none of its keys.</summary>
    internal JsonObject Root { get; }

    TokenizerConfig(string? sourcePath, JsonObject root, string? chatTemplateOverride)
    {
        SourcePath = sourcePath;
        Root = root;
        var where = sourcePath ?? FileName;
        BosToken = TokenField(root, "bos_token", where);
        EosToken = TokenField(root, "eos_token", where);
        PadToken = TokenField(root, "pad_token", where);
        UnkToken = TokenField(root, "unk_token", where);
        SepToken = TokenField(root, "sep_token", where);
        AddBosToken = BoolField(root, "add_bos_token", where);
        AddEosToken = BoolField(root, "add_eos_token", where);
        ChatTemplatesByName = ChatTemplatesField(root, where);
        ChatTemplate = chatTemplateOverride ?? (ChatTemplatesByName.Count == 0 ? null : ChatTemplatesByName.GetValueOrDefault("default") ?? ChatTemplatesByName.First().Value);
        ModelMaxLength = MaxLengthField(root, where);
        AddedTokensDecoder = AddedTokensField(root, where);
    }

    /// <summary>An empty configuration (no special tokens, no template), for a folder without tokenizer_config.json.</summary>
    public static TokenizerConfig Empty { get; } = new(null, [], null);

    /// <summary>Builds a configuration from JSON text; errors name <paramref name="sourcePath"/> and the key.</summary>
    public static TokenizerConfig Parse(string json, string sourcePath, string? chatTemplateOverride = null)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(json); }
        catch (JsonException e)
        {
            throw new ReasonSharpException($"{sourcePath}:{e.LineNumber + 1}: not valid JSON ({e.Message}); expected " +
                "a JSON object", e);
        }
        if (node is not JsonObject root) throw new ReasonSharpException($"{sourcePath}: expected a JSON object at the top level");
        return new TokenizerConfig(sourcePath, root, chatTemplateOverride);
    }

    /// <summary>Reads `folder/tokenizer_config.json` (and `chat_template.jinja`, which wins as in transformers); Empty when absent.</summary>
    public static TokenizerConfig Load(string folder)
    {
        var path = Path.Combine(folder, FileName);
        var jinjaPath = Path.Combine(folder, ChatTemplateFileName);
        var jinja = File.Exists(jinjaPath) ? File.ReadAllText(jinjaPath) : null;
        if (!File.Exists(path)) return jinja is null ? Empty : new TokenizerConfig(null, [], jinja);
        return Parse(File.ReadAllText(path), path, jinja);
    }

    /// <summary>The JSON to save: the original keys, with the chat template inlined when it came from a .jinja file.</summary>
    internal string ToJson()
    {
        var root = (JsonObject)Root.DeepClone();
        if (ChatTemplate is not null) root["chat_template"] = ChatTemplate;
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    static string? TokenField(JsonObject root, string key, string where) => root[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonObject o when o["content"] is JsonValue c && c.TryGetValue<string>(out var s) => s,
        _ => throw new ReasonSharpException($"{where}: key '{key}' must be a string, null or an object with a string \"content\""),
    };

    static bool? BoolField(JsonObject root, string key, string where) => root[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        _ => throw new ReasonSharpException($"{where}: key '{key}' must be true, false or null"),
    };

    static Dictionary<string, string> ChatTemplatesField(JsonObject root, string where)
    {
        var templates = new Dictionary<string, string>();
        switch (root["chat_template"])
        {
            case null:
                break;
            case JsonValue v when v.TryGetValue<string>(out var s):
                templates["default"] = s;
                break;
            case JsonArray { Count: > 0 } list: // [{"name": "default", "template": "…"}, {"name": "tool_use", …}]
                for (int i = 0; i < list.Count; i++)
                {
                    if (list[i] is not JsonObject item || item["name"] is not JsonValue n || !n.TryGetValue<string>(out var name)
                        || item["template"] is not JsonValue t || !t.TryGetValue<string>(out var template))
                        throw new ReasonSharpException($"{where}: key 'chat_template' item {i} must be an object with string \"name\" and \"template\"");
                    templates[name] = template;
                }
                break;
            default:
                throw new ReasonSharpException($"{where}: key 'chat_template' must be a string or a list of {{\"name\", \"template\"}} objects");
        }
        return templates;
    }

    static int? MaxLengthField(JsonObject root, string where)
    {
        if (root["model_max_length"] is null) return null;
        if (root["model_max_length"] is not JsonValue v || !v.TryGetValue<double>(out var value) || value < 1)
            throw new ReasonSharpException($"{where}: key 'model_max_length' must be a positive number");
        return value > int.MaxValue ? null : (int)value;
    }

    static Dictionary<int, AddedToken> AddedTokensField(JsonObject root, string where)
    {
        var result = new Dictionary<int, AddedToken>();
        if (root["added_tokens_decoder"] is null) return result;
        if (root["added_tokens_decoder"] is not JsonObject decoder)
            throw new ReasonSharpException($"{where}: key 'added_tokens_decoder' must be an object of id → token");
        foreach (var (idText, value) in decoder)
        {
            var key = $"added_tokens_decoder.{idText}";
            if (!int.TryParse(idText, out var id) || id < 0) throw new ReasonSharpException($"{where}: key '{key}': the key must be a non-negative integer id");
            if (value is not JsonObject token || token["content"] is not JsonValue c || !c.TryGetValue<string>(out var content))
                throw new ReasonSharpException($"{where}: key '{key}' must be an object with a string \"content\"");
            result[id] = new AddedToken(id, content, Flag(token, "special"), Flag(token, "single_word"), Flag(token, "lstrip"), Flag(token, "rstrip"), Flag(token, "normalized"));
        }
        return result;
    }

    static bool Flag(JsonObject token, string name) => token[name] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
}
