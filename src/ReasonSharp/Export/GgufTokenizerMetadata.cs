using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Export;

/// <summary>llama.cpp's token types (llama_token_type).</summary>
public enum GgufTokenType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>
/// The tokenizer.ggml.* metadata of a byte-level BPE ("gpt2") vocabulary, built as llama.cpp's converter does: one
/// token per embedding row (ids the tokenizer lacks become unused "[PADn]" tokens), added tokens marked control when
/// special (or shaped like &lt;|…|&gt;) and user-defined otherwise, special ids from tokenizer_config.json with config.json
/// as fallback, and the pre-tokenizer named after the tokenizer's split regex. The files are read by
/// <see cref="TokenizerJson"/> and <see cref="TokenizerConfig"/>.
/// </summary>
public sealed class GgufTokenizerMetadata
{
    /// <summary>Qwen2/Qwen2.5/Qwen3's split regex; llama.cpp calls this pre-tokenizer "qwen2".</summary>
    public const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    /// <summary>Llama 3's split regex (digits in groups of up to three); llama.cpp calls it "llama-bpe".</summary>
    public const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    static readonly string[] SpecialKinds = ["bos", "eos", "unk", "sep", "pad"];
    static readonly Dictionary<string, string> IdKeys = new()
    {
        ["bos"] = "tokenizer.ggml.bos_token_id", ["eos"] = "tokenizer.ggml.eos_token_id", ["unk"] = "tokenizer.ggml.unknown_token_id",
        ["sep"] = "tokenizer.ggml.seperator_token_id", ["pad"] = "tokenizer.ggml.padding_token_id",
    };

    public required string PreTokenizer { get; init; }
    public required IReadOnlyList<string> Tokens { get; init; }
    public required IReadOnlyList<GgufTokenType> TokenTypes { get; init; }
    public required IReadOnlyList<string> Merges { get; init; }
    public required IReadOnlyDictionary<string, int> SpecialIds { get; init; }
    public bool AddBos { get; init; }
    public bool AddEos { get; init; }
    public IReadOnlyDictionary<string, string> ChatTemplates { get; init; } = new Dictionary<string, string>();

    /// <summary>Reads the tokenizer files in <paramref name="folder"/> and sizes the vocabulary to the model's embedding rows.</summary>
    /// <param name="preTokenizer">llama.cpp's pre-tokenizer name, to override detection (e.g. for a regex this code does not know).</param>
    public static GgufTokenizerMetadata Load(string folder, ModelConfig config, string? preTokenizer = null)
    {
        var tokenizerPath = Path.Combine(folder, Tokenizer.FileName);
        if (!File.Exists(tokenizerPath))
            throw new ReasonSharpException($"{tokenizerPath}: not found; a GGUF export needs the model's tokenizer.json (a byte-level BPE tokenizer)");
        var json = TokenizerJson.Load(tokenizerPath);
        RequireByteLevelBpe(json);
        var files = TokenizerConfig.Load(folder);
        var tokens = new string?[config.VocabSize];
        var types = new GgufTokenType[config.VocabSize];

        void Place(int id, string token, GgufTokenType type, string field)
        {
            if (id >= config.VocabSize)
                throw new ReasonSharpException($"{tokenizerPath}: {field} '{token}' has id {id}, but the model's vocab_size is {config.VocabSize} (config.json); the tokenizer does not fit the model");
            tokens[id] = token;
            types[id] = type;
        }
        foreach (var (token, id) in json.Vocab) Place(id, token, GgufTokenType.Normal, "model.vocab entry");
        foreach (var added in json.AddedTokens)
        {
            bool control = added.Special || LooksSpecial(added.Content);
            Place(added.Id, control ? added.Content : added.Content.Replace('\u2581', ' '), control ? GgufTokenType.Control : GgufTokenType.UserDefined, "added token");
        }
        for (int id = 0; id < tokens.Length; id++)
            if (tokens[id] is null) { tokens[id] = $"[PAD{id}]"; types[id] = GgufTokenType.Unused; }

        var specialIds = new Dictionary<string, int>();
        foreach (var (kind, content) in SpecialTokens(files))
            if (content is not null && json.AddedTokens.FirstOrDefault(t => t.Content == content) is { } token)
                specialIds[kind] = token.Id;
        void Fallback(string kind, int? id)
        {
            if (id is { } value && value >= 0 && value < config.VocabSize) specialIds.TryAdd(kind, value);
        }
        Fallback("bos", config.BosTokenId);
        Fallback("eos", config.EosTokenIds.Count > 0 ? config.EosTokenIds[0] : null);
        Fallback("pad", config.PadTokenId);

        // As llama.cpp's converter: BOS/EOS are added when a template post-processor starts/ends a single sequence with them.
        var templates = json.SingleTemplates.Where(t => t.Count >= 2).ToList();
        bool addsBos = templates.Any(t => t[0] is { } first && first == files.BosToken);
        bool addsEos = templates.Any(t => t[^1] is { } last && last == files.EosToken);
        return new GgufTokenizerMetadata
        {
            PreTokenizer = preTokenizer ?? DetectPreTokenizer(json),
            Tokens = tokens!,
            TokenTypes = types,
            Merges = json.Merges.Select(m => EncodeSpaces(m.Left) + " " + EncodeSpaces(m.Right)).ToList(),
            SpecialIds = specialIds,
            AddBos = files.AddBosToken ?? addsBos,
            AddEos = files.AddEosToken ?? addsEos,
            ChatTemplates = files.ChatTemplatesByName.Count > 0 ? files.ChatTemplatesByName
                : files.ChatTemplate is { } template ? new Dictionary<string, string> { ["default"] = template } : new Dictionary<string, string>(),
        };
    }

