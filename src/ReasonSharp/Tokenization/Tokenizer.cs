using System.Text;
using ReasonSharp.Hub;
using HfTokenizers = Tokenizers.DotNet;

namespace ReasonSharp.Tokenization;

/// <summary>
/// A Hugging Face tokenizer folder (tokenizer.json + tokenizer_config.json). Encoding and decoding of ordinary text run in
/// the Hugging Face tokenizers library (Tokenizers.DotNet); vocabulary, added tokens and special ids come from the files.
/// </summary>
public sealed class Tokenizer : IDisposable
{
    public const string FileName = "tokenizer.json";

    /// <summary>End-of-turn tokens of common chat templates (ChatML, Llama 3, Gemma, Phi); generation also stops on
    /// them when present, and they end assistant turns in masks.</summary>
    static readonly string[] EndOfTurnTokens = ["<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end_of_text|>",
        "<end_of_turn>", "<|end|>", "<|eom_id|>"];

    readonly HfTokenizers.Tokenizer native;
    readonly string tokenizerJsonText;
    readonly Dictionary<string, int> addedByContent;

    public string Folder { get; }
    public TokenizerJson Json { get; }
    public TokenizerConfig Config { get; }

    /// <summary>Embedding rows the model needs: the largest id over vocab and added tokens, plus one.</summary>
    public int VocabSize => Json.VocabSize;
    public int? BosTokenId { get; }
    public int? EosTokenId { get; }
    public int? PadTokenId { get; }
    /// <summary>EOS and, when present, `&lt;|im_end|&gt;`, `&lt;|eot_id|&gt;`, `&lt;|endoftext|&gt;`,
    /// `&lt;|end_of_text|&gt;`, `&lt;end_of_turn&gt;`, `&lt;|end|&gt;`, `&lt;|eom_id|&gt;`.</summary>
    public IReadOnlyList<int> StopTokenIds { get; }
    public string? ChatTemplate => Config.ChatTemplate;
    public int? ModelMaxLength => Config.ModelMaxLength;

    Tokenizer(string folder, string tokenizerJsonText, TokenizerJson json, TokenizerConfig config, HfTokenizers.Tokenizer native)
    {
        this.native = native;
        Folder = folder;
        this.tokenizerJsonText = tokenizerJsonText;
        Json = json;
        Config = config;
        addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var added in json.AddedTokens) addedByContent.TryAdd(added.Content, added.Id);
        CheckAddedTokensAgree();

