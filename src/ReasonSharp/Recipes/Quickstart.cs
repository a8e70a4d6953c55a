using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Reporting;
using ReasonSharp.Training;
using YamlDotNet.RepresentationModel;

namespace ReasonSharp.Recipes;

/// <summary>Options of `reason quickstart`.</summary>
public sealed record QuickstartOptions
{
    public string OutputDir { get; init; } = "runs/quickstart";
    public long Seed { get; init; } = 42;
    /// <summary>Scales every training stage's steps relative to the default (about 10 minutes on 2 cores); the same
    /// value gives the same run.</summary>
    public double Minutes { get; init; } = 10;
    /// <summary>A CI-sized run: little data, a few steps per stage, small evaluations.</summary>
    public bool Quick { get; init; }
    public string Device { get; init; } = "cpu";
}

/// <summary>One row of the quickstart table: a stage's held-out accuracy (greedy, verified), format rate, think length
/// and wall time.</summary>
public sealed record QuickstartRow(string Stage, string Mode, double Accuracy, double FormatRate,
    double MeanThinkTokens, double Seconds);

public sealed record QuickstartResult(string OutputDir, IReadOnlyList<QuickstartRow> Table, string Report,
    string FinalModel, string Gguf, double Seconds);

/// <summary>
/// `reason quickstart`: runs recipes/quickstart.yaml (data → tokenizer → init → SFT on worked traces, then on the
/// teacher's mix → GRPO → rejection sampling → dual mode → GGUF) with the pipeline a user would use, evaluating after
/// every stage, and writes the report.
/// </summary>
public static class Quickstart
{
    public const string RecipeResource = "ReasonSharp.Recipes.quickstart.yaml";
    static readonly string[] TrainingStages = ["sft_traces", "sft", "grpo", "rs_sft", "dual"];

    /// <summary>Overrides of the --quick run: the same stages, sized for CI.</summary>
    static readonly string[] QuickOverrides =
    [
        "data.n=400", "tokenizer.vocab_size=400", "init.size=nano",
        "sft_traces.max_steps=20", "sft_traces.logging_steps=10", "sft.max_steps=10", "sft.logging_steps=5",
        "grpo.max_steps=3", "grpo.per_device_train_batch_size=16", "grpo.logging_steps=1",
        "grpo.max_completion_length=48", "sample.limit=24", "sample.max_new_tokens=48", "rs_sft.max_steps=4",
        "dual.max_steps=10",
        // 30 SFT steps solve nothing, so rejection sampling keeps no rows: the later SFT stages train on the teacher's
        // data.
        "rs_sft.dataset_name=${data.train}", "dual.dataset_name=${data.train}",
        "eval_init.limit=16", "eval_sft.limit=16", "eval_grpo.limit=16", "eval_rs.limit=16", "eval_dual.limit=16",
        "eval_init.max_new_tokens=48", "eval_sft.max_new_tokens=48", "eval_grpo.max_new_tokens=48",
        "eval_rs.max_new_tokens=48", "eval_dual.max_new_tokens=48",
    ];

