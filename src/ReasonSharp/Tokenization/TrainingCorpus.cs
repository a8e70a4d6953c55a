using System.Text;
using System.Text.Json;

namespace ReasonSharp.Tokenization;

/// <summary>Reads tokenizer training text from .txt files (in blocks of whole lines) or .jsonl files (string fields of each row).</summary>
public static class TrainingCorpus
{
    const int TextBlockChars = 1 << 20;

    /// <summary>The texts of one file. For JSONL, <paramref name="fields"/> names the fields to read (each must be present);
    /// empty means every string in the row. A field holding a list or object contributes every string inside it.</summary>
    public static IEnumerable<string> Read(string path, IReadOnlyList<string>? fields = null)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: training file not found");
        var extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".jsonl" => ReadJsonl(path, fields ?? []),
            ".txt" or ".text" or ".md" => fields is { Count: > 0 }
                ? throw new ReasonSharpException($"{path}: --field applies to .jsonl files only; a text file is read whole")
                : ReadText(path),
            _ => throw new ReasonSharpException($"{path}: unsupported training file type '{extension}' (expected .txt or .jsonl)"),
        };
    }

    static IEnumerable<string> ReadText(string path)
    {
        var block = new StringBuilder();
        foreach (var (_, line) in TextLines.Read(path))
        {
            block.Append(line).Append('\n');
            if (block.Length < TextBlockChars) continue;
            yield return block.ToString();
            block.Clear();
        }
        if (block.Length > 0) yield return block.ToString();
    }

    static IEnumerable<string> ReadJsonl(string path, IReadOnlyList<string> fields)
    {
        foreach (var (lineNumber, line) in TextLines.Read(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument row;
            try { row = JsonDocument.Parse(line); }
            catch (JsonException e)
            {
                throw new ReasonSharpException(
                    $"{path}:{lineNumber}: not valid JSON ({e.Message}); expected one JSON object per line", e);
            }
            var texts = new List<string>();
            using (row)
            {
                if (fields.Count == 0) CollectStrings(row.RootElement, texts);
                else
                    foreach (var field in fields)
                    {
                        if (row.RootElement.ValueKind != JsonValueKind.Object || !row.RootElement.TryGetProperty(field, out var value))
                            throw new ReasonSharpException(
                                $"{path}:{lineNumber}: {field}: missing; expected text in every row");
                        if (value.ValueKind is not (JsonValueKind.String or JsonValueKind.Array or JsonValueKind.Object))
                            throw new ReasonSharpException($"{path}:{lineNumber}: {field}: " +
                                $"{value.ValueKind.ToString().ToLowerInvariant()}; expected text");
                        CollectStrings(value, texts);
                    }
            }
            foreach (var text in texts) yield return text;
        }
    }

    static void CollectStrings(JsonElement element, List<string> texts)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String: texts.Add(element.GetString()!); break;
            case JsonValueKind.Array: foreach (var item in element.EnumerateArray()) CollectStrings(item, texts); break;
            case JsonValueKind.Object: foreach (var property in element.EnumerateObject()) CollectStrings(property.Value, texts); break;
        }
    }
}
