using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Reporting;
using ReasonSharp.Rewards;
using ReasonSharp.Training;
using ReasonSharp.Training.Grpo;

namespace ReasonSharp.Tests.Training.Grpo;

/// <summary>`reason grpo --preflight` and the training log's warnings, on a tiny random model.</summary>
public class GrpoDiagnosticsTests
{
    static GrpoConfig Config(string output, int steps = 3) => new()
    {
        OutputDir = output,
        ModelNameOrPath = "in-memory",
        DatasetName = "in-memory",
        MaxSteps = steps,
        LearningRate = 1e-3,
        PerDeviceTrainBatchSize = 16,
        NumGenerations = 4,
        MaxCompletionLength = 10,
        RewardFuncs = ["accuracy"],
        LoggingSteps = 1,
        SaveStrategy = "no",
        WriteReport = true,
        DisableTqdm = true,
        Seed = 5,
    };

    static List<RowExample> Rows(int count)
    {
        var converter = new ExampleConverter();
        return SyntheticDataset.Generate(new ArithmeticTask(), count, 1, seed: 4).Select((p, i) =>
        {
            var row = new DataRow(JsonSerializer.SerializeToElement(p.ToRow()), RowOrigin.Line("synthetic", i + 1));
            return new RowExample(row, converter.Convert(row));
        }).ToList();
    }

    [Fact]
    public void PreflightOfARandomModelOnArithmeticSaysTooHard()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var learnable = dir.File("learnable.jsonl");
        var report = GrpoPreflight.Run(lm, Rows(20), Config(dir.File("run")),
            new GrpoPreflightOptions { NumPrompts = 12, WriteLearnable = learnable });

