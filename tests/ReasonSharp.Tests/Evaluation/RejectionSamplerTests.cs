using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>Rejection sampling on a tiny model: only verified completions are kept, the output reads back as SFT data,
/// and resuming is exact.</summary>
public sealed class RejectionSamplerTests : IDisposable
{
    readonly TempDir _dir = TestEnvironment.NewTempDir();
    readonly LanguageModel _model;
    readonly IReadOnlyList<Example> _examples = TinyLanguageModels.ArithmeticExamples(6, seed: 11);

    public RejectionSamplerTests() => _model = TinyLanguageModels.Create(_dir, seed: 3);

    public void Dispose()
    {
        _model.Dispose();
        _dir.Dispose();
    }

    // Six prompts in chunks of two, four samples each; high temperature so completions vary.
    static RejectionSamplingOptions Options => new()
    {
        Reward = "even_length", NumGenerations = 4, ChunkSize = 2, MaxNewTokens = 8,
        Sampling = new() { Temperature = 1.0, TopP = 1.0 }, Seed = 5, GenerationBatchSize = 8,
    };

    // Verified: completions whose text has an even number of characters. Every scored completion is recorded.
    static RewardRegistry EvenLength(ConcurrentBag<string>? seen = null, Action? beforeScoring = null)
    {
        var registry = RewardRegistry.CreateDefault();
        registry.Register(new DelegateReward("even_length", input =>
        {
            beforeScoring?.Invoke();
            seen?.Add(input.Completion);
            return input.Completion.Length % 2 == 0 ? 1f : 0f;
        }));
        return registry;
    }

    static List<JsonObject> Rows(string path) =>
        File.ReadLines(path).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    [Fact]
    public async Task KeepsOnlyVerifiedCompletionsAndTheOutputReadsBackAsSftData()
    {
        var seen = new ConcurrentBag<string>();
        var path = _dir.File("kept.jsonl");
        var summary = await new RejectionSampler(Options, EvenLength(seen)).RunAsync(_model, _examples, path);

        var verified = seen.Where(c => c.Length % 2 == 0).Order().ToList();
        Assert.Equal(24, seen.Count);
        // some pass, some fail: the filter is really exercised
        Assert.InRange(verified.Count, 1, 23);
        var kept = DatasetReader.ReadExamples(path).ToList();
        Assert.Equal(verified, kept.Select(e => e.Completion!).Order());
        Assert.Equal(verified.Count, summary.KeptRows);
        Assert.Equal(verified.Count, summary.CorrectSamples);
        Assert.Equal(24, summary.Samples);
        Assert.Equal(6, summary.Prompts);

        var rows = Rows(path);
        foreach (var (example, row) in kept.Zip(rows))
        {
            Assert.True(example.HasAssistantTurn);
            int index = (int)row["rejection_sampling"]!["prompt_index"]!;
            var source = _examples[index];
            Assert.Equal(source.Prompt, example.Prompt);
            Assert.Equal(source.GoldAnswer, example.GoldAnswer);
        }

        var stats = Rows(summary.Files.Stats);
        Assert.Equal(Enumerable.Range(0, 6), stats.Select(s => (int)s["prompt_index"]!));
        Assert.Equal(verified.Count, stats.Sum(s => (int)s["correct"]!));
        foreach (var s in stats)
        {
            double rate = (int)s["correct"]! / 4.0;
            Assert.Equal(rate, (double)s["pass_rate"]!, 12);
            Assert.Equal(rate, (double)s["pass@k"]!["1"]!, 12);
            Assert.Equal(PassAtK.Estimate(4, (int)s["correct"]!, 2), (double)s["pass@k"]!["2"]!, 12);
            Assert.Equal((int)s["correct"]! > 0 ? "kept" : "none_correct", (string)s["status"]!);
        }
        var summaryJson = JsonNode.Parse(File.ReadAllText(summary.Files.Summary))!;
        Assert.Equal(verified.Count, (int)summaryJson["kept_rows"]!);
        Assert.Equal(4, (int)summaryJson["options"]!["num_generations"]!);
    }

