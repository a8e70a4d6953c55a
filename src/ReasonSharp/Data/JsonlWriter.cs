using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ReasonSharp.Data;

/// <summary>Writes JSON Lines files (UTF-8, no BOM, `&lt;think&gt;` and non-ASCII text left readable).</summary>
public static class JsonlWriter
{
    public static readonly JsonSerializerOptions Options =
        new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes the rows and returns how many were written.</summary>
    public static int Write(string path, IEnumerable<JsonNode> rows) =>
        WriteLines(path, rows.Select(r => r.ToJsonString(Options)));

    /// <summary>Writes raw rows back unchanged (hygiene tools keep every column as it was).</summary>
    public static int Write(string path, IEnumerable<DataRow> rows) =>
        WriteLines(path, rows.Select(r => JsonSerializer.Serialize(r.Json, Options)));

    /// <summary>Atomically (<see cref="AtomicFile"/>): a failed or interrupted write leaves no partial file.</summary>
    static int WriteLines(string path, IEnumerable<string> lines)
    {
        var count = 0;
        AtomicFile.Write(path, stream =>
        {
            var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
            using var writer = new StreamWriter(stream, utf8, 1 << 16, leaveOpen: true);
            foreach (var line in lines)
            {
                writer.Write(line);
                writer.Write('\n');
                count++;
            }
        });
        return count;
    }
}
