using System.CommandLine;
using System.Text.Json;
using ReasonSharp.Cli.Commands;

namespace ReasonSharp.Tests.Rewards;

public class RewardCliTests
{
    static async Task<(int Exit, string Output)> Run(params string[] args)
    {
        var root = new RootCommand();
        root.Subcommands.Add(RewardCommand.Create());
        root.Subcommands.Add(VerifyCommand.Create());
        var output = new StringWriter();
        var config =
            new InvocationConfiguration { Output = output, Error = output, EnableDefaultExceptionHandler = false };
        var exit = await root.Parse(args).InvokeAsync(config);
        return (exit, output.ToString());
    }

    [Fact]
    public async Task Verify_prints_the_verdict_and_how_and_exits_like_cmp()
    {
        var (same, text) = await Run("verify", "#### 1,234", @"so the answer is $\boxed{1234}$.");
        Assert.Equal(0, same);
        Assert.StartsWith("equivalent\n", text);
        Assert.Contains("gold: Gsm8kMarker", text);
        Assert.Contains("prediction: Boxed", text);
        var (different, why) = await Run("verify", @"$x \le 3$", @"$(-\infty, 3)$");
        Assert.Equal(1, different);
        Assert.StartsWith("not equivalent\n", why);
        Assert.Contains("at x = 3", why);
        Assert.Equal(0, (await Run("verify", "$\\frac{1}{3}$", "0.333", "--precision", "3")).Exit);
        Assert.Equal(1, (await Run("verify", "$\\frac{1}{3}$", "0.333")).Exit);
    }

    [Fact]
    public async Task Reward_prints_one_json_line_per_row_then_a_summary()
    {
        using var dir = TestEnvironment.NewTempDir();
        var file = dir.File("completions.jsonl");
        await File.WriteAllLinesAsync(file,
        [
            """{"prompt": "6*7?", "completion": "<think>\n6*7=42\n</think>\n<answer>\n42\n</answer>", "answer": "#### 42", "completion_ids": [1, 2, 3]}""",
            "",
            """{"prompt": [{"role": "user", "content": "6*7?"}], "completion": [{"role": "assistant", "content": "It is 41."}], "answer": "#### 42", "completion_ids": [1]}""",
        ]);
        var (exit, text) =
            await Run("reward", "--reward",
            "accuracy,format,tag_count(weight=0.5),soft_overlong(max_completion_len=2,soft_punish_cache=1)", "--input",
            file);
        Assert.Equal(0, exit);
        var lines = text.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, lines.Count);
        Assert.Equal(1, lines[0].GetProperty("line").GetInt32());
        Assert.Equal(3, lines[1].GetProperty("line").GetInt32());
        Assert.Equal(1.0, lines[0].GetProperty("rewards").GetProperty("accuracy").GetDouble());
        Assert.Equal(-1.0, lines[0].GetProperty("rewards").GetProperty("soft_overlong").GetDouble());
        Assert.Equal(1 + 1 + 0.5 - 1, lines[0].GetProperty("total").GetDouble(), 6);
        Assert.Equal(0.0, lines[1].GetProperty("total").GetDouble());
        var summary = lines[2].GetProperty("summary");
        Assert.Equal(2, summary.GetProperty("rows").GetInt32());
        var accuracy = summary.GetProperty("rewards").GetProperty("accuracy");
        Assert.Equal(0.5, accuracy.GetProperty("mean").GetDouble(), 6);
        Assert.Equal(Math.Sqrt(0.5), accuracy.GetProperty("std").GetDouble(), 5);
        Assert.Equal(0.5, summary.GetProperty("rewards").GetProperty("tag_count").GetProperty("weight").GetDouble());
    }

    [Theory]
    [InlineData("""{"completion": "x", "answer": "1"}""" + "\n" + "not json", ":2: not valid JSON")]
    [InlineData("""{"answer": "1"}""", ":1: field 'completion': missing")]
    [InlineData("""{"completion": "x", "answer": "1", "completion_ids": [1, "a"]}""", ":1: field 'completion_ids': expected a list of integer token ids")]
    [InlineData("""{"completion": "x", "answer": "1"}""" + "\n" + """{"completion": "y"}""", ":2: field 'solution': the column is missing")]
    public async Task Malformed_rows_are_errors_naming_the_line_and_field(string content, string expected)
    {
        using var dir = TestEnvironment.NewTempDir();
        var file = dir.File("bad.jsonl");
        await File.WriteAllTextAsync(file, content);
        var e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            Run("reward", "--reward", "accuracy", "--input", file));
        Assert.Contains($"{file}{expected}", e.Message);
    }
}
