using System.Text.Json.Nodes;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Tokenization;

/// <summary>Chat families on tokenizers trained here (no ../shared needed). Expected texts were checked against each
/// family's reference Jinja template.</summary>
public class ChatFormatTests
{
    static readonly string[] LlamaSpecialTokens = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"];

    /// <summary>A folder with a trained tokenizer whose tokenizer_config.json has <paramref name="chatTemplate"/>.</summary>
    static Tokenizer TokenizerWithTemplate(TempDir dir, string? chatTemplate, string[]? specialTokens = null, string? bosToken = null)
    {
        if (specialTokens is null) TokenizationTestData.CopyTrainedTokenizer(dir);
        else BpeTrainer.TrainToFolder([TokenizationTestData.Corpus(seed: 3, chars: 20_000)], new BpeTrainerOptions { VocabSize = 400, SpecialTokens = specialTokens }, dir.Path);
        var config = JsonNode.Parse(File.ReadAllText(dir.File("tokenizer_config.json")))!;
        config["chat_template"] = chatTemplate;
        config["bos_token"] = bosToken;
        File.WriteAllText(dir.File("tokenizer_config.json"), config.ToJsonString());
        return Tokenizer.Load(dir.Path);
    }

    static ChatMessage[] Sample(string answer) =>
        [new("system", "Solve it."), new("user", "What is 2 + 3?"), new("assistant", answer)];

