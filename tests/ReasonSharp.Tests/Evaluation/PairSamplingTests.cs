using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Recipes;
using ReasonSharp.Reporting;
using ReasonSharp.Rewards;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>Preference pairs sampled from a tiny model in both modes: every chosen side verifies and every rejected
/// side fails, within one prompt and mode, and an interrupted run resumes to the same file.</summary>
public sealed class PairSamplingTests : IDisposable
{
    readonly TempDir _dir = TestEnvironment.NewTempDir();
    readonly LanguageModel _model;
    // The same network and tokenizer in the dual-mode chat format (the /think and /no_think system flags).
    readonly LanguageModel _dual;
    readonly IReadOnlyList<Example> _examples = TinyLanguageModels.ArithmeticExamples(6, seed: 11);

    public PairSamplingTests()
    {
        _model = TinyLanguageModels.Create(_dir, seed: 3);
        _dual = new LanguageModel(_model.Model, _model.Tokenizer, "dual-mode");
    }

    public void Dispose()
    {
        _model.Dispose();
        _dir.Dispose();
    }

    // Six prompts in chunks of two, six samples each, in both modes; high temperature so completions vary.
    static RejectionSamplingOptions Options => new()
    {
        Reward = "even_length", NumGenerations = 6, ChunkSize = 2, MaxNewTokens = 8,
        Sampling = new() { Temperature = 1.0, TopP = 1.0 }, Seed = 5, GenerationBatchSize = 12, Pairs = true,
        Mode = SampleMode.Both, MaxPairsPerPrompt = 2,
        PairSelection = PairSelection.ShortestLongest,
    };

    // Verified: completions whose text has an even number of characters.
    static RewardRegistry EvenLength()
    {
        var registry = RewardRegistry.CreateDefault();
        registry.Register(new DelegateReward("even_length", input => input.Completion.Length % 2 == 0 ? 1f : 0f));
        return registry;
    }

    static List<JsonObject> Rows(string path) =>
        File.ReadLines(path).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    static List<ChatMessage> Messages(JsonNode? node) =>
        node!.AsArray().Select(m => new ChatMessage((string)m!["role"]!, (string)m["content"]!)).ToList();