    [Fact]
    public async Task PassRateFilterRecordsFilteredPromptsWithTheirRate()
    {
        var path = _dir.File("medium.jsonl");
        var summary =
            await new RejectionSampler(Options with { MinPassRate = 0.3, MaxPassRate = 0.7 },
            EvenLength()).RunAsync(_model, _examples, path);
        var stats = Rows(summary.Files.Stats);
        foreach (var s in stats)
        {
            double rate = (double)s["pass_rate"]!;
            var expected = rate < 0.3 ? "too_hard" : rate > 0.7 ? "too_easy" : "kept";
            Assert.Equal(expected, (string)s["status"]!);
            Assert.Equal(expected == "kept" ? (int)s["correct"]! : 0, (int)s["kept"]!);
        }
        Assert.Equal(stats.Sum(s => (int)s["kept"]!), Rows(path).Count);
        Assert.Equal(6, summary.TooHard + summary.TooEasy + summary.PromptsKept + summary.NoneCorrect);
    }

    [Fact]
    public async Task ResumingAfterAFailureBetweenChunksGivesTheSameOutput()
    {
        var reference =
            await new RejectionSampler(Options, EvenLength()).RunAsync(_model, _examples, _dir.File("a/kept.jsonl"));

        var path = _dir.File("b/kept.jsonl");
        var interrupted = new RejectionSampler(Options, EvenLength())
        {
            ChunkFinished = p => { if (p.FinishedPrompts == 2) throw new InvalidOperationException("killed"); },
        };
        await Assert.ThrowsAsync<InvalidOperationException>(() => interrupted.RunAsync(_model, _examples, path));
        var progress = JsonNode.Parse(File.ReadAllText(path + ".progress.json"))!;
        Assert.Equal(2, (int)progress["finished_prompts"]!);
        Assert.Equal(new FileInfo(path).Length, (long)progress["kept_bytes"]!);
        // A kill in the middle of the next chunk's writes leaves partial lines behind.
        File.AppendAllText(path, "{\"messages\": [{\"role\": \"us");
        File.AppendAllText(_dir.File("b/kept.stats.jsonl"), "{\"prompt_index\": 2, \"sam");

        var resumedChunks = new List<int>();
        var resumed = await new RejectionSampler(Options, EvenLength()) { ChunkFinished = p => resumedChunks.Add(p.FinishedPrompts) }
            .RunAsync(_model, _examples, path);
        Assert.Equal([4, 6], resumedChunks);                       // the finished chunk was not redone
        AssertSameOutput(reference, resumed);
    }

    [Fact]
    public async Task ResumingAfterCancellationOrAFailureInsideAChunkGivesTheSameOutput()
    {
        var reference =
            await new RejectionSampler(Options, EvenLength()).RunAsync(_model, _examples, _dir.File("a/kept.jsonl"));

        // Cancelled while the third chunk is being scored (chunks hold 2 prompts × 4 samples = 8 scores).
        var path = _dir.File("c/kept.jsonl");
        using var cancel = new CancellationTokenSource();
        int scored = 0;
        var cancelled =
            new RejectionSampler(Options, EvenLength(beforeScoring: () => { if (++scored == 19) cancel.Cancel(); }));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            cancelled.RunAsync(_model, _examples, path, cancellationToken: cancel.Token));
        Assert.Equal(4, (int)JsonNode.Parse(File.ReadAllText(path + ".progress.json"))!["finished_prompts"]!);
        AssertSameOutput(reference,
            await new RejectionSampler(Options, EvenLength()).RunAsync(_model, _examples, path));

