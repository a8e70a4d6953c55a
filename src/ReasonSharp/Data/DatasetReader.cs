using ReasonSharp.Hub;
namespace ReasonSharp.Data;

/// <summary>Where to read from and how strictly. A folder is read as a Hugging Face dataset folder.</summary>
public sealed record DatasetSource(string Path)
{
    /// <summary>Split of a dataset folder; default "train" (or the only split).</summary>
    public string? Split { get; init; }

    /// <summary>Configuration sub-folder of a dataset folder with several (e.g. gsm8k's main/socratic).</summary>
    public string? Config { get; init; }
}

/// <summary>Opens files and dataset folders as streams of rows and of <see cref="Example"/>s.</summary>
public static class DatasetReader
{
    /// <summary>Rows of a .jsonl/.json/.parquet file or of one split of a dataset folder, streamed.</summary>
    public static IEnumerable<DataRow> ReadRows(DatasetSource source, BadRowLog? bad = null)
    {
        source = source with { Path = HubPaths.Dataset(source.Path, source.Config) };
        if (!Directory.Exists(source.Path)) return DatasetFiles.ReadFile(source.Path, bad);
        var folder = HfDatasetFolder.Open(source.Path, source.Config);
        return folder.ReadSplit(source.Split ?? folder.DefaultSplit(), bad);
    }

    public static IEnumerable<DataRow> ReadRows(string path, BadRowLog? bad = null) =>
        ReadRows(new DatasetSource(path), bad);

    /// <summary>Rows paired with the examples they become. Rows that do not convert go to
    /// <paramref name="bad"/>.</summary>
    public static IEnumerable<RowExample> ReadRowExamples(DatasetSource source, ExampleConverter converter,
        BadRowLog? bad = null)
    {
        bad ??= BadRowLog.Strict();
        foreach (var row in ReadRows(source, bad))
        {
            var example = converter.TryConvert(row, bad);
            if (example != null) yield return new RowExample(row, example);
        }
    }

    /// <summary>Examples of a file or dataset folder, streamed; the schema is recognised from the first row unless
    /// mapped.</summary>
    public static IEnumerable<Example> ReadExamples(DatasetSource source, SchemaMapping? mapping = null,
        BadRowLog? bad = null) =>
        ReadRowExamples(source, new ExampleConverter(mapping), bad).Select(pair => pair.Example);

    public static IEnumerable<Example> ReadExamples(string path, SchemaMapping? mapping = null,
        BadRowLog? bad = null) =>
        ReadExamples(new DatasetSource(path), mapping, bad);
}

/// <summary>A raw row and the example made from it (hygiene tools write the raw row back unchanged).</summary>
public readonly record struct RowExample(DataRow Row, Example Example);
