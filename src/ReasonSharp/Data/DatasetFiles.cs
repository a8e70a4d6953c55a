namespace ReasonSharp.Data;

/// <summary>File formats the readers understand, chosen by extension.</summary>
public enum DataFileFormat { Jsonl, Json, Parquet }

public static class DatasetFiles
{
    public static DataFileFormat? FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".jsonl" or ".ndjson" => DataFileFormat.Jsonl,
        ".json" => DataFileFormat.Json,
        ".parquet" => DataFileFormat.Parquet,
        _ => null,
    };

    public static DataFileFormat RequireFormat(string path) => FormatOf(path)
        ?? throw new ReasonSharpException($"{path}: unknown data file type '{Path.GetExtension(path)}'; expected " +
            $".jsonl, .json or .parquet");

    public static void RequireFile(string path)
    {
        if (!File.Exists(path))
            throw new ReasonSharpException(Directory.Exists(path)
                ? $"{path}: is a folder; expected a .jsonl, .json or .parquet file"
                : $"{path}: file not found");
    }

    /// <summary>Rows of one file, streamed, in the reader its extension selects.</summary>
    public static IEnumerable<DataRow> ReadFile(string path, BadRowLog? bad = null) => RequireFormat(path) switch
    {
        DataFileFormat.Jsonl => JsonRowReader.ReadJsonl(path, bad),
        DataFileFormat.Json => JsonRowReader.ReadJsonArrayOrLines(path, bad),
        _ => ParquetRowReader.Read(path, bad),
    };
}