    [Fact]
    public async Task BothModesGivePairsOfAVerifiedAgainstAFailedCompletionOfTheSamePromptAndMode()
    {
        var path = _dir.File("pairs.jsonl");
        var summary = await new RejectionSampler(Options, EvenLength()).RunAsync(_dual, _examples, path);
        var rows = Rows(path);
        var runner = new RolloutRunner(_dual, Options.CreateReward(EvenLength()));
        Assert.NotEmpty(rows);
        Assert.Equal(["no_think", "think"], rows.Select(r => (string)r["mode"]!).Distinct().Order());
        foreach (var row in rows)
        {
            Assert.Equal(["prompt", "chosen", "rejected", "mode", "prompt_index", "chosen_reward", "rejected_reward",
                "chosen_tokens", "rejected_tokens"], row.Select(p => p.Key));
            var example = _examples[(int)row["prompt_index"]!];
            bool thinking = (string)row["mode"]! == "think";
            // The prompt as the model saw it in this mode, flag included.
            Assert.Equal(runner.PromptMessages(example, thinking), Messages(row["prompt"]));
            Assert.EndsWith(thinking ? "/think" : "/no_think", Messages(row["prompt"])[0].Content);
            // No-think turns open with the template's empty think block.
            var prefill = runner.PromptPrefill(example, thinking);
            Assert.Equal(thinking, prefill.Length == 0);
            var chosen = Messages(row["chosen"]).Single();
            var rejected = Messages(row["rejected"]).Single();
            Assert.Equal((ChatMessage.Assistant, ChatMessage.Assistant), (chosen.Role, rejected.Role));
            // Each side carries its mode's prefill; the reward saw the text after it.
            Assert.StartsWith(prefill, chosen.Content);
            Assert.StartsWith(prefill, rejected.Content);
            Assert.True(chosen.Content[prefill.Length..].Length % 2 == 0, chosen.Content);
            Assert.True(rejected.Content[prefill.Length..].Length % 2 == 1, rejected.Content);
            Assert.Equal((1.0, 0.0), ((double)row["chosen_reward"]!, (double)row["rejected_reward"]!));
            Assert.InRange((int)row["chosen_tokens"]!, 1, 8);
            Assert.InRange((int)row["rejected_tokens"]!, 1, 8);
        }

        // One stats row per prompt and mode; pairs only where that mode had both outcomes, at most two.
        var stats = Rows(summary.Files.Stats);
        Assert.Equal(12, stats.Count);
        Assert.Equal(Enumerable.Range(0, 6).SelectMany(i => new[] { (i, "think"), (i, "no_think") }),
            stats.Select(s => ((int)s["prompt_index"]!, (string)s["mode"]!)));
        foreach (var s in stats)
        {
            int correct = (int)s["correct"]!, pairs = (int)s["pairs"]!;
            int written = rows.Count(r => (int)r["prompt_index"]! == (int)s["prompt_index"]!
                && (string)r["mode"]! == (string)s["mode"]!);
            Assert.Equal(written, pairs);
            Assert.Equal(Math.Min(2, Math.Min(correct, 6 - correct)), pairs);
            Assert.Equal(correct == 0 ? "none_correct" : correct == 6 ? "all_correct" : "kept", (string)s["status"]!);
            Assert.Equal(0, (int)s["kept"]!);
        }
        // Both modes really sampled: their pass rates are not identical throughout.
        Assert.Contains(Enumerable.Range(0, 6),
            i => (int)stats[2 * i]["correct"]! != (int)stats[2 * i + 1]["correct"]!);
        Assert.Equal((6, 72, rows.Count), (summary.Prompts, summary.Samples, summary.PairRows));
        Assert.Equal(stats.Count(s => (int)s["pairs"]! == 0), summary.PromptsWithoutPair);
        Assert.Equal(0, summary.KeptRows);
        Assert.Equal(path, summary.Files.Kept);
        var json = JsonNode.Parse(File.ReadAllText(summary.Files.Summary))!;
        Assert.Equal(rows.Count, (int)json["pairs"]!);
        Assert.Equal(summary.PromptsWithoutPair, (int)json["prompts_without_pair"]!);
        Assert.Equal(path, (string)json["files"]!["pairs"]!);
        Assert.Null(json["kept_rows"]);
        Assert.Equal("both", (string)json["options"]!["mode"]!);
    }

    [Fact]
    public async Task TheThinkHalfOfBothEqualsAThinkOnlyRun()
    {
        var both = Rows((await new RejectionSampler(Options, EvenLength())
            .RunAsync(_dual, _examples, _dir.File("both/pairs.jsonl"))).Files.Kept);
        var think = Rows((await new RejectionSampler(Options with { Mode = SampleMode.Think }, EvenLength())
            .RunAsync(_dual, _examples, _dir.File("think/pairs.jsonl"))).Files.Kept);
        Assert.NotEmpty(think);
        Assert.All(think, r => Assert.Equal("think", (string)r["mode"]!));
        Assert.Equal(think.Select(r => r.ToJsonString()), both.Where(r => (string)r["mode"]! == "think")
            .Select(r => r.ToJsonString()));
    }

    [Fact]
    public async Task ResumingAnInterruptedPairsRunGivesTheSameFile()
    {
        var options = Options with { PairSelection = PairSelection.Random };
        var reference = await new RejectionSampler(options, EvenLength())
            .RunAsync(_dual, _examples, _dir.File("a/pairs.jsonl"));

        var path = _dir.File("b/pairs.jsonl");
        var interrupted = new RejectionSampler(options, EvenLength())
        {
            ChunkFinished = p => { if (p.FinishedPrompts == 4) throw new InvalidOperationException("killed"); },
        };
        await Assert.ThrowsAsync<InvalidOperationException>(() => interrupted.RunAsync(_dual, _examples, path));
        Assert.Equal(4, (int)JsonNode.Parse(File.ReadAllText(path + ".progress.json"))!["finished_prompts"]!);
        // A kill in the middle of the next chunk's writes leaves a partial line behind.
        File.AppendAllText(path, "{\"prompt\": [{\"role\": \"sys");

        var resumed = await new RejectionSampler(options, EvenLength()).RunAsync(_dual, _examples, path);
        Assert.Equal(File.ReadAllBytes(reference.Files.Kept), File.ReadAllBytes(resumed.Files.Kept));
        Assert.Equal(File.ReadAllBytes(reference.Files.Stats), File.ReadAllBytes(resumed.Files.Stats));
        Assert.Equal(reference.PairRows, resumed.PairRows);
        Assert.True(resumed.PairRows > 0);
    }

