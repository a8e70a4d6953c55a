using ReasonSharp.Data;

namespace ReasonSharp.Tests.Data;

public class BadInputTests
{
    static string WriteBadFile(TempDir dir)
    {
        var path = dir.File("bad.jsonl");
        DataFiles.WriteJsonl(path,
            """{"messages": [{"role": "user", "content": "ok 1"}]}""",
            """{"messages": [{"role": "user", "content": "broken"}""",
            "",
            """{"prompt": "wrong columns"}""",
            """{"messages": [{"role": "user", "content": 5}]}""",
            """{"messages": []}""",
            """{"messages": [{"role": "robot", "content": "hi"}]}""",
            """["not", "an", "object"]""",
            """{"messages": [{"role": "user", "content": "ok 2"}]}""");
        return path;
    }

    [Fact]
    public void Each_kind_of_bad_row_is_an_error_naming_file_line_and_field()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = WriteBadFile(dir);
        var reasons = new BadRowLog(skipBad: true, reasonsKept: 10);
        var good = DatasetReader.ReadExamples(path, bad: reasons).ToList();

        Assert.Equal(["ok 1", "ok 2"], good.Select(e => e.Messages[0].Content));
        Assert.Equal(6, reasons.Count);
        string[] expected =
        [
            $"{path}:2: malformed JSON at character",
            $"{path}:4: missing column 'messages' (columns present: prompt)",
            $"{path}:5: field 'messages[0].content': expected a string (or a list of text parts), got a number",
            $"{path}:6: field 'messages': empty conversation: expected at least one turn",
            $"{path}:7: field 'messages[0].role': unknown role 'robot'",
            $"{path}:8: expected a JSON object (one row), got an array of 3",
        ];
        Assert.Equal(expected.Length, reasons.FirstReasons.Count);
        Assert.All(expected.Zip(reasons.FirstReasons), pair => Assert.StartsWith(pair.First, pair.Second));
        Assert.StartsWith("skipped 6 bad row(s); first reasons:", reasons.Summary());
    }

    [Fact]
    public void Without_skip_bad_the_first_bad_row_throws()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = WriteBadFile(dir);
        var e = Assert.Throws<ReasonSharpException>(() => DatasetReader.ReadExamples(path).ToList());
        Assert.StartsWith($"{path}:2: malformed JSON", e.Message);
    }

    [Fact]
    public void Only_the_first_few_reasons_are_kept_but_all_are_counted()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("many.jsonl");
        DataFiles.WriteJsonl(path, Enumerable.Range(0, 50).Select(i => i % 2 == 0 ? """{"question": "q", "answer": "no gold"}""" : """{"question": "q", "answer": "a\n#### 1"}""").ToArray());
        var bad = new BadRowLog(skipBad: true);
        Assert.Equal(25, DatasetReader.ReadExamples(path, bad: bad).Count());
        Assert.Equal(25, bad.Count);
        Assert.Equal(5, bad.FirstReasons.Count);
        Assert.Equal($"{path}:1: field 'answer': expected the gold answer after '####' at the end (GSM8K format)",
            bad.FirstReasons[0]);
    }

    [Fact]
    public void Wrong_types_in_other_schemas_name_the_field()
    {
        using var dir = TestEnvironment.NewTempDir();
        var cases = new (string Line, string Expected)[]
        {
            ("""{"conversations": "hello"}""", "field 'conversations': expected a list of {from, value} turns, got a string"),
            ("""{"conversations": [{"from": "human"}]}""", "field 'conversations[0].value': missing"),
            ("""{"question": ["q"], "answer": "#### 1"}""", "field 'question': expected a string, got an array of 1"),
            ("""{"problem": "p", "solution": "no box"}""", "field 'solution': expected a \\boxed{…} answer in the solution (MATH format)"),
            ("""{"prompt": 3}""", "field 'prompt': expected a string, got a number"),
            ("""{"system": "s", "conversations": [{"from": "system", "value": "t"}, {"from": "human", "value": "u"}]}""", "field 'system': the conversation already has a system turn"),
        };
        foreach (var (line, expected) in cases)
        {
            var path = dir.File("case.jsonl");
            DataFiles.WriteJsonl(path, line);
            var e = Assert.Throws<ReasonSharpException>(() => DatasetReader.ReadExamples(path).ToList());
            Assert.StartsWith($"{path}:1: {expected}", e.Message);
        }
    }

    [Fact]
    public void Bad_files_are_named()
    {
        using var dir = TestEnvironment.NewTempDir();
        Assert.Equal($"{dir.File("none.jsonl")}: file not found",
            Assert.Throws<ReasonSharpException>(() => DatasetReader.ReadRows(dir.File("none.jsonl"))).Message);
        File.WriteAllText(dir.File("data.csv"), "a,b");
        Assert.Contains("unknown data file type '.csv'",
            Assert.Throws<ReasonSharpException>(() => DatasetReader.ReadRows(dir.File("data.csv"))).Message);
        File.WriteAllText(dir.File("fake.parquet"), "not parquet at all");
        Assert.StartsWith($"{dir.File("fake.parquet")}: not a readable Parquet file",
            Assert.Throws<ReasonSharpException>(() => DatasetReader.ReadRows(dir.File("fake.parquet"))).Message);
        File.WriteAllText(dir.File("array.json"), "[{\"prompt\": \"a\"},\n {\"prompt\": ");
        Assert.StartsWith($"{dir.File("array.json")}:2: malformed JSON",
            Assert.Throws<ReasonSharpException>(() => DatasetReader.ReadRows(dir.File("array.json")).ToList()).Message);
        Directory.CreateDirectory(dir.File("empty"));
        Assert.Contains("no data files found",
            Assert.Throws<ReasonSharpException>(() => DatasetReader.ReadRows(dir.File("empty"))).Message);
    }
}
