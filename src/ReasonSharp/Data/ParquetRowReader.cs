using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text.Json;
using Parquet;
using Parquet.Serialization;

namespace ReasonSharp.Data;

/// <summary>
/// Streams rows from a Parquet file one row group at a time (memory is bounded by the largest row group). Nested
/// columns (lists, structs, maps) become JSON arrays and objects, so a `conversations` list of {from, value} structs
/// reads exactly like its JSONL form.
/// </summary>
public static class ParquetRowReader
{
    public static IEnumerable<DataRow> Read(string path, BadRowLog? bad = null)
    {
        DatasetFiles.RequireFile(path);
        var groups = RowGroupCount(path);
        return ReadGroups(path, groups, bad ?? BadRowLog.Strict());
    }

    static int RowGroupCount(string path)
    {
        try
        {
            return RowGroupCountAsync(path).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not ReasonSharpException)
        {
            throw new ReasonSharpException($"{path}: not a readable Parquet file ({e.Message})", e);
        }
    }

    static async Task<int> RowGroupCountAsync(string path)
    {
        await using var reader = await ParquetReader.CreateAsync(path);
        return reader.RowGroupCount;
    }

    static IEnumerable<DataRow> ReadGroups(string path, int groups, BadRowLog bad)
    {
        long rowNumber = 0;
        for (var group = 0; group < groups; group++)
        {
            var rows = ReadGroup(path, group, groups, rowNumber);
            foreach (var values in rows)
            {
                if (DataRow.TryCreate(ToJson(values), RowOrigin.Row(path, ++rowNumber),
                    bad) is { } row) yield return row;
            }
        }
    }

    /// <summary>
    /// One row group's rows. A group that cannot be decoded (a corrupt page) is an error naming the file and the
    /// group, even with skip-bad: its rows cannot be told apart.
    /// </summary>
    static IList<Dictionary<string, object>> ReadGroup(string path, int group, int groups, long rowsBefore)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return ParquetSerializer.DeserializeUntypedAsync(stream, null, group).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is not (ReasonSharpException or OutOfMemoryException or OperationCanceledException))
        {
            throw new ReasonSharpException(
                $"{path}: row group {group + 1} of {groups} (after row {rowsBefore}) cannot be read; the file is " +
                $"corrupt or truncated ({e.GetType().Name}: {e.Message})", e);
        }
    }

    static JsonElement ToJson(Dictionary<string, object> values)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
            WriteValue(writer, values);
        return JsonElement.Parse(buffer.WrittenSpan);
    }

    static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case string s: writer.WriteStringValue(s); break;
            case ReadOnlyMemory<char> m: writer.WriteStringValue(m.Span); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case byte[] bytes: writer.WriteBase64StringValue(bytes); break;
            case float f: WriteDouble(writer, f); break;
            case double d: WriteDouble(writer, d); break;
            case decimal m: writer.WriteNumberValue(m); break;
            case sbyte or byte or short or ushort or int or uint or long:
                writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture)); break;
            case ulong u: writer.WriteNumberValue(u); break;
            case DateTime t: writer.WriteStringValue(t.ToString("O", CultureInfo.InvariantCulture)); break;
            case DateTimeOffset t: writer.WriteStringValue(t.ToString("O", CultureInfo.InvariantCulture)); break;
            case IDictionary map:
                writer.WriteStartObject();
                foreach (DictionaryEntry entry in map)
                {
                    writer.WritePropertyName(Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? "");
                    WriteValue(writer, entry.Value);
                }
                writer.WriteEndObject();
                break;
            case IEnumerable list:
                writer.WriteStartArray();
                foreach (var item in list) WriteValue(writer, item);
                writer.WriteEndArray();
                break;
            default: writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture)); break;
        }
    }

    // JSON has no NaN or infinity; they are written as strings so the row stays readable.
    static void WriteDouble(Utf8JsonWriter writer, double d)
    {
        if (double.IsFinite(d)) writer.WriteNumberValue(d);
        else writer.WriteStringValue(d.ToString(CultureInfo.InvariantCulture));
    }
}
