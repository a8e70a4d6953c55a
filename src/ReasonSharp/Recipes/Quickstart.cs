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
    /// <summary>Scales every training stage's steps relative to the default (about 13 minutes on 2 idle cores); the
    /// same value gives the same run.</summary>
    public double Minutes { get; init; } = 10;
    /// <summary>A CI-sized run: little data, a few steps per stage, small evaluations.</summary>
    public bool Quick { get; init; }
    public string Device { get; init; } = "cpu";
    /// <summary>A recipe file with a `quickstart:` section; null: the shipped recipes/quickstart.yaml.</summary>
    public string? Recipe { get; init; }
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
    public const string RecipeSource = "recipes/quickstart.yaml";

    public static string RecipeText()
    {
        using var stream = typeof(Quickstart).Assembly.GetManifestResourceStream(RecipeResource)
            ?? throw new InvalidOperationException($"embedded resource {RecipeResource} is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The pipeline of the recipe (<see cref="QuickstartOptions.Recipe"/>, else the shipped one) with the
    /// options applied: --out, --seed and --device, then the recipe's --quick overrides, or --minutes scaling every
    /// stage's max_steps.</summary>
    public static Pipeline BuildPipeline(QuickstartOptions options)
    {
        if (options.Minutes <= 0) throw new ReasonSharpException($"--minutes must be positive, got {options.Minutes}");
        var overrides = new[] { $"output_dir={options.OutputDir}", $"seed={options.Seed}", $"device={options.Device}" };
        var pipeline = options.Recipe is { } path ? Pipeline.Load(path, overrides)
            : Pipeline.Parse(RecipeText(), RecipeSource, overrides);
        var spec = Spec(pipeline);
        if (options.Quick) pipeline.Set(spec.Quick);
        if (!options.Quick && options.Minutes != 10)
            foreach (var stage in pipeline.Stages)
            {
                var key = new YamlScalarNode("max_steps");
                if (!stage.Options.Children.TryGetValue(key, out var node)) continue;
                if (node is not YamlScalarNode { Value: { } text }
                    || !int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var steps))
                    throw new ReasonSharpException($"{pipeline.Source}:{node.Start.Line}: {stage.Name}.max_steps: " +
                        $"'{node}' is no whole number; expected a step count for --minutes to scale");
                stage.Options.Children[key] = new YamlScalarNode(
                    Math.Max(1, (int)Math.Round(steps * options.Minutes / 10)).ToString(CultureInfo.InvariantCulture));
            }
        return pipeline;
    }

    static QuickstartSpec Spec(Pipeline pipeline) => pipeline.Quickstart
        ?? throw new ReasonSharpException($"{pipeline.Source}: {QuickstartSpec.Key}: missing; expected a " +
            $"'{QuickstartSpec.Key}:' section (final_model, gguf, table; see {RecipeSource})");

    public static QuickstartResult Run(QuickstartOptions options, ProgressDisplay? progress = null)
    {
        progress ??= ProgressDisplay.ForConsole(false);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var pipeline = BuildPipeline(options);
        var spec = Spec(pipeline);
        var stages = pipeline.Run(progress);
        var table = Table(spec, stages);
        var outputs = stages.ToDictionary(s => s.Name);
        var final = Path.Combine(options.OutputDir, "final");
        CopyModel(outputs[spec.FinalModel].Outputs["model"], final);
        var report = WriteReport(options.OutputDir, spec, stages, table);
        WriteTableFiles(options.OutputDir, table);
        return new QuickstartResult(options.OutputDir, table, report, final, outputs[spec.Gguf].Outputs["file"],
            clock.Elapsed.TotalSeconds);
    }

    /// <summary>The table rows of the recipe's `quickstart.table`, each with the summed wall time of its `time`
    /// stages.</summary>
    public static IReadOnlyList<QuickstartRow> Table(QuickstartSpec spec, IReadOnlyList<FinishedStage> stages)
    {
        var byName = stages.ToDictionary(s => s.Name);
        return spec.Table.Select(row =>
        {
            var m = byName[row.Eval].Metrics;
            return new QuickstartRow(row.Label, row.Mode, m[$"{row.Mode}/pass@1"], m[$"{row.Mode}/format_rate"],
                m[$"{row.Mode}/mean_think_tokens"], row.Time.Sum(s => byName[s].Seconds));
        }).ToList();
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

    static string WriteReport(string folder, QuickstartSpec spec, IReadOnlyList<FinishedStage> stages,
        IReadOnlyList<QuickstartRow> table)
    {
        var byName = stages.ToDictionary(s => s.Name);
        var report = new RunReport("ReasonSharp quickstart");
        report.AddText("What ran", spec.About);
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
        var metrics = new Dictionary<string, IReadOnlyList<JsonObject>>();
        foreach (var plot in spec.Plots)
            report.AddPlot(plot.Title, "step", plot.Y, plot.Series.Select(s =>
            {
                if (!metrics.TryGetValue(s.Stage, out var log))
                    metrics[s.Stage] = log = MetricsLog.Read(byName[s.Stage].Outputs["metrics"]);
                return MetricsLog.Series(log, s.Metric, label: s.Label);
            }).ToList());
        foreach (var samples in spec.Samples)
            report.AddSamples(samples.Title, Samples(byName[samples.Eval].Outputs["results"]));
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
