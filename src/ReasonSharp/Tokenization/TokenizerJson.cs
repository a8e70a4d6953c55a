using System.Text.Json;
using System.Text.Json.Nodes;

namespace ReasonSharp.Tokenization;

/// <summary>One entry of tokenizer.json's `added_tokens`: a token matched before the model runs, as one id.</summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord = false, bool LStrip = false, bool RStrip = false, bool Normalized = false);

/// <summary>One BPE merge rule: the two tokens that join into one.</summary>
public readonly record struct BpeMerge(string Left, string Right);

/// <summary>One step of the pre-tokenizer (Sequences flattened): its type, a Split's Regex pattern, a ByteLevel's use_regex.</summary>
public sealed record PreTokenizerStep(string? Type, string? Regex, bool? UseRegex);

/// <summary>What a token id is, as GGUF records it.</summary>
public enum TokenKind { Normal, Control, UserDefined, Unused, Byte }

/// <summary>
/// The parts of a Hugging Face tokenizer.json that the tokenizers library does not expose: vocabulary, merges,
/// added tokens with their `special` flag, pre-tokenizer pattern. GGUF export and the <see cref="Tokenizer"/> wrapper read it.
/// </summary>
public sealed class TokenizerJson
{
    readonly string?[] tokenById;
    readonly Dictionary<int, AddedToken> addedById;

    public string SourcePath { get; }
    /// <summary>`model.type`: BPE, Unigram or WordPiece.</summary>
    public string ModelType { get; }
    public IReadOnlyDictionary<string, int> Vocab { get; }
    /// <summary>BPE merges in priority order (empty for other model types).</summary>
    public IReadOnlyList<BpeMerge> Merges { get; }
    public IReadOnlyList<AddedToken> AddedTokens { get; }
    /// <summary>True when the pre-tokenizer or decoder is ByteLevel (GPT-2 style tokens such as "Ġthe").</summary>
    public bool IsByteLevel { get; }
    /// <summary>`model.byte_fallback` (SentencePiece-style &lt;0xNN&gt; tokens).</summary>
    public bool ByteFallback { get; }
    /// <summary>The regex of the first Split pre-tokenizer, if any.</summary>
    public string? PreTokenizerPattern { get; }
    /// <summary>The pre-tokenizer's steps in order (empty when there is none).</summary>
    public IReadOnlyList<PreTokenizerStep> PreTokenizerSteps { get; }
    /// <summary>The `single` template of each TemplateProcessing post-processor: its special tokens' names, null where the sequence goes.</summary>
    public IReadOnlyList<IReadOnlyList<string?>> SingleTemplates { get; }
    /// <summary>Rows an embedding needs: the largest id over vocab and added tokens, plus one.</summary>
    public int VocabSize => tokenById.Length;

    /// <summary>Ids that `post_processor` puts around a single sequence (BOS/EOS), empty when it adds none.</summary>
    internal int[] PostProcessorPrefix { get; }
    internal int[] PostProcessorSuffix { get; }

    TokenizerJson(string sourcePath, string modelType, Dictionary<string, int> vocab, List<BpeMerge> merges, List<AddedToken> added,
        bool isByteLevel, bool byteFallback, string? pattern, List<PreTokenizerStep> steps, int[] prefix, int[] suffix, List<IReadOnlyList<string?>> templates)
    {
        SourcePath = sourcePath;
        ModelType = modelType;
        Vocab = vocab;
        Merges = merges;
        AddedTokens = added;
        IsByteLevel = isByteLevel;
        ByteFallback = byteFallback;
        PreTokenizerPattern = pattern;
        PreTokenizerSteps = steps;
        SingleTemplates = templates;
        PostProcessorPrefix = prefix;
        PostProcessorSuffix = suffix;
        addedById = added.ToDictionary(a => a.Id);

        var size = Math.Max(vocab.Count == 0 ? 0 : vocab.Values.Max() + 1, added.Count == 0 ? 0 : added.Max(a => a.Id) + 1);
        tokenById = new string?[size];
        foreach (var (token, id) in vocab) tokenById[id] = token;
        foreach (var a in added) tokenById[a.Id] = a.Content;
    }

