using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Cli;

/// <summary>`reason init-model`, `info` and `generate`, run in-process on a tokenizer trained in the test.</summary>
[Collection("Console")]
public class ModelCliTests
{
    static string TrainTokenizer(TempDir dir)
    {
        var corpus = Enumerable.Range(0, 400).Select(i => $"Question {i}: what is {i} plus {i + 1}? The answer is {2 * i + 1}.");
        BpeTrainer.TrainToFolder(corpus, new BpeTrainerOptions { VocabSize = 400 }, dir.File("tok"));
        return dir.File("tok");
    }

    [Fact]
    public async Task InitModelWritesALoadableFolderAndPrintsInfo()
    {
        using var dir = TestEnvironment.NewTempDir();
        var tok = TrainTokenizer(dir);
        var (code, output) = await CliHarness.Run("init-model", "--arch", "qwen3", "--size", "nano", "--tokenizer", tok, "--out", dir.File("m"), "--seed", "5");
        Assert.True(code == 0, output);
        Assert.Contains("Qwen3ForCausalLM", output);
        using var lm = LanguageModel.Load(dir.File("m"), "cpu");
        Assert.Contains($"vocab {lm.Tokenizer.VocabSize}", output);
        Assert.Equal(lm.Model.Config.ParameterCount(), lm.ParameterCount());
        Assert.Equal(ReasonSharp.Tokenization.ChatTemplates.ChatML, lm.Chat.Template.Source);
        Assert.Contains(lm.Tokenizer.TokenToId("<|im_end|>")!.Value, lm.StopTokenIds);
    }

    [Theory]
    [InlineData("smollm3", "SmolLM3ForCausalLM")]
    [InlineData("gemma3_text", "Gemma3ForCausalLM")]
    public async Task InitModelBuildsTheSeamsArchitecturesAndTheyGenerate(string arch, string className)
    {
        using var dir = TestEnvironment.NewTempDir();
        var tok = TrainTokenizer(dir);
        var (code, output) = await CliHarness.Run("init-model", "--help");
        Assert.Contains(arch, output);
        (code, output) = await CliHarness.Run("init-model", "--arch", arch, "--size", "nano", "--tokenizer", tok, "--out", dir.File("m"));
        Assert.True(code == 0, output);
        Assert.Contains(className, output);
        File.WriteAllLines(dir.File("p.jsonl"), ["{\"question\": \"what is 1 plus 2?\"}"]);
        (code, output) = await CliHarness.Run("generate", dir.File("m"), "--input", dir.File("p.jsonl"), "--n", "2",
            "--max-new-tokens", "6", "--output", dir.File("out.jsonl"), "--device", "cpu");
        Assert.True(code == 0, output);
        Assert.Equal(2, File.ReadAllLines(dir.File("out.jsonl")).Length);
    }

    [Fact]
    public async Task SmolLM3FallsBackToTheDualModeTemplateWhenTheTokenizerHasNone()
    {
        using var dir = TestEnvironment.NewTempDir();
        var tok = TrainTokenizer(dir);
        var configPath = Path.Combine(tok, "tokenizer_config.json");
        var tokenizerConfig = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        tokenizerConfig.Remove("chat_template");
        File.WriteAllText(configPath, tokenizerConfig.ToJsonString());
        Assert.Equal(0, (await CliHarness.Run("init-model", "--arch", "smollm3", "--size", "nano", "--tokenizer", tok,
            "--out", dir.File("m"))).Code);
        using var lm = LanguageModel.Load(dir.File("m"), "cpu");
        Assert.Null(lm.Tokenizer.ChatTemplate);
        Assert.Equal(ChatTemplates.DualMode, lm.Chat.Template.Source);
    }

    [Fact]
    public async Task GenerateWritesOneJsonLinePerCompletion()
    {
        using var dir = TestEnvironment.NewTempDir();
        var tok = TrainTokenizer(dir);
        Assert.Equal(0, (await CliHarness.Run("init-model", "--size", "nano", "--tokenizer", tok, "--out", dir.File("m"))).Code);
        File.WriteAllLines(dir.File("p.jsonl"), ["{\"question\": \"what is 1 plus 2?\"}", "{\"prompt\": [{\"role\": \"user\", \"content\": \"hi\"}]}"]);
        var (code, output) = await CliHarness.Run("generate", dir.File("m"), "--input", dir.File("p.jsonl"), "--n", "3", "--max-new-tokens", "8",
            "--output", dir.File("out.jsonl"), "--device", "cpu");
        Assert.True(code == 0, output);
        var lines = File.ReadAllLines(dir.File("out.jsonl"));
        Assert.Equal(6, lines.Length);
        Assert.All(lines, l => Assert.Contains("\"finish_reason\"", l));
    }

    [Fact]
    public async Task BadInputIsOneErrorLineNamingTheProblem()
    {
        using var dir = TestEnvironment.NewTempDir();
        var tok = TrainTokenizer(dir);
        var (code, output) = await CliHarness.Run("init-model", "--arch", "gpt2", "--tokenizer", tok, "--out", dir.File("m"));
        Assert.Equal(2, code);
        Assert.Contains("gpt2", output);
        (code, output) = await CliHarness.Run("init-model", "--tokenizer", dir.File("none"), "--out", dir.File("m"));
        Assert.Equal(2, code);
        Assert.Contains("none", output);
        Assert.Equal(0, (await CliHarness.Run("init-model", "--size", "nano", "--tokenizer", tok, "--out", dir.File("m"))).Code);
        File.WriteAllText(dir.File("bad.jsonl"), "{\"question\": 3}\n");
        (code, output) = await CliHarness.Run("generate", dir.File("m"), "--input", dir.File("bad.jsonl"));
        Assert.Equal(2, code);
        Assert.Contains("bad.jsonl:1", output);
        Assert.Contains("question", output);
        // --n 0 used to end in a NullReferenceException.
        (code, output) = await CliHarness.Run("generate", dir.File("m"), "--prompt", "hi", "--n", "0");
        Assert.Equal(2, code);
        Assert.Equal("error: --n: expected at least 1 completion per prompt, got 0", output.Trim());
    }
}
