namespace ReasonSharp.Data;

/// <summary>Where a row came from: file and 1-based line (JSONL), item (JSON array) or row (Parquet) number; a line
/// reads "file:N" as every error of the project does.</summary>
public sealed record RowOrigin(string File, long Number, string Unit)
{
    public static RowOrigin Line(string file, long line) => new(file, line, "line");
    public static RowOrigin Item(string file, long item) => new(file, item, "item");
    public static RowOrigin Row(string file, long row) => new(file, row, "row");

    public override string ToString() => Unit == "line" ? $"{File}:{Number}" : $"{File} {Unit} {Number}";
}
