using System.Diagnostics;
using System.Text.Json.Nodes;
using ReasonSharp.Tokenization;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Tokenization;

public class BpeTrainerTests(ITestOutputHelper output)
{
    [Fact]
    public void TrainedTokenizer_RoundTripsRandomUnicodeExactly_ThroughTheHuggingFaceLibrary()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);
        var random = new Random(20240601);
        for (var i = 0; i < 300; i++)
        {
            var text = TokenizationTestData.RandomUnicode(random, random.Next(1, 120));
            var ids = tokenizer.Encode(text);
            Assert.Equal(text, tokenizer.Decode(ids));
        }
        // Fixed hard cases: combining marks that NFC would compose, ZWJ emoji sequences, CRLF, tabs, mixed scripts.
        foreach (var text in new[] { "e\u0301 vs é", "👩‍👩‍👧 🏳️‍🌈", "line\r\nnext\ttab\n\n\n end  ", "数学 is मज़ेदार and ΑΒΓ 𝐀𝐁", "\0\u0001", "" })
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void TrainedTokenizer_HasEachReasoningTokenAsOneId_AndTheRequestedVocabulary()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);

        Assert.Equal(1024, tokenizer.VocabSize);
        var added = ReasoningTokens.Special.Concat(ReasoningTokens.Plain).ToList();
        for (var i = 0; i < added.Count; i++)
        {
            Assert.Equal([1024 - added.Count + i], tokenizer.Encode(added[i]));
        }
        Assert.Equal(["<think>", "5", "</think>"], tokenizer.Encode("<think>5</think>").Select(tokenizer.IdToToken));
        Assert.True(tokenizer.IsSpecial(tokenizer.TokenToId("<|im_end|>")!.Value));
        Assert.False(tokenizer.IsSpecial(tokenizer.TokenToId("<think>")!.Value));
        Assert.Equal(tokenizer.TokenToId("<|im_end|>"), tokenizer.EosTokenId);
        Assert.Equal(tokenizer.TokenToId("<|endoftext|>"), tokenizer.PadTokenId);
        // All 256 bytes are tokens 0..255, so no text is ever unknown.
        for (var b = 0; b < 256; b++) Assert.Equal(b, tokenizer.TokenToId(ByteLevel.CharOf((byte)b).ToString()));
        Assert.Equal(256 + tokenizer.Json.Merges.Count, tokenizer.Json.Vocab.Count);
    }

    [Fact]
    public void Digits_SplitOneByOne_AndFrequentWordsBecomeOneToken()
    {
        using var tokenizer = Tokenizer.Load(TokenizationTestData.TrainedTokenizerFolder);

        Assert.Equal(["1", "2", "3", "4", "5"], tokenizer.Encode("12345").Select(tokenizer.IdToToken));
        Assert.Single(tokenizer.Encode(" the"));
        Assert.Single(tokenizer.Encode(" dollars"));
    }

    [Fact]
    public void Merges_FollowCounts_WithTiesToTheSmallerIds()
    {
        // The classic example: low×5, lower×2, newest×6, widest×3, each its own word.
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 256 + 7, SpecialTokens = [], PlainAddedTokens = [] });
        foreach (var (word, count) in new[] { ("low", 5), ("lower", 2), ("newest", 6), ("widest", 3) })
            for (var i = 0; i < count; i++) trainer.Add(word);

        var model = trainer.Train();

        // e+s and s+t tie at 9: (e, s) has the smaller ids. l+o and o+w tie at 7: (l, o). Then e+w, n+ew, new+est at 6.
        Assert.Equal(["es", "est", "lo", "low", "ew", "new", "newest"], model.Merges.Select(m => model.Tokens[m.Left] + model.Tokens[m.Right]));
        Assert.Equal(5 + 2 + 6 + 3, model.WordCount);
    }

    [Fact]
    public void IncrementalCounts_LearnTheSameMergesAsRecountingEveryStep()
    {
        var corpus = TokenizationTestData.Corpus(seed: 13, chars: 20_000);
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 263 + 200 });
        trainer.Add(corpus);
        var model = trainer.Train();

        Assert.Equal(NaiveMerges(corpus, 200), model.Merges.Select(m => model.Tokens[m.Left] + " " + model.Tokens[m.Right]));
    }

    /// <summary>Reference BPE: recount every adjacent pair of every word before each merge, until <paramref name="learned"/> tokens are added.</summary>
    static List<string> NaiveMerges(string corpus, int learned)
    {
        var cut = System.Text.RegularExpressions.Regex.Split(corpus, "<think>|</think>|<answer>|</answer>");
        var words = cut.SelectMany(part => System.Text.RegularExpressions.Regex.Matches(part, BpeTrainer.PreTokenizerPattern).Select(m => m.Value))
            .GroupBy(w => w, StringComparer.Ordinal)
            .Select(g => (Symbols: System.Text.Encoding.UTF8.GetBytes(g.Key).Select(b => (int)b).ToList(), Count: g.Count())).ToList();
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevel.CharOf((byte)b).ToString()).ToList();
        var merges = new List<string>();
        while (tokens.Count < 256 + learned)
        {
            var pairs = new Dictionary<(int, int), long>();
            foreach (var (symbols, n) in words)
                for (var i = 0; i + 1 < symbols.Count; i++) pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + n;
            var best = pairs.Where(p => p.Value >= 2).OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1).ThenBy(p => p.Key.Item2).Select(p => p.Key).First();
            var text = tokens[best.Item1] + tokens[best.Item2];
            var merged = tokens.IndexOf(text);
            if (merged < 0) { merged = tokens.Count; tokens.Add(text); }
            merges.Add(tokens[best.Item1] + " " + tokens[best.Item2]);
            foreach (var (symbols, _) in words)
                for (var i = 0; i + 1 < symbols.Count; i++)
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2) { symbols[i] = merged; symbols.RemoveAt(i + 1); }
        }
        return merges;
    }

    [Fact]
    public void Training_IsDeterministic_AndStopsWhenNoPairIsFrequentEnough()
    {
        using var first = TestEnvironment.NewTempDir();
        using var second = TestEnvironment.NewTempDir();
        var corpus = TokenizationTestData.Corpus(seed: 11, chars: 3_000);

        var a = BpeTrainer.TrainToFolder([corpus], new BpeTrainerOptions { VocabSize = 4096 }, first.Path);
        BpeTrainer.TrainToFolder([corpus], new BpeTrainerOptions { VocabSize = 4096 }, second.Path);

        Assert.Equal(File.ReadAllBytes(first.File("tokenizer.json")), File.ReadAllBytes(second.File("tokenizer.json")));
        Assert.InRange(a.VocabSize, 300, 4095); // a 3k-character text cannot fill 4,096 tokens with pairs seen twice
        using var tokenizer = Tokenizer.Load(first.Path);
        Assert.Equal(a.VocabSize, tokenizer.VocabSize);
        Assert.Equal(corpus, tokenizer.Decode(tokenizer.Encode(corpus)));
    }

    [Fact]
    public void Training_OneMegabyteToFourThousandTokens_TakesSeconds()
    {
        var corpus = TokenizationTestData.Corpus(seed: 5, chars: 1_000_000);
        using var dir = TestEnvironment.NewTempDir();
        var clock = Stopwatch.StartNew();

        var model = BpeTrainer.TrainToFolder([corpus], new BpeTrainerOptions { VocabSize = 4096 }, dir.Path);

        output.WriteLine($"1 MB → {model.VocabSize} tokens, {model.Merges.Count} merges in {clock.Elapsed.TotalSeconds:F2} s");
        Assert.InRange(clock.Elapsed.TotalSeconds, 0, 30);
        using var tokenizer = Tokenizer.Load(dir.Path);
        var sample = corpus[..20_000];
        var ids = tokenizer.Encode(sample);
        var bytes = System.Text.Encoding.UTF8.GetByteCount(sample);
        output.WriteLine($"{(double)bytes / ids.Length:F2} UTF-8 bytes per token on the training text");
        Assert.Equal(sample, tokenizer.Decode(ids));
        // Without merges every byte is a token; digits stay single, so this digit-heavy text compresses only about 2.6×.
        Assert.True(ids.Length < bytes / 2.2, $"{ids.Length} tokens for {bytes} bytes: merges barely compress");
    }

    [Fact]
    public void AddedTokensInTheTrainingText_AreNotLearnedInPieces()
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300 });
        for (var i = 0; i < 50; i++) trainer.Add("<think>x</think><|im_end|>");

        var model = trainer.Train();

        Assert.Empty(model.Merges); // only "x" remains between the added tokens: nothing to merge
        Assert.Equal(50, model.WordCount);
    }

    [Fact]
    public void TooSmallVocabulary_IsAnError()
    {
        var error = Assert.Throws<ReasonSharpException>(() => new BpeTrainer(new BpeTrainerOptions { VocabSize = 100 }));
        Assert.Contains("263", error.Message);
    }

    [Fact]
    public void Jsonl_ReadsChosenFieldsOrEveryString_AndNamesTheLineOfABadRow()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("data.jsonl");
        File.WriteAllLines(path, ["{\"prompt\": \"p1\", \"completion\": \"c1\", \"n\": 3, \"messages\": [{\"role\": \"user\", \"content\": \"m1\"}]}", "", "{\"prompt\": \"p2\", \"completion\": \"c2\"}"]);

        Assert.Equal(["p1", "c1", "user", "m1", "p2", "c2"], TrainingCorpus.Read(path));
        Assert.Equal(["c1", "p1", "c2", "p2"], TrainingCorpus.Read(path, ["completion", "prompt"]));
        var missing = Assert.Throws<ReasonSharpException>(() => TrainingCorpus.Read(path, ["messages"]).ToList());
        Assert.Contains($"{path}:3: messages: missing; expected text", missing.Message);
        var number = Assert.Throws<ReasonSharpException>(() => TrainingCorpus.Read(path, ["n"]).ToList());
        Assert.Contains($"{path}:1: n: number; expected text", number.Message);

        File.AppendAllText(path, "{not json\n");
        var bad = Assert.Throws<ReasonSharpException>(() => TrainingCorpus.Read(path).ToList());
        Assert.Contains($"{path}:4: not valid JSON", bad.Message);
        File.WriteAllText(dir.File("x.csv"), "a,b\n");
        Assert.Contains(".txt or .jsonl", Assert.Throws<ReasonSharpException>(() => TrainingCorpus.Read(dir.File("x.csv"))).Message);
    }

    [Fact]
    public void TemplatePostProcessor_AddsBosAndEos_OnlyWhenAsked()
    {
        using var dir = TestEnvironment.NewTempDir();
        TokenizationTestData.CopyTrainedTokenizer(dir);
        var json = JsonNode.Parse(File.ReadAllText(dir.File("tokenizer.json")))!;
        json["post_processor"] = JsonNode.Parse("""
            {"type": "Sequence", "processors": [
              {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
              {"type": "TemplateProcessing",
               "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|im_end|>", "type_id": 0}}],
               "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
               "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [1017], "tokens": ["<|endoftext|>"]},
                                  "<|im_end|>": {"id": "<|im_end|>", "ids": [1019], "tokens": ["<|im_end|>"]}}}]}
            """);
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        using var tokenizer = Tokenizer.Load(dir.Path);

        var plain = tokenizer.Encode("hello");
        Assert.DoesNotContain(1017, plain);
        Assert.Equal([1017, .. plain, 1019], tokenizer.Encode("hello", addSpecialTokens: true));
    }
}
