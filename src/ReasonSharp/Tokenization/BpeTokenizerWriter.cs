using System.Text.Encodings.Web;
using System.Text.Json;

namespace ReasonSharp.Tokenization;

/// <summary>Writes a trained <see cref="BpeModel"/> as a Hugging Face tokenizer folder (tokenizer.json + tokenizer_config.json).</summary>
public static class BpeTokenizerWriter
{
    static readonly JsonWriterOptions WriterOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Write(BpeModel model, BpeTrainerOptions options, string folder)
    {
        AtomicFile.WriteAllBytes(Path.Combine(folder, Tokenizer.FileName), TokenizerJsonBytes(model));
        AtomicFile.WriteAllBytes(Path.Combine(folder, TokenizerConfig.FileName), ConfigBytes(model, options));
    }

    static byte[] TokenizerJsonBytes(BpeModel model)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");
            json.WriteStartArray("added_tokens");
            foreach (var token in model.AddedTokens) WriteAddedToken(json, token, withId: true);
            json.WriteEndArray();
            json.WriteNull("normalizer"); // no NFC: text round-trips byte for byte

            json.WriteStartObject("pre_tokenizer");
            json.WriteString("type", "Sequence");
            json.WriteStartArray("pretokenizers");
            json.WriteStartObject();
            json.WriteString("type", "Split");
            json.WriteStartObject("pattern");
            json.WriteString("Regex", BpeTrainer.PreTokenizerPattern);
            json.WriteEndObject();
            json.WriteString("behavior", "Isolated");
            json.WriteBoolean("invert", false);
            json.WriteEndObject();
            WriteByteLevel(json, null);
            json.WriteEndArray();
            json.WriteEndObject();

            WriteByteLevel(json, "post_processor");
            WriteByteLevel(json, "decoder");

            json.WriteStartObject("model");
            json.WriteString("type", "BPE");
            json.WriteNull("dropout");
            json.WriteNull("unk_token");
            json.WriteString("continuing_subword_prefix", "");
            json.WriteString("end_of_word_suffix", "");
            json.WriteBoolean("fuse_unk", false);
            json.WriteBoolean("byte_fallback", false);
            json.WriteBoolean("ignore_merges", false);
            json.WriteStartObject("vocab");
            for (var id = 0; id < model.Tokens.Count; id++) json.WriteNumber(model.Tokens[id], id);
            json.WriteEndObject();
            json.WriteStartArray("merges");
            foreach (var (left, right) in model.Merges)
            {
                json.WriteStartArray();
                json.WriteStringValue(model.Tokens[left]);
                json.WriteStringValue(model.Tokens[right]);
                json.WriteEndArray();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    static void WriteByteLevel(Utf8JsonWriter json, string? name)
    {
        if (name is null) json.WriteStartObject(); else json.WriteStartObject(name);
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", false);
        json.WriteBoolean("use_regex", false);
        json.WriteEndObject();
    }

    static void WriteAddedToken(Utf8JsonWriter json, AddedToken token, bool withId)
    {
        json.WriteStartObject();
        if (withId) json.WriteNumber("id", token.Id);
        json.WriteString("content", token.Content);
        json.WriteBoolean("single_word", false);
        json.WriteBoolean("lstrip", false);
        json.WriteBoolean("rstrip", false);
        json.WriteBoolean("normalized", false);
        json.WriteBoolean("special", token.Special);
        json.WriteEndObject();
    }

    static byte[] ConfigBytes(BpeModel model, BpeTrainerOptions options)
    {
        var specials = model.AddedTokens.Where(t => t.Special).Select(t => t.Content).ToList();
        string? Pick(string preferred) => specials.Contains(preferred) ? preferred : null;

        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteBoolean("add_bos_token", false);
            json.WriteBoolean("add_prefix_space", false);
            json.WriteStartObject("added_tokens_decoder");
            foreach (var token in model.AddedTokens)
            {
                json.WritePropertyName(token.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                WriteAddedToken(json, token, withId: false);
            }
            json.WriteEndObject();
            json.WriteStartArray("additional_special_tokens");
            foreach (var special in specials.Where(s => s != ReasoningTokens.EndOfText)) json.WriteStringValue(special);
            json.WriteEndArray();
            json.WriteNull("bos_token");
            json.WriteString("chat_template", options.ChatTemplate);
            json.WriteBoolean("clean_up_tokenization_spaces", false);
            WriteOptionalString(json, "eos_token", Pick(ReasoningTokens.ImEnd) ?? Pick(ReasoningTokens.EndOfText));
            json.WriteString("errors", "replace");
            json.WriteNumber("model_max_length", options.ModelMaxLength);
            WriteOptionalString(json, "pad_token", Pick(ReasoningTokens.EndOfText));
            json.WriteBoolean("split_special_tokens", false);
            json.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            json.WriteNull("unk_token");
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    static void WriteOptionalString(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null) json.WriteNull(name); else json.WriteString(name, value);
    }
}
