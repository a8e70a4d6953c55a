using ReasonSharp.Data;

namespace ReasonSharp.Tests.Data;

public class HygieneTests
{
    static Example Qa(string question, string answer, string source) =>
        new([ChatMessage.FromUser(question), ChatMessage.FromAssistant(answer)], null,
            new Dictionary<string, System.Text.Json.JsonElement>(), source);

    const string EvalQuestion = "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and " +
        "bakes muffins for her friends every day with four.";

    [Fact]
    public void Decontamination_removes_rows_sharing_a_13_gram_and_says_which_and_why()
    {
        var index =
            Decontaminator.IndexEvalSet(new NGramIndex(), "gsm8k-test",
            [Qa(EvalQuestion, "", "test.jsonl line 1"), Qa("Too short to check.", "", "test.jsonl line 2")]);
        Assert.Equal((1, 1), (index.TextsIndexed, index.ShortTexts));

        var train = new[]
        {
            Qa("JANET'S ducks lay 16 eggs per day!  She eats three for breakfast every morning, and more.", "x", "train line 1"), // 13+ words shared, case and punctuation differ
            // only 11 words in a row
            Qa("Janet's ducks lay 16 eggs per day. She eats two for breakfast.", "x", "train line 2"),
            Qa("Count the eggs.", "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning", "train line 3"), // leaked into a completion
        };
        var report = new DecontaminationReport();
        var kept = Decontaminator.Filter(train, e => e, index, report).ToList();

        Assert.Equal(["train line 2"], kept.Select(e => e.Source));
        Assert.Equal(3, report.Checked);
        Assert.Equal(2, report.Removed.Count);
        var hit = report.Removed[0];
        Assert.Equal(("train line 1", "gsm8k-test", "test.jsonl line 1"),
            (hit.TrainSource, hit.EvalSet, hit.EvalSource));
        Assert.Equal("janet s ducks lay 16 eggs per day she eats three for breakfast", hit.NGram);

        // A shorter n catches the 11-word overlap too.
        var eight = Decontaminator.IndexEvalSet(new NGramIndex(8), "gsm8k-test", [Qa(EvalQuestion, "", "t")]);
        Assert.Empty(Decontaminator.Filter(train, e => e, eight, new DecontaminationReport()));
    }

    [SkippableFact]
    public void Gsm8k_train_against_gsm8k_test_finds_the_known_overlaps()
    {
        var test = TestEnvironment.SharedFile("data/gsm8k/test.jsonl");
        var train = TestEnvironment.SharedFile("data/gsm8k/train.jsonl");
        var index = Decontaminator.IndexEvalSet(new NGramIndex(), "gsm8k-test", DatasetReader.ReadExamples(test));
        var report = new DecontaminationReport();
        var kept = Decontaminator.Filter(DatasetReader.ReadExamples(train), e => e, index, report).Count();
        Assert.Equal(7473, report.Checked);
        Assert.Equal(7473 - report.Removed.Count, kept);
        // GSM8K's splits were written to be disjoint; a handful of near-duplicate problems remain.
        Assert.InRange(report.Removed.Count, 1, 30);
        Assert.All(report.Removed, hit => Assert.Equal(13, hit.NGram.Split(' ').Length));
    }

    [Fact]
    public void Dedup_exact_and_normalised()
    {
        var items = new[]
        {
            Qa("What is 2+3?", "5", "line 1"),
            Qa("What is 2+3?", "5", "line 2"),        // exact duplicate
            Qa("what  is 2+3?", "5", "line 3"),       // differs in case and spacing only
            Qa("What is 2-3?", "-1", "line 4"),       // a different problem: the operator matters
            Qa("What is 2+3?", "five", "line 5"),     // same prompt, other answer
        };
        var exact = new DedupReport();
        Assert.Equal(["line 1", "line 3", "line 4", "line 5"],
            Deduplicator.Filter(items, e => e, DedupMode.Exact, DedupScope.Conversation, exact).Select(e => e.Source));
        Assert.Equal([new DuplicateHit("line 2", "line 1")], exact.Removed);

        var normalized = new DedupReport();
        Assert.Equal(["line 1", "line 4", "line 5"],
            Deduplicator.Filter(items, e => e, DedupMode.Normalized, DedupScope.Conversation,
            normalized).Select(e => e.Source));
        Assert.Equal(5, normalized.Checked);

        var byPrompt =
            Deduplicator.Filter(items, e => e, DedupMode.Normalized, DedupScope.Prompt,
            new DedupReport()).Select(e => e.Source);
        Assert.Equal(["line 1", "line 4"], byPrompt);
    }

    [Fact]
    public void Stats_report_lengths_trace_styles_and_thinking_distribution()
    {
        var examples = new List<Example>();
        for (var i = 1; i <= 100; i++)
            examples.Add(Qa("q", new ReasoningTrace(new string('t', i * 10), "a").Render(TraceStyle.DeepSeekR1), $"line {i}") with { GoldAnswer = "a" });
        examples.Add(Qa("q", "<think>\n\n</think>\n\nshort", "line 101"));
        examples.Add(new Example([ChatMessage.FromUser("prompt only")], null,
            new Dictionary<string, System.Text.Json.JsonElement>(), "line 102"));

        var stats = DatasetStats.Compute(examples, text => text.Length / 4, SchemaKind.Messages);
        Assert.Equal((102, 101, 100), (stats.Rows, stats.WithAssistant, stats.WithGold));
        Assert.Equal(new Dictionary<string, int> { ["DeepSeekR1"] = 101 }, stats.TraceStyles);
        Assert.Equal(1, stats.EmptyThinking);
        Assert.Equal((100, 10, 500, 900, 1000),
            (stats.ThinkingChars!.Count, stats.ThinkingChars.Min, stats.ThinkingChars.P50, stats.ThinkingChars.P90,
            stats.ThinkingChars.Max));
        Assert.Equal(102, stats.ConversationTokens!.Count);
        Assert.Equal(250, stats.ThinkingTokens!.Max);
        Assert.Null(DatasetStats.Compute([]).ConversationChars);
    }

    [SkippableFact]
    public void Token_counts_come_from_a_real_tokenizer_json()
    {
        var path = TestEnvironment.SharedFile("tokenizers/qwen3/tokenizer.json");
        using var tokenizer = TokenizerFile.Load(Path.GetDirectoryName(path)!);
        Assert.Equal(1, tokenizer.Count("<think>")); // a special token in Qwen3's vocabulary
        Assert.Equal(0, tokenizer.Count(""));
        var hello = tokenizer.Count("Hello world");
        Assert.InRange(hello, 2, 3);
        Assert.Contains("not found",
            Assert.Throws<ReasonSharpException>(() => TokenizerFile.Load("/nonexistent")).Message);
    }
}
