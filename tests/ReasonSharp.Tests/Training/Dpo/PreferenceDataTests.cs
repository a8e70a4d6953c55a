using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Training.Dpo;

namespace ReasonSharp.Tests.Training.Dpo;

/// <summary>Preference rows in TRL's standard forms, their errors, and their encoding with completion masks.</summary>
public class PreferenceDataTests
{
    static PreferencePair Row(string json, long line = 3) =>
        PreferenceData.FromRow(new DataRow(JsonDocument.Parse(json).RootElement, RowOrigin.Line("pairs.jsonl", line)));

    static string Error(string json) => Assert.Throws<ReasonSharpException>(() => Row(json)).Message;

    [Fact]
    public void StringsAreAUserPromptAndAssistantCompletions()
    {
        var pair = Row("""{"prompt": "2+2?", "chosen": "4", "rejected": "5"}""");
        Assert.Equal([ChatMessage.FromUser("2+2?")], pair.Prompt);
        Assert.Equal([ChatMessage.FromAssistant("4")], pair.Chosen);
        Assert.Equal([ChatMessage.FromAssistant("5")], pair.Rejected);
        Assert.Equal("pairs.jsonl:3", pair.Source);
    }

    [Fact]
    public void MessageListsAreReadAsTheyAre()
    {
        var pair = Row("""
            {"prompt": [{"role": "system", "content": "/think"}, {"role": "user", "content": "2+2?"}],
             "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}
            """);
        Assert.Equal(2, pair.Prompt.Count);
        Assert.Equal("4", Assert.Single(pair.Chosen).Content);
    }

    [Fact]
    public void ImplicitPromptIsTheSharedLeadingTurns()
    {
        var pair = Row("""
            {"chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
             "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}]}
            """);
        Assert.Equal([ChatMessage.FromUser("2+2?")], pair.Prompt);
        Assert.Equal([ChatMessage.FromAssistant("4")], pair.Chosen);
        Assert.Equal([ChatMessage.FromAssistant("5")], pair.Rejected);
    }

    [Fact]
    public void ImplicitPromptOfStringsIsTheCommonPrefixCutAtAWord()
    {
        var pair = Row("""{"chosen": "What is 2+2? It is 4", "rejected": "What is 2+2? It is 5"}""");
        Assert.Equal("What is 2+2? It is", Assert.Single(pair.Prompt).Content);
        Assert.Equal("4", pair.Chosen[0].Content);
        Assert.Equal("5", pair.Rejected[0].Content);
    }

    [Fact]
    public void BadRowsNameTheFileLineAndField()
    {
        Assert.StartsWith("pairs.jsonl:3: missing column 'rejected'",
            Error("""{"prompt": "2+2?", "chosen": "4"}"""));
        Assert.Equal("pairs.jsonl:3: field 'chosen': expected a string, got a number",
            Error("""{"prompt": "2+2?", "chosen": 4, "rejected": "5"}"""));
        Assert.StartsWith("pairs.jsonl:3: field 'rejected': expected a completion that ends with an assistant",
            Error("""{"prompt": "2+2?", "chosen": "4", "rejected": [{"role": "user", "content": "5"}]}"""));
        Assert.StartsWith("pairs.jsonl:3: field 'chosen': no user turn in the prompt",
            Error("""{"chosen": [{"role": "assistant", "content": "4"}], "rejected": "5"}"""));
    }

    [Fact]
    public void EncodingMarksOnlyTheCompletionAndSharesThePrompt()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var pair = Row("""
            {"prompt": "Compute 12+34.", "chosen": "<answer>46</answer>", "rejected": "<answer>47</answer>"}
            """);
        var (encoded, stats) = PreferenceData.Encode([pair], lm.Chat, new DpoConfig());
        var chosen = Assert.Single(encoded).Chosen;
        var rejected = encoded[0].Rejected;
        int chosenStart = Array.IndexOf(chosen.LossMask!, true);
        Assert.Equal(chosenStart, Array.IndexOf(rejected.LossMask!, true));
        Assert.Equal(chosen.InputIds[..chosenStart], rejected.InputIds[..chosenStart]);
        var completion = lm.Tokenizer.Decode(chosen.InputIds.Where((_, i) => chosen.LossMask![i])
            .Select(i => (int)i).ToArray());
        Assert.Contains("<answer>46</answer>", completion);
        Assert.DoesNotContain("Compute", completion);
        Assert.Equal(new PreferenceDataStats(1, 0, 0, null, chosen.InputIds.Length + rejected.InputIds.Length), stats);
    }

    [Fact]
    public void TruncationKeepsThePromptEndAndTheCompletionStart()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var pair = Row("""
            {"prompt": "Compute 12+34+56+78+90.", "chosen": "<answer>260</answer>", "rejected": "<answer>1</answer>"}
            """);
        var full = PreferenceData.Encode([pair], lm.Chat, new DpoConfig()).Pairs[0].Chosen;
        int promptLength = Array.IndexOf(full.LossMask!, true);
        int completionLength = full.InputIds.Length - promptLength;

        var cut = PreferenceData.Encode([pair], lm.Chat,
            new DpoConfig { MaxPromptLength = 3, MaxCompletionLength = 2 });
        var chosen = cut.Pairs[0].Chosen;
        Assert.Equal(1, cut.Stats.Truncated);
        Assert.Equal(full.InputIds[(promptLength - 3)..(promptLength + 2)], chosen.InputIds);

        var keepStart = PreferenceData.Encode([pair], lm.Chat,
            new DpoConfig { MaxPromptLength = null, MaxLength = promptLength + 1, TruncationMode = "keep_start" });
        Assert.Equal(full.InputIds[..(promptLength + 1)], keepStart.Pairs[0].Chosen.InputIds);

        var keepEnd = PreferenceData.Encode([pair], lm.Chat,
            new DpoConfig { MaxPromptLength = null, MaxLength = completionLength + 2 });
        Assert.Equal(full.InputIds[^(completionLength + 2)..], keepEnd.Pairs[0].Chosen.InputIds);

        var tooShort = Assert.Throws<ReasonSharpException>(() => PreferenceData.Encode([pair], lm.Chat,
            new DpoConfig { MaxPromptLength = null, MaxLength = promptLength, TruncationMode = "keep_start" }));
        Assert.Contains("no preference pair has completion tokens left (1 of 1 have none; first: pairs.jsonl:3)",
            tooShort.Message);
    }
}
