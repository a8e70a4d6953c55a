using System.CommandLine;
using ReasonSharp.Cli;
using ReasonSharp.Cli.Commands;
using ReasonSharp.Data;

namespace ReasonSharp.Tests.Data;

/// <summary>The `reason data` commands end to end (files in, files out, exit codes).</summary>
public class DataCommandTests
{
    static Task<int> Reason(params string[] args)
    {
        var root = new RootCommand("reason");
        root.Subcommands.Add(DataCommand.Create());
        return CliRunner.InvokeAsync(root, args);
    }

    [Fact]
    public async Task Generate_writes_train_and_test_files_that_share_no_problem()
    {
        using var dir = TestEnvironment.NewTempDir();
        var output = dir.File("countdown.jsonl");
        Assert.Equal(0,
            await Reason("data", "generate", "--task", "countdown", "--n", "400", "--difficulty", "2", "--seed", "3",
            "--out", output, "--test-fraction", "0.25"));
        var train = DatasetReader.ReadExamples(dir.File("countdown.train.jsonl")).ToList();
        var test = DatasetReader.ReadExamples(dir.File("countdown.test.jsonl")).ToList();
        Assert.Equal((300, 100), (train.Count, test.Count));
        string Key(Example e) => string.Join(",", e.Extra["numbers"].EnumerateArray().Select(n => n.GetInt64()).Order())
            + "->" + e.Extra["target"].GetInt64();
        Assert.Empty(train.Select(Key).Intersect(test.Select(Key)));
        Assert.All(train, e => Assert.Equal(2, e.Extra["difficulty"].GetInt32()));

        Assert.Equal(0,
            await Reason("data", "generate", "--task", "word", "--n", "20", "--out", output, "--test-fraction", "0"));
        Assert.Equal(20, File.ReadLines(output).Count());
        Assert.Equal(2, await Reason("data", "generate", "--task", "sudoku", "--out", output));
        Assert.Equal(2, await Reason("data", "generate", "--task", "word", "--difficulty", "9", "--out", output));
    }

    [Fact]
    public async Task Dedup_and_decontaminate_write_the_kept_rows_unchanged_and_a_report()
    {
        using var dir = TestEnvironment.NewTempDir();
        var train = dir.File("train.jsonl");
        DataFiles.WriteJsonl(train,
            """{"question": "A farmer has 12 cows and buys 7 more cows at the market on a sunny Tuesday morning. How many cows?", "answer": "12+7=19\n#### 19", "id": 1}""",
            """{"question": "A farmer has 12 cows and buys 7 more cows at the market on a sunny Tuesday morning. How many cows?", "answer": "12+7=19\n#### 19", "id": 2}""",
            """{"question": "Tom has 3 pens.", "answer": "#### 3", "id": 3}""",
            """{"question": "broken", "answer": "no gold", "id": 4}""");
        var eval = dir.File("eval.jsonl");
        DataFiles.WriteJsonl(eval, """{"question": "Tom has 3 pens and buys 4 more pens at the shop on a rainy Wednesday afternoon. How many pens now?", "answer": "#### 7"}""",
            """{"question": "a farmer has 12 cows and buys 7 more cows at the market on a sunny tuesday morning how many", "answer": "#### 19"}""");

        var deduped = dir.File("dedup.jsonl");
        // row 4 has no gold: an error without --skip-bad
        Assert.Equal(2, await Reason("data", "dedup", train, "--out", deduped));
        Assert.Equal(0, await Reason("data", "dedup", train, "--out", deduped, "--skip-bad"));
        Assert.Equal(["""{"question":"A farmer has 12 cows and buys 7 more cows at the market on a sunny Tuesday morning. How many cows?","answer":"12+7=19\n#### 19","id":1}""",
                      """{"question":"Tom has 3 pens.","answer":"#### 3","id":3}"""], File.ReadAllLines(deduped));

        var clean = dir.File("clean.jsonl");
        var report = dir.File("report.jsonl");
        Assert.Equal(0,
            await Reason("data", "decontaminate", deduped, "--eval", eval, "--out", clean, "--report", report));
        Assert.Equal(["""{"question":"Tom has 3 pens.","answer":"#### 3","id":3}"""], File.ReadAllLines(clean));
        var hit = Assert.Single(File.ReadAllLines(report));
        Assert.Contains($"{deduped}:1", hit);
        Assert.Contains($"{eval}:2", hit);
    }

    [SkippableFact]
    public async Task Stats_runs_on_gsm8k_with_the_qwen3_tokenizer()
    {
        var gsm8k = TestEnvironment.SharedFile("data/gsm8k/test.jsonl");
        var tokenizer = Path.GetDirectoryName(TestEnvironment.SharedFile("tokenizers/qwen3/tokenizer.json"))!;
        Assert.Equal(0, await Reason("data", "stats", gsm8k, "--tokenizer", tokenizer));
        Assert.Equal(2, await Reason("data", "stats", gsm8k, "--tokenizer", "/nonexistent"));
        Assert.Equal(2, await Reason("data", "stats", gsm8k, "--schema", "messages"));
    }
}