    static void RequireByteLevelBpe(TokenizerJson json)
    {
        if (json.ModelType != "BPE") throw new ReasonSharpException($"{json.SourcePath}: field 'model.type' is '{json.ModelType}'; only BPE tokenizers can be exported");
        if (json.ByteFallback)
            throw new ReasonSharpException($"{json.SourcePath}: field 'model.byte_fallback' is true (a SentencePiece-style BPE); only byte-level (GPT-2 style) BPE tokenizers can be exported");
        if (!json.IsByteLevel)
            throw new ReasonSharpException($"{json.SourcePath}: neither 'pre_tokenizer' nor 'decoder' is ByteLevel; only byte-level (GPT-2 style) BPE tokenizers can be exported");
    }

    static IEnumerable<(string Kind, string? Content)> SpecialTokens(TokenizerConfig files) =>
        [("bos", files.BosToken), ("eos", files.EosToken), ("unk", files.UnkToken), ("sep", files.SepToken), ("pad", files.PadToken)];

    /// <summary>llama.cpp splits merges on the first space, so spaces inside a part are written as U+0120 (Ġ).</summary>
    static string EncodeSpaces(string part) => part.Replace(' ', '\u0120');

    /// <summary>Added tokens that are control tokens by shape even when not flagged special (llama.cpp's converter rule).</summary>
    static bool LooksSpecial(string token) =>
        (token.StartsWith("<|") && token.EndsWith("|>")) || (token.StartsWith("<｜") && token.EndsWith("｜>"));

    static string DetectPreTokenizer(TokenizerJson json)
    {
        var regexes = new List<string>();
        bool byteLevelRegex = false;
        foreach (var step in json.PreTokenizerSteps)
        {
            switch (step.Type)
            {
                case "Split":
                    regexes.Add(step.Regex ?? throw new ReasonSharpException($"{json.SourcePath}: a 'Split' pre-tokenizer without a Regex pattern is not supported"));
                    break;
                case "ByteLevel":
                    byteLevelRegex |= step.UseRegex ?? true;
                    break;
                case var other:
                    throw new ReasonSharpException($"{json.SourcePath}: pre-tokenizer step '{other}' is not supported (expected Split and ByteLevel)");
            }
        }
        return regexes switch
        {
            [Qwen2Regex] when !byteLevelRegex => "qwen2",
            [Llama3Regex] when !byteLevelRegex => "llama-bpe",
            [] when byteLevelRegex => "gpt2",
            _ => throw new ReasonSharpException(
                $"{json.SourcePath}: the pre-tokenizer (split regex {(regexes.Count == 0 ? "none" : string.Join(" + ", regexes.Select(r => $"'{r}'")))}, " +
                $"ByteLevel regex {(byteLevelRegex ? "on" : "off")}) is not one llama.cpp is known to match here (Qwen2 → qwen2, Llama 3 → llama-bpe, GPT-2 → gpt2); " +
                "name llama.cpp's pre-tokenizer explicitly (GgufExportOptions.PreTokenizer, or --pre on the command line)"),
        };
    }

    public void WriteTo(GgufWriter writer)
    {
        writer.AddString("tokenizer.ggml.model", "gpt2");
        writer.AddString("tokenizer.ggml.pre", PreTokenizer);
        writer.AddStringArray("tokenizer.ggml.tokens", Tokens);
        writer.AddInt32Array("tokenizer.ggml.token_type", TokenTypes.Select(t => (int)t).ToArray());
        writer.AddStringArray("tokenizer.ggml.merges", Merges);
        foreach (var (kind, id) in SpecialIds) writer.AddUInt32(IdKeys[kind], (uint)id);
        writer.AddBool("tokenizer.ggml.add_bos_token", AddBos);
        writer.AddBool("tokenizer.ggml.add_eos_token", AddEos);
        foreach (var (name, template) in ChatTemplates)
            writer.AddString(name == "default" ? "tokenizer.chat_template" : $"tokenizer.chat_template.{name}", template);
    }
}