    public static string RecipeText()
    {
        using var stream = typeof(Quickstart).Assembly.GetManifestResourceStream(RecipeResource)
            ?? throw new InvalidOperationException($"embedded resource {RecipeResource} is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static Pipeline BuildPipeline(QuickstartOptions options)
    {
        if (options.Minutes <= 0) throw new ReasonSharpException($"--minutes must be positive, got {options.Minutes}");
        var overrides =
            new List<string> { $"output_dir={options.OutputDir}", $"seed={options.Seed}", $"device={options.Device}" };
        if (options.Quick) overrides.AddRange(QuickOverrides);
        var pipeline = Pipeline.Parse(RecipeText(), "recipes/quickstart.yaml", overrides);
        if (!options.Quick && options.Minutes != 10)
            foreach (var stage in pipeline.Stages.Where(s => TrainingStages.Contains(s.Name)))
            {
                var key = new YamlScalarNode("max_steps");
                var steps = int.Parse(((YamlScalarNode)stage.Options.Children[key]).Value!,
                    CultureInfo.InvariantCulture);
                stage.Options.Children[key] = new YamlScalarNode(
                    Math.Max(1, (int)Math.Round(steps * options.Minutes / 10)).ToString(CultureInfo.InvariantCulture));
            }
        return pipeline;
    }

    public static QuickstartResult Run(QuickstartOptions options, ProgressDisplay? progress = null)
    {
        progress ??= ProgressDisplay.ForConsole(false);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var pipeline = BuildPipeline(options);
        var stages = pipeline.Run(progress);
        var table = Table(stages);
        var outputs = stages.ToDictionary(s => s.Name);
        var final = Path.Combine(options.OutputDir, "final");
        CopyModel(outputs["dual"].Outputs["model"], final);
        var report = WriteReport(options.OutputDir, stages, table);
        WriteTableFiles(options.OutputDir, table);
        return new QuickstartResult(options.OutputDir, table, report, final, outputs["export"].Outputs["file"],
            clock.Elapsed.TotalSeconds);
    }

    /// <summary>The table rows from the eval stages, each with the wall time of the training stage before it.</summary>
    public static IReadOnlyList<QuickstartRow> Table(IReadOnlyList<FinishedStage> stages)
    {
        var byName = stages.ToDictionary(s => s.Name);
        QuickstartRow Row(string label, string eval, string? trained, string mode = "think")
        {
            var m = byName[eval].Metrics;
            double seconds = trained is null ? 0 : byName[trained].Seconds
                + (trained == "rs_sft" ? byName["sample"].Seconds : 0)
                + (trained == "sft" ? byName["sft_traces"].Seconds : 0);
            return new QuickstartRow(label, mode, m[$"{mode}/pass@1"], m[$"{mode}/format_rate"],
                m[$"{mode}/mean_think_tokens"], seconds);
        }
        return
        [
            Row("random init", "eval_init", null),
            Row("SFT (distillation)", "eval_sft", "sft"),
            Row("GRPO", "eval_grpo", "grpo"),
            Row("rejection sampling + SFT", "eval_rs", "rs_sft"),
            Row("dual mode, /think", "eval_dual", "dual"),
            Row("dual mode, /no_think", "eval_dual", "dual", "no_think"),
        ];
    }

    public static string FormatTable(IReadOnlyList<QuickstartRow> table)
    {
        var text = new StringBuilder();
        text.AppendLine("| stage | held-out accuracy | format | mean think tokens | stage time |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var r in table)
            text.AppendLine(CultureInfo.InvariantCulture, $"| {r.Stage} | {r.Accuracy:P1} | {r.FormatRate:P0} | " +
                $"{r.MeanThinkTokens:F1} | {(r.Seconds > 0 ? $"{r.Seconds:F0} s" : "–")} |");
        return text.ToString();
    }

    static void WriteTableFiles(string folder, IReadOnlyList<QuickstartRow> table)
    {
        AtomicFile.WriteAllText(Path.Combine(folder, "quickstart.md"), FormatTable(table));
        AtomicFile.WriteAllText(Path.Combine(folder, "quickstart.json"),
            JsonSerializer.Serialize(table, new JsonSerializerOptions { WriteIndented = true }));
    }

    static void CopyModel(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source).Where(f => f.EndsWith(".json")
            || f.EndsWith(".safetensors")))
            AtomicFile.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
    }

    static string WriteReport(string folder, IReadOnlyList<FinishedStage> stages, IReadOnlyList<QuickstartRow> table)
    {
        var byName = stages.ToDictionary(s => s.Name);
        var report = new RunReport("ReasonSharp quickstart");
        report.AddText("What ran", "A byte-level BPE tokenizer and a small Qwen2-architecture model trained from " +
            "scratch on a synthetic arithmetic "
            + "task: SFT on a programmatic teacher's <think> traces, GRPO with accuracy + format rewards, one " +
                "round of rejection sampling, "
            + "and dual-mode SFT. Accuracy is greedy decoding on held-out problems never trained on, verified by " +
                "the reward library.");
        report.AddText("Machine", $"{MachineInfo.Describe()}; {Native.ThreadPolicy.Describe()}. The same seed on " +
            $"the same machine "
            + "gives the same table; on another CPU floating-point results differ, so the table can too " +
                "(BENCHMARKS.md has the spread over seeds).");
        report.AddTable("Held-out accuracy after each stage",
            ["stage", "mode", "accuracy", "format", "mean think tokens", "stage seconds"],
            table.Select(r =>
                (IReadOnlyList<string>)[r.Stage, r.Mode, r.Accuracy.ToString("P1", CultureInfo.InvariantCulture),
                r.FormatRate.ToString("P0", CultureInfo.InvariantCulture),
                r.MeanThinkTokens.ToString("F1", CultureInfo.InvariantCulture),
                r.Seconds.ToString("F0", CultureInfo.InvariantCulture)]));

        var traces = MetricsLog.Read(byName["sft_traces"].Outputs["metrics"]);
        var sft = MetricsLog.Read(byName["sft"].Outputs["metrics"]);
        report.AddPlot("SFT loss (each part counts its own steps)", "step", "loss",
            [MetricsLog.Series(traces, "loss", label: "worked traces"),
            MetricsLog.Series(sft, "loss", label: "the teacher's mix")]);
        var grpo = MetricsLog.Read(byName["grpo"].Outputs["metrics"]);
        report.AddPlot("GRPO reward and accuracy (sampled completions)", "step", "mean",
            [MetricsLog.Series(grpo, "reward", label: "total reward"),
            MetricsLog.Series(grpo, "rewards/accuracy/mean", label: "accuracy"),
            MetricsLog.Series(grpo, "rewards/format/mean", label: "format")]);
        report.AddPlot("GRPO completion length", "step", "tokens",
            [MetricsLog.Series(grpo, "completions/mean_length", label: "mean length")]);
        report.AddSamples("Held-out completions before GRPO (after SFT)",
            Samples(byName["eval_sft"].Outputs["results"]));
        report.AddSamples("The same problems after GRPO", Samples(byName["eval_grpo"].Outputs["results"]));
        report.AddTable("Stages", ["stage", "type", "seconds"],
            stages.Select(s =>
            (IReadOnlyList<string>)[s.Name, s.Type, s.Seconds.ToString("F0", CultureInfo.InvariantCulture)]));
        return report.Write(folder);
    }

    static IEnumerable<(string Label, string Text)> Samples(string resultsJson)
    {
        var examples = Path.ChangeExtension(resultsJson, null) + ".examples.jsonl";
        foreach (var line in File.ReadLines(examples).Take(4))
        {
            var row = JsonNode.Parse(line)!;
            var completion = row["completions"]![0]!;
            var verdict = completion["correct"]!.GetValue<bool>() ? "correct" : "wrong";
            yield return ($"{row["prompt"]} (gold {row["gold"]}; {verdict})",
                completion["response"]!.GetValue<string>());
        }
    }
}