    [Fact]
    public async Task ResumeRefusesChangedPairSettingsAndNeverOverwritesSilently()
    {
        var path = _dir.File("pairs.jsonl");
        var first = new RejectionSampler(Options, EvenLength())
        {
            ChunkFinished = _ => throw new InvalidOperationException("stop"),
        };
        await Assert.ThrowsAsync<InvalidOperationException>(() => first.RunAsync(_dual, _examples, path));
        var before = File.ReadAllBytes(path);

        var e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new RejectionSampler(Options with { Pairs = false }, EvenLength()).RunAsync(_dual, _examples, path));
        Assert.Contains("pairs=true", e.Message);
        e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new RejectionSampler(Options with { PairSelection = PairSelection.Random }, EvenLength())
                .RunAsync(_dual, _examples, path));
        Assert.Contains("pair_selection=\"shortest_longest\"", e.Message);
        e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new RejectionSampler(Options with { Mode = SampleMode.NoThink }, EvenLength())
                .RunAsync(_dual, _examples, path));
        Assert.Contains("mode=\"both\"", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));

        // A kept.jsonl run's file is not taken over by a pairs run, nor the other way round.
        var kept = _dir.File("kept.jsonl");
        await new RejectionSampler(Options with { Pairs = false }, EvenLength()).RunAsync(_dual, _examples, kept);
        e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new RejectionSampler(Options, EvenLength()).RunAsync(_dual, _examples, kept));
        Assert.Contains("pairs=nothing", e.Message);
        var other = _dir.File("other.jsonl");
        File.WriteAllText(other, "{\"prompt\": []}\n");
        e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new RejectionSampler(Options, EvenLength()).RunAsync(_dual, _examples, other));
        Assert.Contains("overwrite", e.Message);
    }

    [Fact]
    public async Task BothModesNeedATemplateThatCanSwitchThinkingOff()
    {
        var e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new RejectionSampler(Options, EvenLength()).RunAsync(_model, _examples, _dir.File("x.jsonl")));
        Assert.Contains("can switch thinking off", e.Message);
        Assert.False(File.Exists(_dir.File("x.jsonl")));
    }

    [Fact]
    public void APipelineStageWritesPairsAsItsDataOutput()
    {
        var model = _dir.File("model");
        _model.Save(model);
        var dataset = _dir.File("problems.jsonl");
        JsonlWriter.Write(dataset,
            SyntheticDataset.Generate(new ArithmeticTask(), 4, 1, seed: 3).Select(p => (JsonNode)p.ToRow()));
        var output = _dir.File("run");
        File.WriteAllText(_dir.File("p.yaml"), $"""
            output_dir: {output}
            device: cpu
            stages:
              - name: pairs
                type: sample
                model: {model}
                chat_format: dual-mode
                dataset: {dataset}
                reward: even_length
                pairs: true
                mode: both
                num_generations: 6
                max_new_tokens: 8
                temperature: 1.0
                top_p: 1.0
            """);
        var pipeline = Pipeline.Load(_dir.File("p.yaml"));
        pipeline.Rewards = EvenLength();
        var stage = pipeline.Run(ProgressDisplay.ForConsole(true)).Single();
        var pairs = Path.Combine(output, "pairs", "pairs.jsonl");
        Assert.Equal(pairs, stage.Outputs["data"]);
        var rows = Rows(pairs);
        Assert.NotEmpty(rows);
        Assert.Equal(rows.Count, stage.Metrics["pairs"]);
        Assert.Equal(4, stage.Metrics["prompts"]);
        // One pair at most per prompt and mode (max_pairs_per_prompt 1): the other prompt-modes have none.
        Assert.Equal(8 - rows.Count, stage.Metrics["prompts_without_pair"]);
        Assert.All(rows, r => Assert.Equal((1.0, 0.0), ((double)r["chosen_reward"]!, (double)r["rejected_reward"]!)));
    }
}
