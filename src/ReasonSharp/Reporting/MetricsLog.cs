using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ReasonSharp.Reporting;

/// <summary>Reads metrics.jsonl and turns its lines into plot series.</summary>
public static class MetricsLog
{
    public static IReadOnlyList<JsonObject> Read(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: metrics file not found");
        var lines = new List<JsonObject>();
        int number = 0;
        foreach (var text in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try { lines.Add(JsonNode.Parse(text) as JsonObject ?? throw new ReasonSharpException($"{path}:{number}: expected a JSON object")); }
            catch (JsonException e) { throw new ReasonSharpException($"{path}:{number}: malformed JSON: {e.Message}", e); }
        }
        return lines;
    }

    /// <summary>The numeric keys of the lines, in first-seen order.</summary>
    public static IReadOnlyList<string> NumericKeys(IEnumerable<JsonObject> lines) =>
        lines.SelectMany(l => l.Where(kv => Number(kv.Value) is not null).Select(kv => kv.Key)).Distinct().ToList();

    /// <summary>The (x, y) points of <paramref name="key"/> over <paramref name="xKey"/>, from the lines that have
    /// both.</summary>
    public static PlotSeries Series(IEnumerable<JsonObject> lines, string key, string xKey = "step",
        string? label = null)
    {
        var xs = new List<double>();
        var ys = new List<double>();
        foreach (var line in lines)
            if (Number(line[xKey]) is { } x && Number(line[key]) is { } y)
            {
                xs.Add(x);
                ys.Add(y);
            }
        return new PlotSeries(label ?? key, xs, ys);
    }

    /// <summary>The last value of every numeric key.</summary>
    public static IReadOnlyDictionary<string, double> Last(IEnumerable<JsonObject> lines)
    {
        var last = new Dictionary<string, double>();
        foreach (var line in lines)
            foreach (var (key, value) in line)
                if (Number(value) is { } number) last[key] = number;
        return last;
    }

    /// <summary>The finite number a JSON node holds, whatever its CLR type (parsed, long, int, double), else
    /// null.</summary>
    public static double? Number(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number
        && double.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            && double.IsFinite(d) ? d : null;
}
