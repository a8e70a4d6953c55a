using System.Text.Json;

namespace ReasonSharp.Data;

/// <summary>
/// One raw dataset row: a JSON object holding every column, and where it came from. Accessors throw a
/// <see cref="ReasonSharpException"/> naming the file, line and field when a column is missing or has the wrong type.
/// </summary>
public sealed class DataRow
{
    public DataRow(JsonElement json, RowOrigin origin)
    {
        if (json.ValueKind != JsonValueKind.Object)
            throw new ReasonSharpException($"{origin}: expected a JSON object (one row), got {Describe(json)}");
        Json = json;
        Origin = origin;
    }

    /// <summary>A row, or null after reporting a non-object value to <paramref name="bad"/>.</summary>
    public static DataRow? TryCreate(JsonElement json, RowOrigin origin, BadRowLog bad)
    {
        try { return new DataRow(json, origin); }
        catch (ReasonSharpException e) { bad.Report(e); return null; }
    }

    public JsonElement Json { get; }
    public RowOrigin Origin { get; }

    public IEnumerable<string> ColumnNames => Json.EnumerateObject().Select(p => p.Name);

    /// <summary>True when the column exists (even when its value is null).</summary>
    public bool Has(string column) => Json.TryGetProperty(column, out _);

    public bool TryGet(string column, out JsonElement value) => Json.TryGetProperty(column, out value);

    public JsonElement Require(string column) =>
        Json.TryGetProperty(column, out var value)
            ? value
            : throw new ReasonSharpException(
                $"{Origin}: missing column '{column}' (columns present: {string.Join(", ", ColumnNames)})");

    public string RequireString(string column) => AsString(Require(column), column);

    /// <summary>The value as a string, or an error naming the field.</summary>
    public string AsString(JsonElement value, string field) => value.ValueKind == JsonValueKind.String
        ? value.GetString()!
        : throw FieldError(field, $"expected a string, got {Describe(value)}");

    public ReasonSharpException FieldError(string field, string problem) =>
        new($"{Origin}: field '{field}': {problem}");

    /// <summary>"a string", "a number", "an array of 3", … for error messages.</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => $"an array of {value.GetArrayLength()}",
        JsonValueKind.Object => "an object",
        _ => value.ValueKind.ToString(),
    };

    public override string ToString() => $"{Origin}: {Json.GetRawText()}";
}
