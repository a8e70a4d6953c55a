using System.Text.Json.Nodes;
using ReasonSharp.Templates;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Tokenization;

/// <summary>Chat templates on tokenizers trained here (no ../shared needed unless said): rendering, masks from
/// {% generation %} blocks and from rendered prefixes, capabilities found by rendering, and errors.</summary>
public class ChatFormatTests
{
    static readonly ChatRenderOptions Generation = new() { AddGenerationPrompt = true };
    static readonly string[] LlamaSpecialTokens = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
        "<|end_header_id|>", "<|eot_id|>"];

    /// <summary>ChatML as ReasonSharp wrote it before templates had {% generation %} blocks.</summary>
    const string ChatMLWithoutGenerationBlocks =
        "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
            + "'<|im_end|>' + '\\n' }}"
        + "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

    /// <summary>A folder with a trained tokenizer whose tokenizer_config.json has <paramref
    /// name="chatTemplate"/>.</summary>
    static Tokenizer TokenizerWithTemplate(TempDir dir, string? chatTemplate, string[]? specialTokens = null,
        string? bosToken = null)
    {
        if (specialTokens is null) TokenizationTestData.CopyTrainedTokenizer(dir);
        else BpeTrainer.TrainToFolder([TokenizationTestData.Corpus(seed: 3, chars: 20_000)],
            new BpeTrainerOptions { VocabSize = 400, SpecialTokens = specialTokens }, dir.Path);
        var config = JsonNode.Parse(File.ReadAllText(dir.File("tokenizer_config.json")))!;
        config["chat_template"] = chatTemplate;
        config["bos_token"] = bosToken;
        File.WriteAllText(dir.File("tokenizer_config.json"), config.ToJsonString());
        return Tokenizer.Load(dir.Path);
    }

    static string FixtureTemplate(string file) =>
        File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "tests", "ReasonSharp.Tests", "Templates", "Fixtures",
            "templates", file));

    static ChatMessage[] Sample(string answer) =>
        [new("system", "Solve it."), new("user", "What is 2 + 3?"), new("assistant", answer)];

    [Fact]
    public void TrainedTokenizer_TemplateIsChatMLWithGenerationBlocks_AndTheMaskCoversTheAnswerAndItsEnd()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);
        var format = ChatFormat.For(tokenizer);
        var encoding = format.Encode(Sample("<think>\n2 + 3 = 5\n</think>\n<answer>5</answer>"));

        Assert.Equal(ChatTemplates.ChatML, format.Template.Source);
        Assert.True(format.Capabilities.GenerationBlocks);
        Assert.Equal("<|im_start|>system\nSolve it.<|im_end|>\n<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\n2 + 3 = 5\n</think>\n<answer>5</answer><|im_end|>\n", encoding.Text);
        Assert.Equal("<think>\n2 + 3 = 5\n</think>\n<answer>5</answer><|im_end|>", MaskedText(tokenizer, encoding));
        Assert.Equal(tokenizer.Encode(encoding.Text), encoding.InputIds);
    }

    [Fact]
    public void TemplateWithoutGenerationBlocks_GetsTheSameMasksFromRenderedPrefixes()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);
        var withBlocks = ChatFormat.For(tokenizer, "chatml");
        var withoutBlocks = new ChatFormat(tokenizer, ChatMLWithoutGenerationBlocks, "old chatml");
        Assert.False(withoutBlocks.Capabilities.GenerationBlocks);
        ChatMessage[][] conversations =
        [
            Sample("5"),
            [.. Sample("\n\n5"), new("user", "Again?"), new("assistant", "Still 5.")],
            [new("user", "Hi"), new("assistant", ""), new("user", "Bye")],
        ];
        foreach (var conversation in conversations)
            foreach (var generation in new[] { false, true })
            {
                var options = new ChatRenderOptions { AddGenerationPrompt = generation };
                var expected = withBlocks.Encode(conversation, options);
                var actual = withoutBlocks.Encode(conversation, options);
                Assert.Equal(expected.Text, actual.Text);
                Assert.Equal(expected.InputIds, actual.InputIds);
                Assert.Equal(expected.AssistantMask, actual.AssistantMask);
            }
    }

    [Fact]
    public void RealQwen25Template_WritesItsDefaultSystemPrompt()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = TokenizerWithTemplate(dir, FixtureTemplate("Qwen-Qwen2.5-7B-Instruct.jinja"));
        var format = ChatFormat.For(tokenizer);

        Assert.Equal("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            + "assistant.<|im_end|>\n"
            + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", format.Render([new ChatMessage("user", "Hi")],
                Generation));
        Assert.Equal("<|im_start|>system\nBe short.<|im_end|>\n", format.Render([new ChatMessage("system",
            "Be short.")]));
        var encoding = format.Encode([new("user", "Hi"), new("assistant", "Hello.")]);
        Assert.Equal("Hello.<|im_end|>", MaskedText(tokenizer, encoding));
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
        foreach (var format in new[] { ChatFormat.For(tokenizer, "chatml"), ChatFormat.For(tokenizer, "dual-mode"),
            new ChatFormat(tokenizer, ChatMLWithoutGenerationBlocks) })
        {
            ChatMessage[] messages = [.. Sample(answer), new("user", "\nAgain?"), new("assistant", answer)];
            var encoding = format.Encode(messages, Generation);

            Assert.Equal(tokenizer.Encode(encoding.Text), encoding.InputIds);
            Assert.Equal(encoding.Text, tokenizer.Decode(encoding.InputIds));
            Assert.Equal(encoding.InputIds.Length, encoding.AssistantMask.Length);
            Assert.Equal(2, tokenizer.Decode(encoding.InputIds.Where((_,
                i) => encoding.AssistantMask[i]).ToArray()).Split("<|im_end|>").Length - 1);
        }
    }

    [Fact]
    public void TokenCrossingTheHeaderBoundary_GoesToTheAssistant()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);
        var format = ChatFormat.For(tokenizer, "chatml");
        var encoding = format.Encode([new ChatMessage("user", "Hi"), new ChatMessage("assistant", "\n\nHello")]);

        // "assistant\n" + "\n\nHello": the whole text's pre-tokenizer keeps "\n\n\n" together, so segments cannot be
        // encoded apart.
        var header = tokenizer.Encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        Assert.NotEqual(header, encoding.InputIds[..header.Length]);
        Assert.Equal(tokenizer.Encode(encoding.Text), encoding.InputIds);
        var firstMasked = Array.IndexOf(encoding.AssistantMask, true);
        Assert.Equal(header.Length - 1, firstMasked); // the token holding the header's "\n" and the answer's "\n\n"
        Assert.Equal("\n\n\nHello<|im_end|>", MaskedText(tokenizer, encoding));
    }

    [Fact]
    public void Llama3StyleTemplate_MasksTheTrimmedAnswerAndItsEotToken_WithBosOnce()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = TokenizerWithTemplate(dir,
            "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
                + "'<|start_header_id|>' + message['role'] "
            + "+ '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set "
                + "content = bos_token "
            + "+ content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
                + "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
            LlamaSpecialTokens, "<|begin_of_text|>");
        var format = ChatFormat.For(tokenizer);
        var encoding = format.Encode([new("user", " What is 2 + 3? "), new("assistant", "\n5\n")], Generation);

        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 3?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n5<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", encoding.Text);
        Assert.Equal("5<|eot_id|>", MaskedText(tokenizer, encoding));
        Assert.Equal(tokenizer.Encode(encoding.Text), encoding.InputIds);
        Assert.Contains(tokenizer.TokenToId("<|eot_id|>")!.Value, tokenizer.StopTokenIds);
    }

    [Fact]
    public void TheClockAndChatTemplateKwargs_ReachTheTemplate()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = TokenizerWithTemplate(dir,
            "{{ bos_token }}Today Date: {{ date_string if date_string is defined else strftime_now('%d %b %Y') }}{{ "
                + "tools | length if tools }}",
            LlamaSpecialTokens, "<|begin_of_text|>");
        var format = ChatFormat.For(tokenizer);
        var now = new ChatRenderOptions { Now = () => new DateTime(2030, 1, 1) };

        Assert.Equal("<|begin_of_text|>Today Date: 01 Jan 2030", format.Render([], now));
        Assert.Equal("<|begin_of_text|>Today Date: 26 Jul 2024",
            format.Render([], now with
            {
                ChatTemplateKwargs = new Dictionary<string,
                object?>
                { ["date_string"] = "26 Jul 2024" }
            }));
        var withTools = format.WithKwargs(new Dictionary<string, object?>
        {
            ["tools"] = new[] { "a", "b" },
            ["date_string"] = "x"
        });
        Assert.Equal("<|begin_of_text|>Today Date: x2", withTools.Render([]));
        Assert.Equal("<|begin_of_text|>Today Date: y2",
            withTools.Render([], new ChatRenderOptions
            {
                ChatTemplateKwargs = new Dictionary<string,
                object?>
                { ["date_string"] = "y" }
            }));
    }

    [Fact]
    public void DualMode_NoThinkInTheSystemMessage_AddsEmptyThinkBlocks_ThatAreNotTrainedOn()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);
        var format = ChatFormat.For(tokenizer, "dual-mode");
        ChatMessage[] messages = [new("system", "Be brief. /no_think"), new("user", "2+3?"), new("assistant", "\n5"),
            new("user", "3+4?")];

        var encoding = format.Encode(messages, Generation);

        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+3?<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\n\n</think>\n5<|im_end|>\n<|im_start|>user\n3+4?<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\n\n</think>\n", encoding.Text);
        // The template's empty block is prompt at generation time (the no-think generation prompt ends with it), so it
        // is
        // not trained on: only the answer is, and the /think mode's first tokens are not taught to close at once.
        Assert.Equal("5<|im_end|>", MaskedText(tokenizer, encoding));
        Assert.Equal("<|im_start|>user\n2+3?<|im_end|>\n<|im_start|>assistant\n",
            format.Render([new("system", "/think"), new("user", "2+3?")], Generation with { EnableThinking = false }));
        Assert.Equal("<|im_start|>user\n2+3?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n",
            format.Render([new("user", "2+3?")], Generation with { EnableThinking = false }));
    }

    [Fact]
    public void Capabilities_AreFoundByRenderingTheTemplate()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);
        Assert.Equal(new ChatCapabilities(false, false, false, true), ChatFormat.For(tokenizer, "chatml").Capabilities);
        Assert.Equal(new ChatCapabilities(true, true, true, true), ChatFormat.For(tokenizer, "dual-mode").Capabilities);
        Assert.Equal(new ChatCapabilities(true, true, true, false),
            new ChatFormat(tokenizer, FixtureTemplate("HuggingFaceTB-SmolLM3-3B.jinja"), "smollm3").Capabilities);
        Assert.Equal(new ChatCapabilities(true, false, true, false),
            new ChatFormat(tokenizer, FixtureTemplate("Qwen-Qwen3-0.6B.jinja"), "qwen3").Capabilities);
        Assert.Equal(new ChatCapabilities(false, false, false, false),
            new ChatFormat(tokenizer, FixtureTemplate("microsoft-Phi-3.5-mini-instruct.jinja"), "phi").Capabilities);
        Assert.True(ChatFormat.For(tokenizer, "dual-mode").Capabilities.CanSwitchThinkingOff);
        Assert.False(ChatFormat.For(tokenizer, "chatml").Capabilities.CanSwitchThinkingOff);
    }

    [Fact]
    public void TemplateThatRewritesEarlierTurns_WithoutGenerationBlocks_IsAnErrorNamingIt()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);
        // Mistral Nemo puts the system message into the last turn if it is the user's, so the start of the conversation
        // changes as it grows.
        var format = new ChatFormat(tokenizer, FixtureTemplate("mistralai-Mistral-Nemo-Instruct-2407.jinja"),
            "mistral-nemo.jinja");
        ChatMessage[] messages = [new("system", "Be brief."), new("user", "1+1?"), new("assistant", "2"), new("user",
            "2+2?"), new("assistant", "4")];

        var error = Assert.Throws<ReasonSharpException>(() => format.Encode(messages));

        Assert.StartsWith("mistral-nemo.jinja: cannot tell which tokens are the assistant's in message 2",
            error.Message);
        Assert.Contains("{% generation %}", error.Message);
        Assert.Equal("[INST]1+1?[/INST]2<|im_end|>[INST]2+2?[/INST]4<|im_end|>", format.Render(messages));
        Assert.Equal("[INST]1+1?[/INST]2<|im_end|>[INST]Be brief.\n\n2+2?[/INST]", format.Render(messages[..4],
            Generation));
        Assert.Equal(["2<|im_end|>", "4<|im_end|>"], MaskedRuns(tokenizer, format.Encode(messages[1..])));
    }

    [Fact]
    public void MissingTemplate_UnknownNames_LegacyFamilies_AndTemplateErrors_AreReported()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = TokenizerWithTemplate(dir, null);
        var missing = Assert.Throws<ReasonSharpException>(() => ChatFormat.For(tokenizer));
        Assert.Contains("tokenizer_config.json: key 'chat_template' is missing", missing.Message);
        Assert.Contains("dual-mode", Assert.Throws<ReasonSharpException>(() => ChatFormat.For(tokenizer,
            "gemma")).Message);
        Assert.Contains("hand-written", Assert.Throws<ReasonSharpException>(() => ChatFormat.For(tokenizer,
            "qwen3")).Message);
        Assert.Equal(ChatTemplates.DualMode, ChatFormat.For(tokenizer, "SmolLM3").Template.Source);

        var file = dir.File("custom.jinja");
        File.WriteAllText(file, "{% for m in messages %}{% if m.role == 'tool' %}\n{{ raise_exception('no tool "
            + "turns') }}{% endif %}{% endfor %}");
        var custom = ChatFormat.For(tokenizer, file);
        var raised = Assert.Throws<TemplateException>(() => custom.Render([new ChatMessage("tool", "{}")]));
        Assert.Equal($"{file}:2:4: the template raised an exception: no tool turns", raised.Message);

        using var own = TestEnvironment.NewTempDir();
        using var withOwn = TokenizerWithTemplate(own, "{{ messages[0].content + 1 }}");
        var runtime = Assert.Throws<TemplateException>(() => ChatFormat.For(withOwn).Render([new ChatMessage("user",
            "x")]));
        Assert.StartsWith(Path.Combine(withOwn.Folder, "tokenizer_config.json") + " chat_template:1:4: TypeError",
            runtime.Message);
    }

    static List<string> MaskedRuns(Tokenizer tokenizer, ChatEncoding encoding)
    {
        var runs = new List<string>();
        for (var i = 0; i < encoding.InputIds.Length; i++)
        {
            if (!encoding.AssistantMask[i]) continue;
            var end = i;
            while (end < encoding.InputIds.Length && encoding.AssistantMask[end]) end++;
            runs.Add(tokenizer.Decode(encoding.InputIds[i..end]));
            i = end;
        }
        return runs;
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