        // The reward fails while scoring the second chunk.
        var failing = _dir.File("d/kept.jsonl");
        int calls = 0;
        await Assert.ThrowsAsync<IOException>(() => new RejectionSampler(Options,
                EvenLength(beforeScoring: () =>
                    { if (++calls > 10) throw new IOException("the reward server went away"); }))
            .RunAsync(_model, _examples, failing));
        Assert.Equal(2, (int)JsonNode.Parse(File.ReadAllText(failing + ".progress.json"))!["finished_prompts"]!);
        AssertSameOutput(reference,
            await new RejectionSampler(Options, EvenLength()).RunAsync(_model, _examples, failing));
    }

    static void AssertSameOutput(RejectionSamplingSummary expected, RejectionSamplingSummary actual)
    {
        Assert.Equal(File.ReadAllBytes(expected.Files.Kept), File.ReadAllBytes(actual.Files.Kept));
        Assert.Equal(File.ReadAllBytes(expected.Files.Stats), File.ReadAllBytes(actual.Files.Stats));
        Assert.Equal(expected with { Files = actual.Files, PassAtK = actual.PassAtK }, actual);
        Assert.Equal(expected.PassAtK, actual.PassAtK);
    }

    [Fact]
    public async Task ResumeRefusesChangedSettingsAndUnknownOutputs()
    {
        var path = _dir.File("kept.jsonl");
        var first = new RejectionSampler(Options, EvenLength()) { ChunkFinished = p => throw new InvalidOperationException("stop") };
        await Assert.ThrowsAsync<InvalidOperationException>(() => first.RunAsync(_model, _examples, path));

        var e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new RejectionSampler(Options with { NumGenerations = 3 }, EvenLength()).RunAsync(_model, _examples, path));
        Assert.Contains("num_generations=4", e.Message);
        Assert.Contains("num_generations=3", e.Message);
        e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new RejectionSampler(Options, EvenLength()).RunAsync(_model, _examples.Reverse().ToList(), path));
        Assert.Contains("first 2 prompts", e.Message);

        // A larger limit continues the same run.
        var more =
            TinyLanguageModels.ArithmeticExamples(6,
            seed: 11).Concat(TinyLanguageModels.ArithmeticExamples(2, seed: 12)).ToList();
        var summary = await new RejectionSampler(Options, EvenLength()).RunAsync(_model, more, path);
        Assert.Equal(8, summary.Prompts);

        var other = _dir.File("other.jsonl");
        File.WriteAllText(other, "{\"messages\": []}\n");
        e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new RejectionSampler(Options, EvenLength()).RunAsync(_model, _examples, other));
        Assert.Contains("overwrite", e.Message);
        summary =
            await new RejectionSampler(Options with { Overwrite = true }, EvenLength()).RunAsync(_model, _examples,
            other);
        Assert.Equal(6, summary.Prompts);
    }

    [Fact]
    public async Task NoThinkModeNeedsADualModeFormatAndWritesTheEmptyThinkBlock()
    {
        var e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new RejectionSampler(Options with { Mode = SampleMode.NoThink }, EvenLength()).RunAsync(_model, _examples,
                _dir.File("x.jsonl")));
        Assert.Contains("can switch thinking off", e.Message);

        // The same network and tokenizer in the dual-mode chat format (not disposed here: they belong to _model).
        var dual = new LanguageModel(_model.Model, _model.Tokenizer, "dual-mode");
        var path = _dir.File("nothink.jsonl");
        var acceptAll = new RewardRegistry();
        acceptAll.Register(new DelegateReward("all", _ => 1f));
        await new RejectionSampler(Options with { Mode = SampleMode.NoThink, Reward = "all", Select = SelectionMode.First }, acceptAll).RunAsync(dual, _examples, path);
        var kept = DatasetReader.ReadExamples(path).ToList();
        Assert.Equal(6, kept.Count);
        Assert.All(kept, k => Assert.StartsWith("<think>\n\n</think>\n", k.Completion));
        Assert.All(kept, k => Assert.Equal("/no_think", k.Messages.Single(m => m.Role == ChatMessage.System).Content));
    }
}