        Assert.Equal(PreflightVerdict.TooHard, report.Verdict);
        Assert.Equal(12, report.Prompts);
        Assert.Equal(12, report.PassRateHistogram[0]);
        Assert.Equal(1.0, report.ExpectedFracRewardZeroStd);
        Assert.Equal(0, report.LearnablePrompts);
        Assert.Empty(File.ReadAllLines(learnable));
        Assert.Equal(["accuracy", "total (weighted)"], report.Rewards.Select(r => r.Name));
        Assert.True(report.TokensPerStep > 0 && report.PeakRssBytes > 0
            && report.OptimizerStateBytes == 8 * lm.ParameterCount());
        Assert.True(report.TruncationRate > 0.5, $"a random model should run to max_completion_length; truncated " +
            $"{report.TruncationRate:P0}");
        Assert.Contains("verdict: too hard", report.Format());
    }

    [Fact]
    public void PreflightSortsPromptsByPassRateAndWritesTheLearnableOnes()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var rows = Rows(16);
        // Passes on odd completion lengths: about half of each group, so every prompt is learnable.
        var registry = RewardRegistry.CreateDefault();
        registry.Register(new DelegateReward("odd_length", i => i.CompletionIds!.Count % 2));
        var config = Config(dir.File("run")) with
        {
            RewardFuncs = ["odd_length"],
            NumGenerations = 8,
            Sampling = new() { Temperature = 2.0 },
            MaxCompletionLength = 30,
        };
        var learnable = dir.File("learnable.jsonl");
        var report =
            GrpoPreflight.Run(lm, rows, config, new GrpoPreflightOptions { NumPrompts = 0, WriteLearnable = learnable },
            registry);

        Assert.Equal(16, report.Prompts);
        Assert.Equal(16, report.PassRateHistogram.Sum());
        var written =
            File.ReadAllLines(learnable).Select(l => JsonNode.Parse(l)!["prompt"]!.GetValue<string>()).ToList();
        Assert.Equal(report.LearnablePrompts, written.Count);
        Assert.Equal(report.Prompts - report.PassRateHistogram[0] - report.PassRateHistogram[5], written.Count);
        Assert.All(written,
            prompt => Assert.Contains(rows, r => r.Row.Json.GetProperty("prompt").GetString() == prompt));
        Assert.Equal(PreflightVerdict.Learnable, report.Verdict);
    }

    [Fact]
    public void ATooHardRunWarnsAboutZeroStdGroupsAndLogsTheLogProbGap()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var examples = Rows(20).Select(r => r.Example).ToList();
        var lines = new List<string>();
        var progress = new ProgressDisplay(new LineWriter(lines), false);
        var config = Config(dir.File("run"), steps: GrpoHealthMonitor.Window + 1);
        GrpoTrainer.Run(lm, examples, null, config, progress: progress);

        Assert.Contains(lines, l => l.Contains("warning (step 10)") && l.Contains("frac_reward_zero_std"));
        var warnings = File.ReadAllLines(Path.Combine(config.OutputDir, GrpoTrainer.WarningsFile));
        Assert.Contains(warnings, w => JsonNode.Parse(w)!["signature"]!.GetValue<string>() == "zero_std");
        Assert.Contains("Warnings", File.ReadAllText(Path.Combine(config.OutputDir, "report.html")));
        var gaps = File.ReadAllLines(Path.Combine(config.OutputDir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Where(m => m[GrpoTask.LogProbGapMetric] is not null).Select(m =>
                m[GrpoTask.LogProbGapMetric]!.GetValue<double>()).ToList();
        Assert.Equal(GrpoHealthMonitor.Window + 1, gaps.Count);
        var last =
            JsonNode.Parse(File.ReadAllLines(Path.Combine(config.OutputDir, "metrics.jsonl")).Last(l =>
            l.Contains("\"loss\"")))!;
        foreach (var outcome in new[] { "timed_out", "too_large", "gold_unusable" })
            Assert.Equal(0, last[$"rewards/accuracy/{outcome}"]!.GetValue<double>());
        // The engine's kernels and libtorch's forward compute the same log-probs up to float rounding.
        Assert.All(gaps, g => Assert.InRange(g, 0, 1e-3));
    }

    static StepRecord Step(long step, params (string Name, double Value)[] metrics) =>
        new(step, 0, 1, 1e-4, false, 10, 0.1, metrics.ToDictionary(m => m.Name, m => m.Value));

    [Fact]
    public void TheMonitorWarnsOncePerEpisodeForEachSignature()
    {
        var written = new List<string>();
        var monitor = new GrpoHealthMonitor(written.Add);
        long step = 0;
        // 25 steps: format saturated, accuracy flat, everything truncated, groups tied, KL and the log-prob gap
        // growing.
        for (int i = 0; i < 25; i++)
            monitor.Observe(Step(++step, ("frac_reward_zero_std", 0.9), ("completions/clipped_ratio", 0.5),
                ("rewards/format/mean", 1.0),
                ("rewards/accuracy/mean", 0.1), ("kl", i < 10 ? 0.01 : 0.2),
                (GrpoTask.LogProbGapMetric, i < 10 ? 1e-6 : 0.05)));
        Assert.Equal(["clipped", "format_only", "kl", "logprob_gap", "zero_std"],
            monitor.Warnings.Select(w => w.Signature).Order());
        Assert.Equal(10, monitor.Warnings.Single(w => w.Signature == "zero_std").Step);
        Assert.All(monitor.Warnings, w => Assert.Contains("Try", w.Message));

        // The signature clears, then comes back: a second warning.
        monitor.Observe(Step(++step, ("frac_reward_zero_std", 0.2)));
        for (int i = 0; i < GrpoHealthMonitor.Window; i++) monitor.Observe(Step(++step, ("frac_reward_zero_std", 1.0)));
        Assert.Equal(2, monitor.Warnings.Count(w => w.Signature == "zero_std"));
    }

    [Fact]
    public void AHealthyRunGetsNoWarnings()
    {
        var monitor = new GrpoHealthMonitor(_ => { });
        for (int i = 1; i <= 40; i++)
            monitor.Observe(Step(i, ("frac_reward_zero_std", 0.3), ("completions/clipped_ratio", 0.01),
                ("rewards/format/mean", 1.0),
                ("rewards/accuracy/mean", 0.1 + i * 0.01), ("kl", 0.01), (GrpoTask.LogProbGapMetric, 1e-6)));
        Assert.Empty(monitor.Warnings);
    }

    sealed class LineWriter(List<string> lines) : TextWriter
    {
        readonly System.Text.StringBuilder _line = new();
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value)
        {
            if (value == '\n')
            {
                lock (lines) lines.Add(_line.ToString());
                _line.Clear();
            }
            else _line.Append(value);
        }
    }
}
