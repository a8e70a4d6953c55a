using System.Text.Json;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Tokenization;

/// <summary>ReasonSharp's own templates are what trained tokenizers carry, and the files jinja2 rendered for the
/// fixtures (Templates/Fixtures/expected/reasonsharp-*.json, checked by JinjaFixtureTests).</summary>
public class DualModeTemplateTests
{
    static string Fixture(string file) =>
        File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "tests", "ReasonSharp.Tests", "Templates", "Fixtures",
            "templates", file));

    [Fact]
    public void BuiltInTemplates_AreTheOnesJinja2Rendered()
    {
        Assert.Equal(ChatTemplates.ChatML, Fixture("reasonsharp-chatml.jinja"));
        Assert.Equal(ChatTemplates.DualMode, Fixture("reasonsharp-dual-mode.jinja"));
    }

    [Fact]
    public void TrainedTokenizer_CarriesTheDualModeTemplate_AndRendersBothModes()
    {
        using var dir = TestEnvironment.NewTempDir();
        BpeTrainer.TrainToFolder(["hello world 1234 <think> answer"], new BpeTrainerOptions
        {
            VocabSize = 300,
            ChatTemplate = BpeTrainerOptions.TemplateFor("dual-mode")
        }, dir.Path);
        var config = JsonDocument.Parse(File.ReadAllText(dir.File("tokenizer_config.json"))).RootElement;
        Assert.Equal(ChatTemplates.DualMode, config.GetProperty("chat_template").GetString());

        using var tokenizer = Tokenizer.Load(dir.Path);
        var format = ChatFormat.For(tokenizer);
        ChatMessage[] conversation = [new("system", "Be brief. /think"), new("user", "Hi"), new("assistant",
            "<think>\nhello\n</think>\nHello!")];
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\nhello\n</think>\nHello!<|im_end|>\n", format.Render(conversation));
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\nHello!<|im_end|>\n",
            format.Render([new("system", "/no_think"), new("user", "Hi"), new("assistant", "\nHello!")]));
    }
}