    [Fact]
    public void TrainedTokenizer_TemplateIsChatML_AndTheMaskCoversTheAnswerAndItsEnd()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);
        var format = ChatFormat.For(tokenizer);
        var encoding = format.Encode(Sample("<think>\n2 + 3 = 5\n</think>\n<answer>5</answer>"), new ChatRenderOptions { AddGenerationPrompt = false });

        Assert.Equal(ChatFamily.ChatML, format.Family);
        Assert.Equal("<|im_start|>system\nSolve it.<|im_end|>\n<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\n2 + 3 = 5\n</think>\n<answer>5</answer><|im_end|>\n", encoding.Text);
        Assert.Equal("<think>\n2 + 3 = 5\n</think>\n<answer>5</answer><|im_end|>", MaskedText(tokenizer, encoding));
        Assert.Equal(tokenizer.Encode(encoding.Text), encoding.InputIds);
    }

    [Fact]
    public void ChatML_WithoutSystemMessage_UsesTheTemplatesDefaultSystemPrompt()
    {
        using var dir = TestEnvironment.NewTempDir();
        // The distinctive part of Qwen2.5's template: a whole default system turn in one string literal.
        using var tokenizer = TokenizerWithTemplate(dir,
            "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
            + "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}");
        var format = ChatFormat.For(tokenizer);

        Assert.Equal(ChatFamily.ChatML, format.Family);
        Assert.Equal("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            format.Render([new ChatMessage("user", "Hi")], new ChatRenderOptions { AddGenerationPrompt = true }));
        Assert.Equal("<|im_start|>system\nBe short.<|im_end|>\n",
            format.Render([new ChatMessage("system", "Be short.")]));
    }

    [Theory]
    [InlineData("\n\nstarts with blank lines")]
    [InlineData("  leading spaces and trailing ones  ")]
    [InlineData("\t\n tab, newline, space")]
    [InlineData("")]
    [InlineData("12345 digits, ünïcödé, 数学 and 🙂")]
    public void SegmentEncoding_AlwaysEqualsEncodingTheWholeText(string answer)
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);
        foreach (var family in new[] { ChatFamily.ChatML, ChatFamily.Qwen3, ChatFamily.DualMode })
        {
            var format = new ChatFormat(tokenizer, family);
            ChatMessage[] messages = [.. Sample(answer), new("user", "\nAgain?"), new("assistant", answer)];
            var encoding = format.Encode(messages, new ChatRenderOptions { AddGenerationPrompt = true });

            Assert.Equal(tokenizer.Encode(encoding.Text), encoding.InputIds);
            Assert.Equal(encoding.Text, tokenizer.Decode(encoding.InputIds));
            Assert.Equal(encoding.InputIds.Length, encoding.AssistantMask.Length);
            Assert.Equal(2, tokenizer.Decode(encoding.InputIds.Where((_, i) => encoding.AssistantMask[i]).ToArray()).Split("<|im_end|>").Length - 1);
        }
    }

    [Fact]
    public void TokenCrossingTheHeaderBoundary_GoesToTheAssistant()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);
        var format = new ChatFormat(tokenizer, ChatFamily.ChatML);
        var encoding = format.Encode([new ChatMessage("user", "Hi"), new ChatMessage("assistant", "\n\nHello")]);

        // "assistant\n" + "\n\nHello": the whole text's pre-tokenizer keeps "\n\n\n" together, so segments cannot be encoded apart.
        var header = tokenizer.Encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        Assert.NotEqual(header, encoding.InputIds[..header.Length]);
        Assert.Equal(tokenizer.Encode(encoding.Text), encoding.InputIds);
        var firstMasked = Array.IndexOf(encoding.AssistantMask, true);
        Assert.Equal(header.Length - 1, firstMasked); // the token holding the header's "\n" and the answer's "\n\n"
        Assert.Equal("\n\n\nHello<|im_end|>", MaskedText(tokenizer, encoding));
    }

    [Fact]
    public void Llama3_RendersHeadersAndTrimmedTurns_WithBosOnce()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = TokenizerWithTemplate(dir, "{% for message in messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}{% endfor %}",
            LlamaSpecialTokens, "<|begin_of_text|>");
        var format = ChatFormat.For(tokenizer);
        var encoding = format.Encode([new("user", " What is 2 + 3? "), new("assistant", "\n5\n")], new ChatRenderOptions { AddGenerationPrompt = true });

        Assert.Equal(ChatFamily.Llama3, format.Family);
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 3?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n5<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", encoding.Text);
        Assert.Equal("5<|eot_id|>", MaskedText(tokenizer, encoding));
        Assert.Equal(tokenizer.Encode(encoding.Text), encoding.InputIds);
        Assert.Contains(tokenizer.TokenToId("<|eot_id|>")!.Value, tokenizer.StopTokenIds);
    }

    [Fact]
    public void Llama31_OpensWithTheKnowledgeDateSystemBlock()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = TokenizerWithTemplate(dir,
            "{{- bos_token }}{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Cutting Knowledge Date: December 2023\\n\" }}{{- \"Today Date: \" + date_string + \"\\n\\n\" }}",
            LlamaSpecialTokens, "<|begin_of_text|>");
        var format = ChatFormat.For(tokenizer);

        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
            + "Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
            format.Render([new("system", " Be brief.\n"), new("user", "Hi")]));
        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 01 Jan 2030\n\n<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n",
            format.Render([], new ChatRenderOptions { AddGenerationPrompt = true, DateString = "01 Jan 2030" }));
    }

    [Fact]
    public void DualMode_NoThinkInTheSystemMessage_AddsEmptyThinkBlocks()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = TokenizerWithTemplate(dir, "{%- if \"/no_think\" in system_message -%}{%- set reasoning_mode = \"/no_think\" -%}{%- endif -%}<|im_start|>");
        var format = ChatFormat.For(tokenizer);
        ChatMessage[] messages = [new("system", "Be brief. /no_think"), new("user", "2+3?"), new("assistant", "\n5"), new("user", "3+4?")];

        var encoding = format.Encode(messages, new ChatRenderOptions { AddGenerationPrompt = true });

        Assert.Equal(ChatFamily.DualMode, format.Family);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+3?<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\n\n</think>\n5<|im_end|>\n<|im_start|>user\n3+4?<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\n\n</think>\n", encoding.Text);
        // The template's empty block is prompt at generation time (the no-think generation prompt ends with it), so it is
        // not trained on: only the answer is, and the /think mode's first tokens are not taught to close at once.
        Assert.Equal("5<|im_end|>", MaskedText(tokenizer, encoding));
        Assert.Equal("<|im_start|>user\n2+3?<|im_end|>\n<|im_start|>assistant\n",
            format.Render([new("system", "/think"), new("user", "2+3?")], new ChatRenderOptions { AddGenerationPrompt = true, EnableThinking = false }));
    }

    [Fact]
    public void UnrecognisedTemplate_IsAnErrorListingTheChoices()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = TokenizerWithTemplate(dir, "{% for m in messages %}<start_of_turn>{{ m.role }}\n{{ m.content }}<end_of_turn>\n{% endfor %}");

        var error = Assert.Throws<ReasonSharpException>(() => ChatFormat.For(tokenizer));

        Assert.Contains("tokenizer_config.json", error.Message);
        Assert.Contains("chat_template", error.Message);
        foreach (var name in new[] { "chatml", "qwen3", "llama3", "dual-mode" }) Assert.Contains(name, error.Message);
        Assert.Equal(ChatFamily.Qwen3, ChatFormat.For(tokenizer, ChatFamily.Qwen3).Family); // explicit choice still works
    }

    [Fact]
    public void MissingTemplate_UnknownFamilyName_WrongTokensAndRoles_AreErrors()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = TokenizerWithTemplate(dir, null);
        Assert.Contains("chat_template", Assert.Throws<ReasonSharpException>(() => ChatFormat.For(tokenizer)).Message);
        Assert.Contains("qwen3", Assert.Throws<ReasonSharpException>(() => ChatFormat.ParseFamily("gemma")).Message);
        Assert.Equal(ChatFamily.DualMode, ChatFormat.ParseFamily("SmolLM3"));
        Assert.Contains("<|start_header_id|>", Assert.Throws<ReasonSharpException>(() => new ChatFormat(tokenizer, ChatFamily.Llama3)).Message);
        var role = Assert.Throws<ReasonSharpException>(() => new ChatFormat(tokenizer, ChatFamily.ChatML).Render([new ChatMessage("tool", "{}")]));
        Assert.Contains("message 0", role.Message);
        Assert.Contains("'tool'", role.Message);
    }

    static string MaskedText(Tokenizer tokenizer, ChatEncoding encoding)
    {
        var first = Array.IndexOf(encoding.AssistantMask, true);
        var last = Array.LastIndexOf(encoding.AssistantMask, true);
        Assert.True(first >= 0, "no token is marked as the assistant's");
        Assert.All(encoding.AssistantMask[first..(last + 1)], Assert.True); // one contiguous run here
        return tokenizer.Decode(encoding.InputIds[first..(last + 1)]);
    }
}
