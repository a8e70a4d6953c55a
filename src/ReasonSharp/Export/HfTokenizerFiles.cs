using System.Text.Json;
using System.Text.Json.Nodes;

namespace ReasonSharp.Export;

/// <summary>An entry of tokenizer.json's added_tokens.</summary>
internal sealed record HfAddedToken(int Id, string Content, bool Special, bool Normalized);

/// <summary>
/// The parts of a Hugging Face byte-level BPE tokenizer (tokenizer.json, tokenizer_config.json, chat_template.jinja) that
/// a GGUF file needs, read directly with System.Text.Json. Kept in one small class so that it can later be replaced by
/// ReasonSharp.Tokenization's reader.
/// </summary>
internal sealed class HfTokenizerFiles
{
    public const string TokenizerFile = "tokenizer.json";
    public const string ConfigFile = "tokenizer_config.json";
    public const string ChatTemplateFile = "chat_template.jinja";

    static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
    static bool? Flag(JsonNode? node) => node is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null;

    public required string Folder { get; init; }
    public required IReadOnlyDictionary<string, int> Vocab { get; init; }
    /// <summary>Merges as "left right" strings; a space inside a part is written as U+0120, as llama.cpp expects.</summary>
    public required IReadOnlyList<string> Merges { get; init; }
    public required IReadOnlyList<HfAddedToken> AddedTokens { get; init; }
    public JsonNode? PreTokenizer { get; init; }
    public JsonNode? PostProcessor { get; init; }
    public JsonObject Config { get; init; } = [];
    /// <summary>Templates by name; the unnamed one is "default".</summary>
    public IReadOnlyDictionary<string, string> ChatTemplates { get; init; } = new Dictionary<string, string>();

    string TokenizerPath => Path.Combine(Folder, TokenizerFile);
    string ConfigPath => Path.Combine(Folder, ConfigFile);

    public static HfTokenizerFiles Load(string folder)
    {
        var path = Path.Combine(folder, TokenizerFile);
        if (!File.Exists(path))
            throw new ReasonSharpException($"{path}: not found; a GGUF export needs the model's tokenizer.json (a byte-level BPE tokenizer)");
        var json = ParseObject(path);
        if (json["model"] is not JsonObject model) throw new ReasonSharpException($"{path}: missing object 'model'");
        var type = Text(model["type"]);
        if (type != "BPE") throw new ReasonSharpException($"{path}: field 'model.type' is '{type}'; only BPE tokenizers can be exported");
        if (Flag(model["byte_fallback"]) == true)
            throw new ReasonSharpException($"{path}: field 'model.byte_fallback' is true (a SentencePiece-style BPE); only byte-level (GPT-2 style) BPE tokenizers can be exported");
        if (!ContainsByteLevel(json["pre_tokenizer"]) && !ContainsByteLevel(json["decoder"]))
            throw new ReasonSharpException($"{path}: neither 'pre_tokenizer' nor 'decoder' is ByteLevel; only byte-level (GPT-2 style) BPE tokenizers can be exported");

        var configPath = Path.Combine(folder, ConfigFile);
        var config = File.Exists(configPath) ? ParseObject(configPath) : [];
        return new HfTokenizerFiles
        {
            Folder = folder,
            Vocab = ReadVocab(model, path),
            Merges = ReadMerges(model, path),
            AddedTokens = ReadAddedTokens(json, path),
            PreTokenizer = json["pre_tokenizer"],
            PostProcessor = json["post_processor"],
            Config = config,
            ChatTemplates = ReadChatTemplates(folder, config, configPath),
        };
    }