        BosTokenId = ConfigTokenId(config.BosToken, "bos_token");
        EosTokenId = ConfigTokenId(config.EosToken, "eos_token");
        PadTokenId = ConfigTokenId(config.PadToken, "pad_token");
        var stops = new List<int>();
        if (EosTokenId is { } eos) stops.Add(eos);
        foreach (var token in EndOfTurnTokens)
            if (TokenToId(token) is { } id && !stops.Contains(id)) stops.Add(id);
        StopTokenIds = stops;
    }

    /// <summary>Loads `folder/tokenizer.json` and, when present, `folder/tokenizer_config.json`.</summary>
    public static Tokenizer Load(string folder)
    {
        folder = HubPaths.Model(folder);
        if (!Directory.Exists(folder))
            throw new ReasonSharpException($"tokenizer folder '{folder}' does not exist (expected a folder with {FileName} and {TokenizerConfig.FileName})");
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
            throw new ReasonSharpException($"tokenizer folder '{folder}' has no {FileName} (a Hugging Face tokenizers file is required; train one with `reason tokenizer train`)");
        var text = File.ReadAllText(path);
        var native = Task.Run(() => CreateNative(path, text)); // the library parses its copy while we parse ours
        try
        {
            var json = TokenizerJson.Parse(text, path);
            return new Tokenizer(Path.GetFullPath(folder), text, json, TokenizerConfig.Load(folder), native.GetAwaiter().GetResult());
        }
        catch
        {
            try { native.GetAwaiter().GetResult().Dispose(); } // our error wins; the library's copy is released
            catch (Exception e) when (e is ReasonSharpException or IOException) { }
            throw;
        }
    }

    /// <summary>Token ids of a text. Added tokens written in the text (`&lt;|im_start|&gt;`, `&lt;think&gt;`) become their single ids.
    /// BOS/EOS from tokenizer.json's post-processor are added only when <paramref name="addSpecialTokens"/> is true.</summary>
    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        uint[] raw;
        try { raw = native.Encode(text); }
        catch (HfTokenizers.TokenizerException e) { throw new ReasonSharpException($"{Json.SourcePath}: the tokenizers library could not encode the text: {e.Message}", e); }
        if (!addSpecialTokens || (Json.PostProcessorPrefix.Length == 0 && Json.PostProcessorSuffix.Length == 0))
            return Array.ConvertAll(raw, id => (int)id);
        var ids = new int[Json.PostProcessorPrefix.Length + raw.Length + Json.PostProcessorSuffix.Length];
        Json.PostProcessorPrefix.CopyTo(ids, 0);
        for (var i = 0; i < raw.Length; i++) ids[Json.PostProcessorPrefix.Length + i] = (int)raw[i];
        Json.PostProcessorSuffix.CopyTo(ids, Json.PostProcessorPrefix.Length + raw.Length);
        return ids;
    }

    /// <summary>The text of some ids, added tokens (`&lt;think&gt;`, `&lt;|im_end|&gt;`) included unless
    /// <paramref name="skipSpecialTokens"/> drops those marked special. An id outside the vocabulary is an error.</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var text = new StringBuilder();
        var run = new List<uint>();
        foreach (var id in ids)
        {
            if (Json.TokenAt(id) is null)
                throw new ReasonSharpException($"token id {id} is not in the vocabulary of {Json.SourcePath} (ids 0..{VocabSize - 1}, unused ids excluded)");
            if (Json.AddedTokenAt(id) is { } added)
            {
                FlushRun(run, text);
                if (!(skipSpecialTokens && added.Special)) text.Append(added.Content);
            }
            else run.Add((uint)id);
        }
        FlushRun(run, text);
        return text.ToString();
    }

    /// <summary>The id of a token string (an added token's content or a vocabulary entry such as "Ġthe"), or null.</summary>
    public int? TokenToId(string token) =>
        addedByContent.TryGetValue(token, out var id) ? id : Json.Vocab.TryGetValue(token, out id) ? id : null;

    /// <summary>The token string of an id as tokenizer.json spells it (byte-level strings such as "Ġthe").</summary>
    public string IdToToken(int id) =>
        Json.TokenAt(id) ?? throw new ReasonSharpException($"token id {id} is not in the vocabulary of {Json.SourcePath} (ids 0..{VocabSize - 1}, unused ids excluded)");

    /// <summary>True for an added token marked special (removed by skipSpecialTokens).</summary>
    public bool IsSpecial(int id) => Json.AddedTokenAt(id)?.Special == true;

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="folder"/>, each atomically.</summary>
    public void SaveTo(string folder)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, FileName), tokenizerJsonText);
        AtomicFile.WriteAllText(Path.Combine(folder, TokenizerConfig.FileName), Config.ToJson());
    }

    public void Dispose() => native.Dispose();

    void FlushRun(List<uint> run, StringBuilder text)
    {
        if (run.Count == 0) return;
        try { text.Append(native.Decode([.. run])); }
        catch (HfTokenizers.TokenizerException e) { throw new ReasonSharpException($"{Json.SourcePath}: the tokenizers library could not decode ids: {e.Message}", e); }
        run.Clear();
    }

    int? ConfigTokenId(string? token, string key)
    {
        if (token is null) return null;
        return TokenToId(token) ?? throw new ReasonSharpException(
            $"{Config.SourcePath}: key '{key}' names \"{token}\", which is not a token of {Json.SourcePath}");
    }

    void CheckAddedTokensAgree()
    {
        foreach (var (id, token) in Config.AddedTokensDecoder)
        {
            var inJson = Json.TokenAt(id);
            if (inJson != token.Content)
                throw new ReasonSharpException($"{Config.SourcePath}: key 'added_tokens_decoder.{id}' is \"{token.Content}\" but {Json.SourcePath} has "
                    + (inJson is null ? "no token with that id" : $"\"{inJson}\" there"));
        }
    }

    /// <summary>The native tokenizer. When tokenizer.json's post-processor would add BOS/EOS on every encode, it loads a copy
    /// without that step, so that special tokens are added only on request.</summary>
    static HfTokenizers.Tokenizer CreateNative(string path, string text)
    {
        var stripped = TokenizerJson.MayAddTokens(text) ? TokenizerJson.WithoutTokenAddingPostProcessor(text) : null;
        var loadPath = path;
        if (stripped is not null)
        {
            loadPath = Path.Combine(Path.GetTempPath(), $"reasonsharp-tokenizer-{Guid.NewGuid():N}.json");
            File.WriteAllText(loadPath, stripped);
        }
        try { return new HfTokenizers.Tokenizer(loadPath); }
        catch (HfTokenizers.TokenizerException e) { throw new ReasonSharpException($"{path}: the Hugging Face tokenizers library rejected it: {e.Message}", e); }
        finally { if (stripped is not null) File.Delete(loadPath); }
    }
}
