using System.Text.Json.Nodes;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Tokenization;

/// <summary>Bad tokenizer folders: each error names the folder or file, and the key.</summary>
public class TokenizerLoadErrorTests
{
    [Fact]
    public void MissingFolder_OrMissingTokenizerJson_NamesTheFolder()
    {
        using var dir = TestEnvironment.NewTempDir();
        var absent = dir.File("no-such-model");

        Assert.Contains(absent, Assert.Throws<ReasonSharpException>(() => Tokenizer.Load(absent)).Message);
        File.WriteAllText(dir.File("tokenizer_config.json"), "{}");
        var error = Assert.Throws<ReasonSharpException>(() => Tokenizer.Load(dir.Path));
        Assert.Contains(dir.Path, error.Message);
        Assert.Contains("tokenizer.json", error.Message);
    }

    [Theory]
    [InlineData("eos_token", "5")]
    [InlineData("pad_token", "{\"id\": 3}")]
    [InlineData("chat_template", "42")]
    [InlineData("chat_template", "[{\"template\": \"x\"}]")]
    [InlineData("add_bos_token", "\"yes\"")]
    [InlineData("model_max_length", "\"long\"")]
    [InlineData("added_tokens_decoder", "[]")]
    public void MalformedConfigKey_NamesTheFileAndTheKey(string key, string badJson)
    {
        using var dir = TestEnvironment.NewTempDir();
        TokenizationTestData.CopyTrainedTokenizer(dir);
        EditConfig(dir, config => config[key] = JsonNode.Parse(badJson));

        var error = Assert.Throws<ReasonSharpException>(() => Tokenizer.Load(dir.Path));

        Assert.Contains(dir.File("tokenizer_config.json"), error.Message);
        Assert.Contains($"'{key}'", error.Message);
    }

    [Fact]
    public void ConfigTokensMustExist_AndAgreeWithTokenizerJson()
    {
        using var dir = TestEnvironment.NewTempDir();
        TokenizationTestData.CopyTrainedTokenizer(dir);
        EditConfig(dir, config => config["bos_token"] = new JsonObject { ["content"] = "<s>" });
        var unknown = Assert.Throws<ReasonSharpException>(() => Tokenizer.Load(dir.Path));
        Assert.Contains("'bos_token'", unknown.Message);
        Assert.Contains("<s>", unknown.Message);

        EditConfig(dir, config =>
        {
            config["bos_token"] = new JsonObject { ["content"] = "<|endoftext|>" }; // the object form is fine
            ThinkEntry(config)["content"] = "<thinking>";
        });
        var mismatch = Assert.Throws<ReasonSharpException>(() => Tokenizer.Load(dir.Path));
        Assert.Contains($"'added_tokens_decoder.{ThinkEntry(ReadConfig(dir)).GetPropertyName()}'", mismatch.Message);
        Assert.Contains("<think>", mismatch.Message);
    }

    [Fact]
    public void InvalidJson_NamesTheFileAndLine()
    {
        using var dir = TestEnvironment.NewTempDir();
        TokenizationTestData.CopyTrainedTokenizer(dir);
        File.WriteAllText(dir.File("tokenizer_config.json"), "{\n  \"eos_token\": \"<|im_end|>\",\n  oops\n}");

        var error = Assert.Throws<ReasonSharpException>(() => Tokenizer.Load(dir.Path));

        Assert.Contains(dir.File("tokenizer_config.json"), error.Message);
        Assert.Contains($"{dir.File("tokenizer_config.json")}:3: not valid JSON", error.Message);
    }

    [Fact]
    public void MalformedTokenizerJson_NamesTheFileAndTheKey()
    {
        using var dir = TestEnvironment.NewTempDir();
        TokenizationTestData.CopyTrainedTokenizer(dir);
        var json = JsonNode.Parse(File.ReadAllText(dir.File("tokenizer.json")))!;
        json["model"]!["merges"]!.AsArray()[0] = 7;
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());

        var error = Assert.Throws<ReasonSharpException>(() => Tokenizer.Load(dir.Path));

        Assert.Contains(dir.File("tokenizer.json"), error.Message);
        Assert.Contains("'model.merges[0]'", error.Message);
    }

    [Fact]
    public void ChatTemplateJinjaFile_IsReadWhenPresent_AndSavedInline()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var saved = TestEnvironment.NewTempDir();
        TokenizationTestData.CopyTrainedTokenizer(dir);
        EditConfig(dir, config => config.Remove("chat_template"));
        File.WriteAllText(dir.File("chat_template.jinja"), "{{ '<|im_start|>' }}{{ enable_thinking }}");

        using (var tokenizer = Tokenizer.Load(dir.Path))
        {
            Assert.Equal("<|im_start|>False", ChatFormat.For(tokenizer).Render([],
                new ChatRenderOptions { EnableThinking = false }));
            tokenizer.SaveTo(saved.Path);
        }
        using var reloaded = Tokenizer.Load(saved.Path);
        Assert.Equal("{{ '<|im_start|>' }}{{ enable_thinking }}", reloaded.ChatTemplate);
    }

    static JsonNode ThinkEntry(JsonObject config) =>
        config["added_tokens_decoder"]!.AsObject().Select(p => p.Value!).First(t => (string?)t["content"] is "<think>" or "<thinking>");

    static JsonObject ReadConfig(TempDir dir) => JsonNode.Parse(File.ReadAllText(dir.File("tokenizer_config.json")))!.AsObject();

    static void EditConfig(TempDir dir, Action<JsonObject> edit)
    {
        var config = ReadConfig(dir);
        edit(config);
        File.WriteAllText(dir.File("tokenizer_config.json"), config.ToJsonString());
    }
}