    static JsonObject ParseObject(string path)
    {
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new ReasonSharpException($"{path}: expected a JSON object"); }
        catch (JsonException e) { throw new ReasonSharpException($"{path}: malformed JSON at line {e.LineNumber + 1}: {e.Message}", e); }
    }

    static bool ContainsByteLevel(JsonNode? node) => node switch
    {
        JsonObject o when Text(o["type"]) == "ByteLevel" => true,
        JsonObject o => ContainsByteLevel(o["pretokenizers"]) || ContainsByteLevel(o["decoders"]),
        JsonArray a => a.Any(ContainsByteLevel),
        _ => false,
    };

    static Dictionary<string, int> ReadVocab(JsonObject model, string path)
    {
        if (model["vocab"] is not JsonObject vocab) throw new ReasonSharpException($"{path}: field 'model.vocab' must be an object of token → id");
        var result = new Dictionary<string, int>(vocab.Count, StringComparer.Ordinal);
        foreach (var (token, id) in vocab)
            result[token] = id is JsonValue v && v.TryGetValue<int>(out var i) && i >= 0
                ? i : throw new ReasonSharpException($"{path}: field 'model.vocab' entry '{token}' must be a non-negative integer id, got {id?.ToJsonString() ?? "null"}");
        return result;
    }

    static List<string> ReadMerges(JsonObject model, string path)
    {
        if (model["merges"] is not JsonArray merges) throw new ReasonSharpException($"{path}: missing array 'model.merges'");
        var result = new List<string>(merges.Count);
        for (int i = 0; i < merges.Count; i++)
        {
            switch (merges[i])
            {
                case JsonValue v when v.TryGetValue<string>(out var s) && s.IndexOf(' ', 1) > 0:
                    result.Add(s);
                    break;
                case JsonArray pair when pair.Count == 2 && pair.All(p => p is JsonValue pv && pv.TryGetValue<string>(out _)):
                    result.Add(EncodeSpaces(pair[0]!.GetValue<string>()) + " " + EncodeSpaces(pair[1]!.GetValue<string>()));
                    break;
                default:
                    throw new ReasonSharpException($"{path}: field 'model.merges[{i}]' must be a \"left right\" string or a [left, right] pair, got {merges[i]?.ToJsonString() ?? "null"}");
            }
        }
        return result;
    }

    /// <summary>llama.cpp splits merges on the first space, so spaces inside a part are written as U+0120 (Ġ).</summary>
    static string EncodeSpaces(string part) => part.Replace(' ', '\u0120');

    static List<HfAddedToken> ReadAddedTokens(JsonObject json, string path)
    {
        if (json["added_tokens"] is not JsonArray added) return [];
        var result = new List<HfAddedToken>();
        for (int i = 0; i < added.Count; i++)
        {
            if (added[i] is not JsonObject t || t["id"] is not JsonValue idValue || !idValue.TryGetValue<int>(out var id)
                || t["content"] is not JsonValue contentValue || !contentValue.TryGetValue<string>(out var content))
                throw new ReasonSharpException($"{path}: field 'added_tokens[{i}]' must have an integer 'id' and a string 'content'");
            result.Add(new HfAddedToken(id, content, Flag(t["special"]) ?? false, Flag(t["normalized"]) ?? false));
        }
        return result;
    }

    static Dictionary<string, string> ReadChatTemplates(string folder, JsonObject config, string configPath)
    {
        var templates = new Dictionary<string, string>();
        switch (config["chat_template"])
        {
            case JsonValue v when v.TryGetValue<string>(out var template):
                templates["default"] = template;
                break;
            case JsonArray list:
                for (int i = 0; i < list.Count; i++)
                {
                    if (list[i] is not JsonObject item || Text(item["name"]) is not { } name || Text(item["template"]) is not { } text)
                        throw new ReasonSharpException($"{configPath}: field 'chat_template[{i}]' must be an object with string 'name' and 'template'");
                    templates[name] = text;
                }
                break;
            case null:
                var jinja = Path.Combine(folder, ChatTemplateFile);
                if (File.Exists(jinja)) templates["default"] = File.ReadAllText(jinja);
                break;
            default:
                throw new ReasonSharpException($"{configPath}: field 'chat_template' must be a string or a list of named templates");
        }
        return templates;
    }

    /// <summary>The content of tokenizer_config.json's "{kind}_token" (a string or an object with "content"), if any.</summary>
    public string? SpecialTokenContent(string kind) => Config[$"{kind}_token"] switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonObject o when o["content"] is JsonValue c && c.TryGetValue<string>(out var s) => s,
        _ => null,
    };

    public bool? ConfigBool(string field) => Flag(Config[field]);

    /// <summary>Split regexes and whether a ByteLevel step splits with its own GPT-2 regex, from the pre_tokenizer.</summary>
    public (IReadOnlyList<string> SplitRegexes, bool ByteLevelUsesRegex) PreTokenizerSteps()
    {
        var regexes = new List<string>();
        bool byteLevelRegex = false;
        void Visit(JsonNode? node)
        {
            if (node is not JsonObject o) return;
            switch (Text(o["type"]))
            {
                case "Sequence":
                    foreach (var step in o["pretokenizers"] as JsonArray ?? []) Visit(step);
                    break;
                case "Split":
                    if (Text((o["pattern"] as JsonObject)?["Regex"]) is { } regex) regexes.Add(regex);
                    else throw new ReasonSharpException($"{TokenizerPath}: a 'Split' pre-tokenizer without a Regex pattern is not supported");
                    break;
                case "ByteLevel":
                    byteLevelRegex |= Flag(o["use_regex"]) ?? true;
                    break;
                case var other:
                    throw new ReasonSharpException($"{TokenizerPath}: pre-tokenizer step '{other}' is not supported (expected Split and ByteLevel)");
            }
        }
        Visit(PreTokenizer);
        return (regexes, byteLevelRegex);
    }

    /// <summary>Whether the post-processor prepends <paramref name="bos"/> and appends <paramref name="eos"/> to a single sequence.</summary>
    public (bool AddsBos, bool AddsEos) PostProcessorSpecials(string? bos, string? eos)
    {
        bool addsBos = false, addsEos = false;
        void Visit(JsonNode? node)
        {
            if (node is not JsonObject o) return;
            if (o["processors"] is JsonArray steps) { foreach (var s in steps) Visit(s); return; }
            if (Text(o["type"]) != "TemplateProcessing" || o["single"] is not JsonArray single || single.Count < 2) return;
            static string? SpecialId(JsonNode? step) => Text(((step as JsonObject)?["SpecialToken"] as JsonObject)?["id"]);
            string? first = SpecialId(single[0]), last = SpecialId(single[^1]);
            addsBos |= first is not null && first == bos;
            addsEos |= last is not null && last == eos;
        }
        Visit(PostProcessor);
        return (addsBos, addsEos);
    }
}
