using System.Text.Json;

namespace ReasonSharp.Data;

/// <summary>Streams rows from JSON Lines files and from files holding one top-level JSON array. Nothing is loaded whole.</summary>
public static class JsonRowReader
{
    /// <summary>One JSON object per line; blank lines are not rows. Line numbers are 1-based and count every line.</summary>
    public static IEnumerable<DataRow> ReadJsonl(string path, BadRowLog? bad = null)
    {
        DatasetFiles.RequireFile(path);
        return ReadJsonlLines(path, bad ?? BadRowLog.Strict());
    }

    /// <summary>A top-level JSON array of objects, streamed element by element. A .json file that is really JSON Lines is read as such.</summary>
    public static IEnumerable<DataRow> ReadJsonArrayOrLines(string path, BadRowLog? bad = null)
    {
        DatasetFiles.RequireFile(path);
        bad ??= BadRowLog.Strict();
        return StartsWithArray(path) ? ReadArrayItems(path, bad) : ReadJsonlLines(path, bad);
    }

    static IEnumerable<DataRow> ReadJsonlLines(string path, BadRowLog bad)
    {
        using var reader = new StreamReader(path, detectEncodingFromByteOrderMarks: true);
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var row = ParseLine(line, RowOrigin.Line(path, lineNumber), bad);
            if (row != null) yield return row;
        }
    }

    static DataRow? ParseLine(string line, RowOrigin origin, BadRowLog bad)
    {
        JsonElement json;
        try
        {
            json = JsonElement.Parse(line);
        }
        catch (JsonException e)
        {
            bad.Report(new ReasonSharpException(
                $"{origin}: malformed JSON at character {e.BytePositionInLine + 1}: expected one JSON object per line", e));
            return null;
        }
        return DataRow.TryCreate(json, origin, bad);
    }

    static IEnumerable<DataRow> ReadArrayItems(string path, BadRowLog bad)
    {
        using var stream = File.OpenRead(path);
        using var items = JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(stream).ToBlockingEnumerable().GetEnumerator();
        long index = 0;
        while (NextItem(items, path, out var item))
        {
            if (DataRow.TryCreate(item, RowOrigin.Item(path, ++index), bad) is { } row) yield return row;
        }
    }

    // A syntax error inside an array leaves the rest unreadable, so it is always an error, even with skip-bad.
    static bool NextItem(IEnumerator<JsonElement> items, string path, out JsonElement item)
    {
        try
        {
            var more = items.MoveNext();
            item = more ? items.Current : default;
            return more;
        }
        catch (JsonException e)
        {
            throw new ReasonSharpException(
                $"{path} line {(e.LineNumber ?? 0) + 1}: malformed JSON at character {(e.BytePositionInLine ?? 0) + 1}: expected a JSON array of row objects", e);
        }
    }

    static bool StartsWithArray(string path)
    {
        using var stream = File.OpenRead(path);
        int b;
        while ((b = stream.ReadByte()) != -1)
        {
            if (b is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF) continue; // whitespace and a UTF-8 BOM
            return b == '[';
        }
        return false;
    }
}
