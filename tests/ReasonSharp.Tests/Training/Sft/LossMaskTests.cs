using ReasonSharp.Data;
using ReasonSharp.Tokenization;
using ReasonSharp.Training;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Tests.Training.Sft;

public class LossMaskTests
{
    /// <summary>The decoded text of each maximal run of tokens inside or outside the loss, in order.</summary>
    static List<(bool Labelled, string Text)> Runs(Tokenizer tokenizer, TokenSequence sequence)
    {
        var runs = new List<(bool, string)>();
        int start = 0;
        for (int i = 1; i <= sequence.InputIds.Length; i++)
        {
            if (i < sequence.InputIds.Length && sequence.LossMask![i] == sequence.LossMask[start]) continue;
            runs.Add((sequence.LossMask![start],
                tokenizer.Decode(sequence.InputIds[start..i].Select(id => (int)id).ToArray(),
                skipSpecialTokens: false)));
            start = i;
        }
        return runs;
    }

    static List<string> Labelled(Tokenizer tokenizer, TokenSequence sequence) =>
        Runs(tokenizer, sequence).Where(r => r.Labelled).Select(r => r.Text).ToList();

    static void AssertOnlyAssistantTextIsLabelled(Tokenizer tokenizer, ChatFormat chat)
    {
        var messages = SftFixtures.TwoTurns();
        var assistant = messages.Where(m => m.IsAssistant).Select(m => m.Content + "<|im_end|>").ToList();
        var encoded = SftDataset.Encode([SftFixtures.ExampleOf(messages)], false, chat, new SftConfig(), pack: false);
        var sequence = Assert.Single(encoded.Sequences);
        var runs = Runs(tokenizer, sequence);

        // The loss covers exactly the assistant turns' text and their end tokens: no system or user token, no role
        // header.
        Assert.Equal(chat.Render(messages), string.Concat(runs.Select(r => r.Text)));
        Assert.Equal(assistant, runs.Where(r => r.Labelled).Select(r => r.Text));
        var prompt = string.Concat(runs.Where(r => !r.Labelled).Select(r => r.Text));
        foreach (var message in messages.Where(m =>
            !m.IsAssistant)) Assert.Contains($"<|im_start|>{message.Role}\n{message.Content}<|im_end|>", prompt);
        Assert.Equal(2, prompt.Split("<|im_start|>assistant\n").Length - 1);
        Assert.Equal(encoded.Stats.LossTokens, sequence.LossMask!.Count(m => m));

        // Completion-only keeps the final assistant turn alone; with both off every token is a target.
        var completion =
            Assert.Single(SftDataset.Encode([SftFixtures.ExampleOf(messages)], false, chat,
            new SftConfig { CompletionOnlyLoss = true }, false).Sequences);
        Assert.Equal([assistant[^1]], Labelled(tokenizer, completion));
        var everything = Assert.Single(SftDataset.Encode([SftFixtures.ExampleOf(messages)], false, chat,
            new SftConfig { AssistantOnlyLoss = false, CompletionOnlyLoss = false }, false).Sequences);
        Assert.All(everything.LossMask!, Assert.True);
    }

    [Fact]
    public void TheAssistantOnlyMaskExcludesEveryPromptTokenOfChatML()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = Tokenizer.Load(TinyLanguageModels.Tokenizer(dir));
        AssertOnlyAssistantTextIsLabelled(tokenizer, ChatFormat.For(tokenizer, "chatml"));
    }

    [SkippableFact]
    public void TheAssistantOnlyMaskExcludesEveryPromptTokenWithTheRealQwenTokenizer()
    {
        var folder = Path.GetDirectoryName(TestEnvironment.SharedFile("tokenizers/qwen3/tokenizer.json"))!;
        using var tokenizer = Tokenizer.Load(folder);
        AssertOnlyAssistantTextIsLabelled(tokenizer, ChatFormat.For(tokenizer, "chatml"));
    }

    [Fact]
    public void PromptCompletionRowsAreUserAndAssistantTurnsWithTheCompletionAsTheOnlyTarget()
    {
        using var dir = TestEnvironment.NewTempDir();
        var file = dir.File("pc.jsonl");
        File.WriteAllLines(file, ["""{"prompt": "Compute 3+4.", "completion": "<think>\n3+4=7.\n</think>\n<answer>\n7\n</answer>"}"""]);
        // Neither mask option on: completion_only_loss = null still means the completion for a prompt/completion
        // dataset (TRL).
        var config = new SftConfig { AssistantOnlyLoss = false };
        var data = SftDataset.Load(file, "train", config, "dataset_name");
        Assert.True(data.PromptCompletion);
        var example = Assert.Single(data.Examples);
        Assert.Equal([ChatMessage.User, ChatMessage.Assistant], example.Messages.Select(m => m.Role));

        using var tokenizer = Tokenizer.Load(TinyLanguageModels.Tokenizer(dir));
        var chat = ChatFormat.For(tokenizer, "chatml");
        var sequence =
            Assert.Single(SftDataset.Encode(data.Examples, data.PromptCompletion, chat, config, pack: false).Sequences);
        var runs = Runs(tokenizer, sequence);
        Assert.Equal([(false, "<|im_start|>user\nCompute 3+4.<|im_end|>\n<|im_start|>assistant\n"),
            (true, "<think>\n3+4=7.\n</think>\n<answer>\n7\n</answer><|im_end|>"), (false, "\n")], runs);
    }

    [Fact]
    public void RowsWithoutACompletionAreRejectedWithTheirSource()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = Tokenizer.Load(TinyLanguageModels.Tokenizer(dir));
        var example = SftFixtures.ExampleOf([ChatMessage.FromUser("Compute 1+1.")], "train.jsonl line 7");
        var error = Assert.Throws<ReasonSharpException>(() =>
            SftDataset.Encode([example], false, ChatFormat.For(tokenizer, "chatml"), new SftConfig(), pack: false));
        Assert.Contains("train.jsonl line 7", error.Message);
        Assert.Contains("no assistant turn", error.Message);
    }
}
