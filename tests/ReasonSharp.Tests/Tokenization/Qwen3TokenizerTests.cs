using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Tokenization;

/// <summary>The real Qwen3 tokenizer (../shared/tokenizers/qwen3) through the wrapper and the Qwen3 chat format.</summary>
public class Qwen3TokenizerTests
{
    const int ImStart = 151644, ImEnd = 151645, EndOfText = 151643, Think = 151667, EndThink = 151668;

    static readonly ChatMessage[] Conversation =
    [
        new("system", "You are a careful math tutor. Think step by step."),
        new("user", "What is 12 * 7?"),
        new("assistant", "<think>\n12 * 7 = 84.\n</think>\n\nThe answer is 84."),
    ];

    // What Qwen3's chat template renders for Conversation (checked against the template with Jinja2).
    const string Rendered =
        "<|im_start|>system\nYou are a careful math tutor. Think step by step.<|im_end|>\n"
        + "<|im_start|>user\nWhat is 12 * 7?<|im_end|>\n"
        + "<|im_start|>assistant\n<think>\n12 * 7 = 84.\n</think>\n\nThe answer is 84.<|im_end|>\n";

    static readonly int[] ExpectedIds =
    [
        151644, 8948, 198, 2610, 525, 264, 16585, 6888, 25302, 13, 21149, 3019, 553, 3019, 13, 151645, 198,
        151644, 872, 198, 3838, 374, 220, 16, 17, 353, 220, 22, 30, 151645, 198,
        151644, 77091, 198,
        151667, 198, 16, 17, 353, 220, 22, 284, 220, 23, 19, 624, 151668, 271, 785, 4226, 374, 220, 23, 19, 13, 151645,
        198,
    ];

    [SkippableFact]
    public void ChatWithThinking_EncodesToTheKnownIds_WithAnExactAssistantMask()
    {
        var tokenizer = TokenizationTestData.Qwen3;
        var format = ChatFormat.For(tokenizer);
        Assert.Equal(new ChatCapabilities(EnableThinking: true, SystemThinkFlags: false, WritesEmptyThinkBlock: true,
            GenerationBlocks: false),
            format.Capabilities);

        var encoding = format.Encode(Conversation);

        Assert.Equal(Rendered, encoding.Text);
        Assert.Equal(ExpectedIds, encoding.InputIds);
        Assert.Equal(tokenizer.Encode(Rendered), encoding.InputIds);
        Assert.Equal(Rendered, tokenizer.Decode(encoding.InputIds));
        // The markers are single ids at their places: three turns open and close, one think block in the answer.
        Assert.Equal([0, 17, 31], Positions(encoding.InputIds, ImStart));
        Assert.Equal([15, 29, 55], Positions(encoding.InputIds, ImEnd));
        Assert.Equal([34], Positions(encoding.InputIds, Think));
        Assert.Equal([46], Positions(encoding.InputIds, EndThink));
        // Mask: exactly the assistant's tokens, from <think> through its <|im_end|>; not the header, not the final newline.
        var masked = Enumerable.Range(0, encoding.InputIds.Length).Where(i => encoding.AssistantMask[i]).ToArray();
        Assert.Equal(Enumerable.Range(34, 22).ToArray(), masked);
        Assert.Equal("<think>\n12 * 7 = 84.\n</think>\n\nThe answer is 84.<|im_end|>", tokenizer.Decode(encoding.InputIds[34..56]));
    }

    [SkippableFact]
    public void GenerationPrompt_WithThinkingOff_EndsWithAnEmptyThinkBlock()
    {
        var format = ChatFormat.For(TokenizationTestData.Qwen3);
        var messages = new[] { new ChatMessage("user", "Hi") };

        var on = format.Encode(messages, new ChatRenderOptions { AddGenerationPrompt = true });
        var off = format.Encode(messages, new ChatRenderOptions { AddGenerationPrompt = true, EnableThinking = false });

        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", on.Text);
        Assert.Equal(on.Text + "<think>\n\n</think>\n\n", off.Text);
        Assert.Equal([.. on.InputIds, Think, 271, EndThink, 271], off.InputIds);
        Assert.All(off.AssistantMask, Assert.False);
    }