    /// <summary>The token string of an id (vocab entry or added token's content), or null for an unused id.</summary>
    public string? TokenAt(int id) => id >= 0 && id < tokenById.Length ? tokenById[id] : null;

    /// <summary>The added token with this id, if it is one.</summary>
    public AddedToken? AddedTokenAt(int id) => addedById.GetValueOrDefault(id);

    public TokenKind KindOf(int id)
    {
        if (addedById.TryGetValue(id, out var added)) return added.Special ? TokenKind.Control : TokenKind.UserDefined;
        var token = TokenAt(id);
        if (token is null) return TokenKind.Unused;
        if (ByteFallback && token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token.EndsWith('>')) return TokenKind.Byte;
        return TokenKind.Normal;
    }

    public static TokenizerJson Load(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: file not found (expected a Hugging Face tokenizer.json)");
        return Parse(File.ReadAllText(path), path);
    }

    public static TokenizerJson Parse(string json, string sourcePath)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e)
        {
            throw new ReasonSharpException($"{sourcePath}:{e.LineNumber + 1}: not valid JSON ({e.Message}); expected " +
                "a JSON object", e);
        }
        using (doc)
        {
            var reader = new JsonFields(sourcePath);
            var root = doc.RootElement;
            var model = reader.Object(root, "model");
            var modelType = model.TryGetProperty("type", out var type) ? reader.String(type, "model.type") : "BPE";
            var vocab = ReadVocab(reader, reader.Property(model, "model", "vocab"));
            var merges = model.TryGetProperty("merges", out var m) ? ReadMerges(reader, m) : [];
            var byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
            var added = root.TryGetProperty("added_tokens", out var at) && at.ValueKind != JsonValueKind.Null ? ReadAddedTokens(reader, at) : [];
            var preTokenizer = root.TryGetProperty("pre_tokenizer", out var pt) ? pt : default;
            var decoder = root.TryGetProperty("decoder", out var dec) ? dec : default;
            var isByteLevel = UsesType(preTokenizer, "ByteLevel") || UsesType(decoder, "ByteLevel");
            var templates = new List<IReadOnlyList<string?>>();
            var (prefix, suffix) = root.TryGetProperty("post_processor", out var pp) ? ReadPostProcessor(reader, pp, templates) : ([], []);
            return new TokenizerJson(sourcePath, modelType, vocab, merges, added, isByteLevel, byteFallback, FindSplitPattern(preTokenizer),
                ReadPreTokenizerSteps(preTokenizer), prefix, suffix, templates);
        }
    }

    /// <summary>tokenizer.json with the post-processors that add special tokens removed, or null when there are none.</summary>
    internal static string? WithoutTokenAddingPostProcessor(string json)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        var processor = root["post_processor"];
        if (processor is null || !AddsTokens(processor)) return null;
        if ((string?)processor["type"] == "Sequence" && processor["processors"] is JsonArray list)
        {
            foreach (var item in list.Where(p => p is not null && AddsTokens(p)).ToList()) list.Remove(item);
        }
        else root["post_processor"] = null;
        return root.ToJsonString();
    }

    static readonly string[] TokenAddingProcessors = ["TemplateProcessing", "BertProcessing", "RobertaProcessing"];

    /// <summary>A cheap pre-check: false when no token-adding post-processor is named anywhere in the text.</summary>
    internal static bool MayAddTokens(string json) => TokenAddingProcessors.Any(name => json.Contains(name, StringComparison.Ordinal));

    static bool AddsTokens(JsonNode processor) => (string?)processor["type"] switch
    {
        "Sequence" => processor["processors"] is JsonArray list && list.Any(p => p is not null && AddsTokens(p)),
        var t => TokenAddingProcessors.Contains(t),
    };

    static Dictionary<string, int> ReadVocab(JsonFields reader, JsonElement vocab)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        if (vocab.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in vocab.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0)
                    throw reader.Error($"model.vocab[\"{entry.Name}\"]", "a non-negative integer id");
                result[entry.Name] = id;
            }
        }
        else if (vocab.ValueKind == JsonValueKind.Array) // Unigram: [[piece, score], ...], id = position
        {
            var id = 0;
            foreach (var item in vocab.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Array || item.GetArrayLength() < 1 || item[0].ValueKind != JsonValueKind.String)
                    throw reader.Error($"model.vocab[{id}]", "a [piece, score] pair");
                result.TryAdd(item[0].GetString()!, id);
                id++;
            }
        }
        else throw reader.Error("model.vocab", "an object of token → id, or a list of [piece, score]");
        return result;
    }

    static List<BpeMerge> ReadMerges(JsonFields reader, JsonElement merges)
    {
        if (merges.ValueKind != JsonValueKind.Array) throw reader.Error("model.merges", "a list");
        var result = new List<BpeMerge>(merges.GetArrayLength());
        var index = 0;
        foreach (var item in merges.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String) // older format: "left right"
            {
                var text = item.GetString()!;
                var space = text.IndexOf(' ', 1);
                if (space < 0) throw reader.Error($"model.merges[{index}]", "\"left right\" or [left, right]");
                result.Add(new BpeMerge(text[..space], text[(space + 1)..]));
            }
            else if (item.ValueKind == JsonValueKind.Array && item.GetArrayLength() == 2
                     && item[0].ValueKind == JsonValueKind.String && item[1].ValueKind == JsonValueKind.String)
                result.Add(new BpeMerge(item[0].GetString()!, item[1].GetString()!));
            else throw reader.Error($"model.merges[{index}]", "\"left right\" or [left, right]");
            index++;
        }
        return result;
    }

    static List<AddedToken> ReadAddedTokens(JsonFields reader, JsonElement list)
    {
        if (list.ValueKind != JsonValueKind.Array) throw reader.Error("added_tokens", "a list");
        var result = new List<AddedToken>();
        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            var key = $"added_tokens[{index++}]";
            if (item.ValueKind != JsonValueKind.Object) throw reader.Error(key, "an object");
            var id = reader.Property(item, key, "id");
            if (!id.TryGetInt32(out var idValue) || idValue < 0) throw reader.Error(key + ".id", "a non-negative integer");
            result.Add(new AddedToken(idValue, reader.String(reader.Property(item, key, "content"), key + ".content"),
                Flag(item, "special"), Flag(item, "single_word"), Flag(item, "lstrip"), Flag(item, "rstrip"), Flag(item, "normalized")));
        }
        return result;
    }

    static bool Flag(JsonElement item, string name) => item.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    static bool UsesType(JsonElement element, string type) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().Any(p => (p.Name == "type" && p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == type) || UsesType(p.Value, type)),
        JsonValueKind.Array => element.EnumerateArray().Any(e => UsesType(e, type)),
        _ => false,
    };

    static string? FindSplitPattern(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Array)
            return element.EnumerateArray().Select(FindSplitPattern).FirstOrDefault(p => p != null);
        if (element.ValueKind != JsonValueKind.Object) return null;
        if (element.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "Split"
            && element.TryGetProperty("pattern", out var pattern) && pattern.ValueKind == JsonValueKind.Object)
        {
            foreach (var kind in new[] { "Regex", "String" })
                if (pattern.TryGetProperty(kind, out var value) && value.ValueKind == JsonValueKind.String) return value.GetString();
        }
        return element.EnumerateObject().Select(p => FindSplitPattern(p.Value)).FirstOrDefault(p => p != null);
    }

    static List<PreTokenizerStep> ReadPreTokenizerSteps(JsonElement preTokenizer)
    {
        var steps = new List<PreTokenizerStep>();
        void Visit(JsonElement step)
        {
            if (step.ValueKind != JsonValueKind.Object) return;
            var type = StringField(step, "type");
            if (type == "Sequence")
            {
                if (step.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array)
                    foreach (var inner in list.EnumerateArray()) Visit(inner);
                return;
            }
            var regex = step.TryGetProperty("pattern", out var pattern) && pattern.ValueKind == JsonValueKind.Object ? StringField(pattern, "Regex") : null;
            bool? useRegex = step.TryGetProperty("use_regex", out var u) && u.ValueKind is JsonValueKind.True or JsonValueKind.False ? u.GetBoolean() : null;
            steps.Add(new PreTokenizerStep(type, regex, useRegex));
        }
        Visit(preTokenizer);
        return steps;
    }

    static string? StringField(JsonElement item, string name) =>
        item.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    static (int[] Prefix, int[] Suffix) ReadPostProcessor(JsonFields reader, JsonElement processor, List<IReadOnlyList<string?>> templates)
    {
        if (processor.ValueKind != JsonValueKind.Object) return ([], []);
        var type = processor.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        switch (type)
        {
            case "Sequence" when processor.TryGetProperty("processors", out var list) && list.ValueKind == JsonValueKind.Array:
                var prefix = new List<int>();
                var suffix = new List<int>();
                foreach (var inner in list.EnumerateArray())
                {
                    var (p, s) = ReadPostProcessor(reader, inner, templates);
                    prefix.InsertRange(0, p); // a later processor wraps what the earlier ones produced
                    suffix.AddRange(s);
                }
                return ([.. prefix], [.. suffix]);
            case "TemplateProcessing":
                return ReadTemplate(reader, processor, templates);
            case "BertProcessing" or "RobertaProcessing":
                return ([PairId(reader, processor, "cls")], [PairId(reader, processor, "sep")]);
            default:
                return ([], []);
        }
    }

    static int PairId(JsonFields reader, JsonElement processor, string name)
    {
        var pair = reader.Property(processor, "post_processor", name);
        if (pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2 || !pair[1].TryGetInt32(out var id))
            throw reader.Error($"post_processor.{name}", "[token, id]");
        return id;
    }

    static (int[] Prefix, int[] Suffix) ReadTemplate(JsonFields reader, JsonElement processor, List<IReadOnlyList<string?>> templates)
    {
        var single = reader.Property(processor, "post_processor", "single");
        var specials = processor.TryGetProperty("special_tokens", out var s) ? s : default;
        var prefix = new List<int>();
        var suffix = new List<int>();
        var names = new List<string?>();
        templates.Add(names);
        var seenSequence = false;
        foreach (var piece in single.EnumerateArray())
        {
            if (piece.TryGetProperty("Sequence", out _)) { seenSequence = true; names.Add(null); continue; }
            if (!piece.TryGetProperty("SpecialToken", out var special)) throw reader.Error("post_processor.single", "SpecialToken or Sequence items");
            var name = reader.String(reader.Property(special, "post_processor.single[].SpecialToken", "id"), "post_processor.single[].SpecialToken.id");
            names.Add(name);
            if (specials.ValueKind != JsonValueKind.Object || !specials.TryGetProperty(name, out var entry) || !entry.TryGetProperty("ids", out var ids))
                throw reader.Error($"post_processor.special_tokens[\"{name}\"].ids", "the ids of each special token the template uses");
            (seenSequence ? suffix : prefix).AddRange(ids.EnumerateArray().Select(i => i.GetInt32()));
        }
        return ([.. prefix], [.. suffix]);
    }
}

/// <summary>Reads typed JSON fields and names the file and key in every error.</summary>
internal sealed class JsonFields(string path)
{
    public ReasonSharpException Error(string key, string expected) => new($"{path}: key '{key}' must be {expected}");

    public JsonElement Property(JsonElement parent, string parentKey, string name)
    {
        if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out var value))
            throw new ReasonSharpException($"{path}: key '{(parentKey.Length == 0 ? name : parentKey + "." + name)}' is missing");
        return value;
    }

    public JsonElement Object(JsonElement parent, string name)
    {
        var value = Property(parent, "", name);
        if (value.ValueKind != JsonValueKind.Object) throw Error(name, "an object");
        return value;
    }

    public string String(JsonElement value, string key) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Error(key, "a string");
}
