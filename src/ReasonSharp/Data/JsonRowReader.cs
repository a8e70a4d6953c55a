using System.Text.Json;

namespace ReasonSharp.Data;

/// <summary>Streams rows from JSON Lines files and from files holding one top-level JSON array. Nothing is loaded
/// whole.</summary>
public static class JsonRowReader
{
    /// <summary>One JSON object per line; blank lines are not rows. Line numbers are 1-based and count every
    /// line.</summary>
    public static IEnumerable<DataRow> ReadJsonl(string path, BadRowLog? bad = null)
    {
        DatasetFiles.RequireFile(path);
        return ReadJsonlLines(path, bad ?? BadRowLog.Strict());
    }

    /// <summary>A top-level JSON array of objects, streamed element by element. A .json file that is really JSON Lines
    /// is read as such.</summary>
    public static IEnumerable<DataRow> ReadJsonArrayOrLines(string path, BadRowLog? bad = null)
    {
        DatasetFiles.RequireFile(path);
        bad ??= BadRowLog.Strict();
        return StartsWithArray(path) ? ReadArrayItems(path, bad) : ReadJsonlLines(path, bad);
    }

    static IEnumerable<DataRow> ReadJsonlLines(string path, BadRowLog bad)
    {
        foreach (var (lineNumber, line) in TextLines.Read(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var row = ParseLine(line, RowOrigin.Line(path, lineNumber), bad);
            if (row != null) yield return row;
        }
    }

    /// <summary>System.Text.Json's default nesting limit, which the readers keep.</summary>
    public const int MaxDepth = 64;

    /// <summary>The deepest nesting of arrays and objects in <paramref name="json"/>, outside strings.</summary>
    public static int NestingDepth(string json)
    {
        int depth = 0, deepest = 0;
        bool inString = false, escaped = false;
        foreach (var c in json)
        {
            if (inString)
            {
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') inString = false;
            }
            else if (c == '"') inString = true;
            else if (c is '[' or '{') deepest = Math.Max(deepest, ++depth);
            else if (c is ']' or '}') depth--;
        }
        return deepest;
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
            int depth = NestingDepth(line);
            bad.Report(new ReasonSharpException(depth > MaxDepth
                ? $"{origin}: the JSON nests {depth} levels deep; a row may nest at most {MaxDepth} levels"
                : $"{origin}: malformed JSON at character {e.BytePositionInLine + 1}: expected one JSON object per " +
                  "line", e));
            return null;
        }
        return DataRow.TryCreate(json, origin, bad);
    }

    static IEnumerable<DataRow> ReadArrayItems(string path, BadRowLog bad)
    {
        using var stream = File.OpenRead(path);
        using var items =
            JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(stream).ToBlockingEnumerable().GetEnumerator();
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
            // The whole item is not at hand, so System.Text.Json's own reason (e.g. the nesting limit) is quoted.
            throw new ReasonSharpException(
                $"{path}:{(e.LineNumber ?? 0) + 1}: malformed JSON at character " +
                $"{(e.BytePositionInLine ?? 0) + 1}: expected a JSON array of row objects ({e.Message})", e);
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