    [SkippableFact]
    public void EarlierAssistantTurns_LoseTheirThinking_TheTurnAfterTheLastQuestionKeepsIt()
    {
        var format = ChatFormat.For(TokenizationTestData.Qwen3);
        ChatMessage[] messages =
        [
            new("user", "What is 12 * 7?"),
            new("assistant", "<think>\n12 * 7 = 84.\n</think>\n\n84."),
            new("user", "And 84 / 4?"),
            new("assistant", "<think>84 / 4 = 21</think>21"),
        ];

        Assert.Equal(
            "<|im_start|>user\nWhat is 12 * 7?<|im_end|>\n<|im_start|>assistant\n84.<|im_end|>\n"
            + "<|im_start|>user\nAnd 84 / 4?<|im_end|>\n<|im_start|>assistant\n<think>\n84 / 4 = 21\n</think>\n\n21<|im_end|>\n",
            format.Render(messages));
    }

    [SkippableFact]
    public void SpecialIds_VocabularyAndStopTokens_ComeFromTheFiles()
    {
        var tokenizer = TokenizationTestData.Qwen3;

        Assert.Equal(151669, tokenizer.VocabSize);
        Assert.Null(tokenizer.BosTokenId);
        Assert.Equal(ImEnd, tokenizer.EosTokenId);
        Assert.Equal(EndOfText, tokenizer.PadTokenId);
        Assert.Equal([ImEnd, EndOfText], tokenizer.StopTokenIds);
        Assert.Equal(131072, tokenizer.ModelMaxLength);
        Assert.Equal(Think, tokenizer.TokenToId("<think>"));
        Assert.Equal(198, tokenizer.TokenToId("Ċ"));
        Assert.Equal("Ċ", tokenizer.IdToToken(198));
        Assert.Null(tokenizer.TokenToId("no such token"));
        Assert.Contains("enable_thinking", tokenizer.ChatTemplate);

        var json = tokenizer.Json;
        Assert.Equal("BPE", json.ModelType);
        Assert.True(json.IsByteLevel);
        Assert.Equal(151643, json.Vocab.Count);
        Assert.Equal(151387, json.Merges.Count);
        Assert.Equal(new BpeMerge("Ġ", "Ġ"), json.Merges[0]);
        Assert.Equal(26, json.AddedTokens.Count);
        Assert.StartsWith("(?i:'s|'t|'re|'ve|'m|'ll|'d)", json.PreTokenizerPattern);
        Assert.Equal(TokenKind.Control, json.KindOf(ImStart));
        Assert.Equal(TokenKind.UserDefined, json.KindOf(Think));
        Assert.Equal(TokenKind.Normal, json.KindOf(198));
    }

    [SkippableFact]
    public void Decode_KeepsAddedTokens_UnlessSkippingSpecialOnes()
    {
        var tokenizer = TokenizationTestData.Qwen3;
        var ids = tokenizer.Encode("<|im_start|>assistant\n<think>\nhm</think>ok<|im_end|>");

        Assert.Equal("<|im_start|>assistant\n<think>\nhm</think>ok<|im_end|>", tokenizer.Decode(ids));
        // Special ones (<|im_start|>, <|im_end|>) go; <think> is not special in Qwen3, so it stays.
        Assert.Equal("assistant\n<think>\nhm</think>ok", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.True(tokenizer.IsSpecial(ImStart));
        Assert.False(tokenizer.IsSpecial(Think));
        var error = Assert.Throws<ReasonSharpException>(() => tokenizer.Decode([1, 999_999]));
        Assert.Contains("999999", error.Message);
    }

    [SkippableFact]
    public void SaveTo_WritesFilesThatLoadToTheSameTokenizer()
    {
        var tokenizer = TokenizationTestData.Qwen3;
        using var dir = TestEnvironment.NewTempDir();

        tokenizer.SaveTo(dir.Path);
        using var copy = Tokenizer.Load(dir.Path);

        Assert.Equal(tokenizer.Encode(Rendered), copy.Encode(Rendered));
        Assert.Equal(tokenizer.ChatTemplate, copy.ChatTemplate);
        Assert.Equal(tokenizer.EosTokenId, copy.EosTokenId);
        Assert.Equal(tokenizer.PadTokenId, copy.PadTokenId);
        Assert.Equal(tokenizer.VocabSize, copy.VocabSize);
        Assert.Equal(["tokenizer.json", "tokenizer_config.json"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    static int[] Positions(int[] ids, int id) => Enumerable.Range(0, ids.Length).Where(i => ids[i] == id).ToArray();
}
