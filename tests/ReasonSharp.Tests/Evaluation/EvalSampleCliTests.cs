using System.Text.Json.Nodes;
using ReasonSharp.Data;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>`reason eval` and `reason sample` end to end on two tiny model folders.</summary>
[Collection("Console")]
public sealed class EvalSampleCliTests : IDisposable
{
    readonly TempDir _dir = TestEnvironment.NewTempDir();
    readonly string _model1, _model2, _dataset;

    public EvalSampleCliTests()
    {
        _model1 = _dir.File("m1");
        _model2 = _dir.File("m2");
        using (var lm = TinyLanguageModels.Create(_dir, seed: 1)) lm.Save(_model1);
        using (var lm = TinyLanguageModels.Create(_dir, seed: 2)) lm.Save(_model2);
        _dataset = _dir.File("problems.jsonl");
        JsonlWriter.Write(_dataset,
            SyntheticDataset.Generate(new ArithmeticTask(), 5, 1, seed: 3).Select(p => (JsonNode)p.ToRow()));
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task EvalWritesEveryFieldAndComparesTwoModelsInBothModes()
    {
        var (code, output) =
            await CliHarness.Run("eval", _model1, _model2, "--dataset", _dataset, "--limit", "3", "--k", "2", "--modes",
            "think,no_think",
            "--format", "dual-mode", "--max-new-tokens", "6", "--device", "cpu", "--out",
            _dir.File("out/results.json"));
        Assert.True(code == 0, output);
        var tableLines = output.Split('\n').Where(l => l.StartsWith("| ")).ToList();
        Assert.Contains("pass@2 %", tableLines[0]);
        Assert.Contains("maj@2 %", tableLines[0]);
        Assert.Equal(4, tableLines.Count(l => l.Contains(_model1) || l.Contains(_model2)));
        Assert.Equal(2,
            tableLines.Count(l => l.Contains(_model2) && (l.Contains("| think ") || l.Contains("| no_think "))));

        var json = JsonNode.Parse(File.ReadAllText(_dir.File("out/results.json")))!;
        Assert.Equal(0.6, (double)json["options"]!["temperature"]!);
        Assert.Equal(0.95, (double)json["options"]!["top_p"]!);
        var results = json["results"]!.AsArray();
        Assert.Equal([(_model1, "think"), (_model1, "no_think"), (_model2, "think"), (_model2, "no_think")],
            results.Select(r => ((string)r!["model"]!, (string)r["mode"]!)));
        var records = File.ReadLines(_dir.File("out/results.examples.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(12, records.Count);
        foreach (var r in results)
        {
            Assert.Equal(3, (int)r!["examples"]!);
            Assert.Equal(2, (int)r["k"]!);
            foreach (var field in new[] { "pass@1", "pass@k", "maj@k", "format_rate", "truncation_rate", "mean_reward" })
                Assert.InRange((double)r[field]!, 0, 1);
            Assert.NotNull(r["reward_means"]!["accuracy"]);
            Assert.True((double)r["elapsed_seconds"]! >= 0);
            // The summary lengths and rates are those of the per-example records.
            var completions =
                records.Where(x => (string)x["model"]! == (string)r["model"]!
                && (string)x["mode"]! == (string)r["mode"]!)
                .SelectMany(x => x["completions"]!.AsArray()).ToList();
            Assert.Equal(6, completions.Count);
            var tokens = completions.Select(c => (int)c!["completion_tokens"]!).ToList();
            Assert.Equal(tokens.Average(), (double)r["completion_tokens"]!["mean"]!, 9);
            Assert.Equal(tokens.Max(), (int)r["completion_tokens"]!["max"]!);
            Assert.Equal(completions.Average(c => (bool)c!["truncated"]! ? 1.0 : 0.0), (double)r["truncation_rate"]!,
                9);
            Assert.Equal(completions.Average(c => (double)(int)c!["think_tokens"]!),
                (double)r["think_tokens"]!["mean"]!, 9);
            foreach (var stat in new[] { "p50", "p90" }) Assert.NotNull(r["think_tokens"]![stat]);
            if ((string)r["mode"]! == "no_think")
                Assert.All(completions, c => Assert.StartsWith("<think>\n\n</think>\n", (string)c!["response"]!));
        }
        Assert.All(records, x => Assert.Equal(2, x["completions"]!.AsArray().Count));
        Assert.All(records, x => Assert.NotNull(x["gold"]));
        var markdown = File.ReadAllText(_dir.File("out/results.md"));
        Assert.Contains(tableLines[2], markdown);
    }

    [Fact]
    public async Task SampleWritesSftRowsStatsAndSummary()
    {
        var kept = _dir.File("rs/kept.jsonl");
        // Threshold 0 verifies everything, so shortest-of-2 keeps exactly one completion per prompt.
        var (code, output) =
            await CliHarness.Run("sample", _model1, "--dataset", _dataset, "--n", "2", "--reward", "accuracy,format",
            "--threshold", "0",
            "--select", "shortest", "--dedup", "--max-new-tokens", "6", "--device", "cpu", "--out", kept,
            "--chunk-size", "2");
        Assert.True(code == 0, output);
        Assert.Contains("kept 5 completions from 5 prompts", output);
        var examples = DatasetReader.ReadExamples(kept).ToList();
        Assert.Equal(5, examples.Count);
        Assert.All(examples, e => Assert.True(e.HasAssistantTurn));
        Assert.Equal(5, File.ReadLines(_dir.File("rs/kept.stats.jsonl")).Count());
        Assert.Equal(5, (int)JsonNode.Parse(File.ReadAllText(_dir.File("rs/kept.summary.json")))!["kept_rows"]!);

        // Running again resumes a finished run: nothing is redone and the outputs are unchanged.
        var before = File.ReadAllBytes(kept);
        (code, output) =
            await CliHarness.Run("sample", _model1, "--dataset", _dataset, "--n", "2", "--reward", "accuracy,format",
            "--threshold", "0",
            "--select", "shortest", "--dedup", "--max-new-tokens", "6", "--device", "cpu", "--out", kept,
            "--chunk-size", "2");
        Assert.True(code == 0, output);
        Assert.Contains("resuming after 5 of 5", output);
        Assert.Equal(before, File.ReadAllBytes(kept));
    }

    [Fact]
    public async Task SamplePairsInBothModesWritesThePairsFileAndCountsPromptsWithoutAPair()
    {
        var pairs = _dir.File("pairs/pairs.jsonl");
        // Threshold 0 verifies every completion, so no prompt has a failed one to pair against.
        var (code, output) =
            await CliHarness.Run("sample", _model1, "--dataset", _dataset, "--n", "2", "--reward", "accuracy",
            "--threshold", "0", "--pairs", "--mode", "both", "--format", "dual-mode", "--max-new-tokens", "4",
            "--device", "cpu", "--out", pairs, "--chunk-size", "2", "--max-pairs-per-prompt", "2");
        Assert.True(code == 0, output);
        Assert.Contains("wrote 0 pairs from 0 prompt-modes; 10 without a pair (0 none correct, 10 all correct", output);
        Assert.Equal("", File.ReadAllText(pairs));
        var stats = File.ReadLines(_dir.File("pairs/pairs.stats.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(["think", "no_think"], stats.Take(2).Select(s => (string)s!["mode"]!));
        Assert.All(stats, s => Assert.Equal(("all_correct", 0), ((string)s!["status"]!, (int)s["pairs"]!)));
        var summary = JsonNode.Parse(File.ReadAllText(_dir.File("pairs/pairs.summary.json")))!;
        Assert.Equal((5, 0, 10), ((int)summary["prompts"]!, (int)summary["pairs"]!,
            (int)summary["prompts_without_pair"]!));
        Assert.Equal(2, (int)summary["options"]!["max_pairs_per_prompt"]!);
    }

    [Theory]
    [InlineData("nothing.jsonl", "eval", "--dataset", "{dir}/nothing.jsonl")]
    [InlineData("reward: unknown reward 'bogus'", "eval", "--reward", "bogus")]
    [InlineData("k must be at least 1", "eval", "--k", "0")]
    [InlineData("--greedy", "eval", "--greedy", "--k", "4")]
    [InlineData("--modes: unknown mode 'maybe'", "eval", "--modes", "think,maybe")]
    [InlineData("does neither", "eval", "--modes", "no_think")]
    [InlineData("--vote: unknown value", "eval", "--vote", "loudest")]
    [InlineData("--select: unknown value 'longest'", "sample", "--select", "longest")]
    [InlineData("num_generations must be at least 1", "sample", "--n", "0")]
    [InlineData("min_pass_rate (0.9) must not exceed max_pass_rate (0.1)", "sample", "--min-pass-rate", "0.9",
        "--max-pass-rate", "0.1")]
    [InlineData("reward: unknown reward 'bogus'", "sample", "--reward", "bogus")]
    [InlineData("--pair-selection: unknown value 'best'", "sample", "--pairs", "--pair-selection", "best")]
    [InlineData("max_pairs_per_prompt must be at least 1, got 0", "sample", "--pairs", "--max-pairs-per-prompt", "0")]
    [InlineData("--mode: unknown value 'maybe'; expected think, no_think or both", "sample", "--mode", "maybe")]
    [InlineData("--no-think and --mode both: give one of them", "sample", "--no-think", "--mode", "both")]
    [InlineData("mode no_think needs a chat template", "sample", "--pairs", "--mode", "both")]
    [InlineData("option 'pair_selection' must be one of shortest_longest, random", "sample", "--set",
        "pair_selection=best")]
    public async Task BadInputIsOneErrorLineNamingTheField(string expected, string command, params string[] extra)
    {
        var args = new List<string> { command, _model1, "--device", "cpu", "--max-new-tokens", "2", "--limit", "1" };
        if (!extra.Contains("--dataset")) args.AddRange(["--dataset", _dataset]);
        if (command == "sample") args.AddRange(["--out", _dir.File("bad/kept.jsonl")]);
        args.AddRange(extra.Select(a => a.Replace("{dir}", _dir.Path)));
        var (code, output) = await CliHarness.Run([.. args]);
        Assert.Equal(2, code);
        Assert.Contains("error: ", output);
        Assert.Contains(expected, output);
    }

    [Theory]
    [InlineData("eval", "--modes")]
    [InlineData("sample", "--min-pass-rate")]
    [InlineData("sample", "--pairs")]
    [InlineData("sample", "--pair-selection")]
    [InlineData("sample", "--max-pairs-per-prompt")]
    [InlineData("sample", "--mode")]
    public async Task HelpListsTheOptions(string command, string option)
    {
        var (code, output) = await CliHarness.Run(command, "--help");
        Assert.Equal(0, code);
        Assert.Contains(option, output);
    }
}
