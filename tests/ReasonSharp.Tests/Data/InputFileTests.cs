using System.Text;
using ReasonSharp.Data;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Data;

/// <summary>
/// Input files that used to fail silently or with a vague message: bytes that are not UTF-8, JSON nested too deep, a
/// corrupt Parquet page. Warnings go to <see cref="Warnings.Sink"/>, so these tests run with the console ones.
/// </summary>
[Collection("Console")]
public class InputFileTests
{
    static List<string> CaptureWarnings(Action read)
    {
        var warnings = new List<string>();
        var sink = Warnings.Sink;
        Warnings.Sink = warnings.Add;
        try { read(); }
        finally { Warnings.Sink = sink; }
        return warnings;
    }

    [Fact]
    public void Latin1BytesAreReadAsReplacementCharactersWithAWarningNamingTheFileAndLine()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("mixed.jsonl");
        var latin1 = Encoding.Latin1;
        using (var file = File.Create(path))
        {
            file.Write(Encoding.UTF8.GetBytes("{\"prompt\": \"café\"}\n"));
            file.Write(latin1.GetBytes("{\"prompt\": \"café au lait\"}\n"));
            file.Write(Encoding.UTF8.GetBytes("\n{\"prompt\": \"naïve \uFFFD kept\"}\n"));
            file.Write(latin1.GetBytes("{\"prompt\": \"señor\"}\n"));
        }
        List<DataRow> rows = [];
        var warnings = CaptureWarnings(() => rows = DatasetReader.ReadRows(path).ToList());
        Assert.Equal(
        [
            $"{path}:2: bytes that are not UTF-8 were read as U+FFFD (is the file Latin-1 or Windows-1252? " +
            "convert it, e.g. iconv -f latin1 -t utf-8)",
            $"{path}: 2 lines had bytes that are not UTF-8 (the first is line 2)",
        ], warnings);
        Assert.Equal(["café", "caf\uFFFD au lait", "naïve \uFFFD kept", "se\uFFFDor"],
            rows.Select(r => r.Json.GetProperty("prompt").GetString()));
        Assert.Equal($"{path}:5", rows[3].Origin.ToString());

        // A valid file (a U+FFFD written as UTF-8 is a character like any other) gives no warning.
        var clean = dir.File("clean.jsonl");
        File.WriteAllText(clean, "{\"prompt\": \"\uFFFD\"}\n");
        Assert.Empty(CaptureWarnings(() => DatasetReader.ReadRows(clean).ToList()));

        // The tokenizer's corpus reader warns the same way.
        warnings = CaptureWarnings(() => TrainingCorpus.Read(path, ["prompt"]).ToList());
        Assert.StartsWith($"{path}:2: bytes that are not UTF-8", warnings[0]);

        // So does `reason reward`'s input reader.
        var completions = dir.File("completions.jsonl");
        File.WriteAllBytes(completions, latin1.GetBytes("{\"completion\": \"señor\"}\n"));
        var rewardRows = new List<ReasonSharp.Rewards.RewardRow>();
        warnings = CaptureWarnings(() => rewardRows = ReasonSharp.Rewards.RewardJsonl.Read(completions).ToList());
        Assert.StartsWith($"{completions}:1: bytes that are not UTF-8", warnings[0]);
        Assert.Single(rewardRows);
    }

    [Fact]
    public void TextLinesSplitsLikeReadLinesAcrossBufferBoundaries()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("lines.txt");
        var longLine = new string('x', 200_000);
        var rows = string.Concat(Enumerable.Range(0, 20_000).Select(i => $"row {i}\n"));
        var text = "\uFEFFfirst\r\n\nthird é\n" + longLine + "\r\n" + rows + "last";
        File.WriteAllText(path, text, new UTF8Encoding(false));
        var lines = TextLines.Read(path).ToList();
        Assert.Equal(File.ReadLines(path), lines.Select(l => l.Text));
        Assert.Equal(Enumerable.Range(1, lines.Count).Select(i => (long)i), lines.Select(l => l.Number));
        Assert.Equal("first", lines[0].Text);
        Assert.Equal(longLine, lines[3].Text);
        Assert.Equal("last", lines[^1].Text);

        File.WriteAllText(path, "utf16 line\nsecond\n", Encoding.Unicode);
        Assert.Equal(["utf16 line", "second"], TextLines.Read(path).Select(l => l.Text));
    }

    [Fact]
    public void JsonNestedDeeperThanTheLimitSaysSoInsteadOfMalformed()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("deep.jsonl");
        var deep = new string('[', 100_000) + new string(']', 100_000);
        File.WriteAllText(path, "{\"prompt\": \"fine\"}\n{\"prompt\": " + deep + "}\n");
        var error = Assert.Throws<ReasonSharpException>(() => DatasetReader.ReadRows(path).ToList());
        Assert.Equal($"{path}:2: the JSON nests 100001 levels deep; a row may nest at most 64 levels",
            error.Message);

        var bad = new BadRowLog(skipBad: true);
        Assert.Single(DatasetReader.ReadRows(path, bad));
        Assert.Equal(1, bad.Count);

        // Brackets inside strings do not count.
        Assert.Equal(2, JsonRowReader.NestingDepth("{\"a\": [\"[[[{\\\"\", 1]}"));
    }

    [Fact]
    public void ACorruptParquetPageNamesTheFileAndTheRowGroup()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("corrupt.parquet");
        DataFiles.WriteParquet(path, DataFiles.BespokeRows(20));
        var bytes = File.ReadAllBytes(path);
        // The first page starts after the 4-byte "PAR1" magic; its header and data are overwritten.
        for (int i = 4; i < 200; i++) bytes[i] = 0xFF;
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<ReasonSharpException>(() => DatasetReader.ReadRows(path).ToList());
        Assert.StartsWith($"{path}: row group 1 of 1 (after row 0) cannot be read; the file is corrupt or truncated (",
            error.Message);
    }
}
