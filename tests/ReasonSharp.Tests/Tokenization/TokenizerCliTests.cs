using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Tokenization;

/// <summary>`reason tokenizer train` and `reason tokenize`, run in-process.</summary>
[Collection("Console")]
public class TokenizerCliTests
{
    static Task<(int Code, string Output)> Run(params string[] args) => CliHarness.Run(args);

    [Fact]
    public async Task TrainThenTokenize_WritesALoadableTokenizer_AndShowsIdsAndPieces()
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("a.txt"), TokenizationTestData.Corpus(seed: 1, chars: 40_000));
        File.WriteAllLines(dir.File("b.jsonl"), Enumerable.Range(0, 200).Select(i => $"{{\"question\": \"What is {i} + {i}?\", \"answer\": \"{2 * i}\", \"id\": {i}}}"));
        var folder = dir.File("tok");

        var (code, output) = await Run("tokenizer", "train", "--input", dir.File("a.txt"), "--input", dir.File("b.jsonl"), "--vocab-size", "512", "--out", folder);

        Assert.True(code == 0, output);
        Assert.Contains("vocabulary 512", output);
        using (var tokenizer = Tokenizer.Load(folder)) Assert.Equal(512, tokenizer.VocabSize);

        (code, output) = await Run("tokenize", folder, "--text", "12 apples <think>");
        Assert.True(code == 0, output);
        Assert.Contains("\"<think>\"", output);
        Assert.Contains("\"1\"", output);

        (code, output) = await Run("tokenize", folder, "--text", "Hi", "--chat", "--format", "dual-mode",
            "--no-thinking");
        Assert.True(code == 0, output);
        Assert.Contains("template: dual-mode (enable_thinking, /think and /no_think system flags", output);
        Assert.Contains("<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n<think>\\n\\n</think>\\n", output);
    }

    [Fact]
    public async Task BadInput_PrintsOneErrorLine_AndExitsTwo()
    {
        using var dir = TestEnvironment.NewTempDir();
        var (code, output) = await Run("tokenize", dir.File("missing"), "--text", "x");
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", output);
        Assert.Contains(dir.File("missing"), output);

        File.WriteAllText(dir.File("rows.jsonl"), "{\"text\": \"a\"}\n");
        (code, output) = await Run("tokenizer", "train", "--input", dir.File("rows.jsonl"), "--field", "prompt", "--vocab-size", "300", "--out", dir.File("out"));
        Assert.Equal(2, code);
        Assert.Contains($"{dir.File("rows.jsonl")}:1: prompt: missing; expected text", output);
    }

    [Fact]
    public async Task Help_ExplainsTheOptions()
    {
        var (_, output) = await Run("tokenizer", "train", "--help");
        foreach (var option in new[] { "--input", "--field", "--vocab-size", "--min-frequency", "--out" }) Assert.Contains(option, output);
        (_, output) = await Run("tokenize", "--help");
        foreach (var option in new[] { "--text", "--chat", "--format", "--no-thinking" }) Assert.Contains(option, output);
    }
}
