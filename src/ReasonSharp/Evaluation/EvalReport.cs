using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using ReasonSharp.Configuration;
using ReasonSharp.Data;
using ReasonSharp.Generation;

namespace ReasonSharp.Evaluation;

/// <summary>The files an evaluation writes: the metrics JSON, one JSONL row per model × mode × example, and the
/// Markdown table.</summary>
public sealed record EvalReportFiles(string Json, string Examples, string Markdown)
{
    /// <summary>results.json → results.json, results.examples.jsonl, results.md in the same folder.</summary>
    public static EvalReportFiles For(string jsonPath)
    {
        var full = Path.GetFullPath(jsonPath);
        var stem = Path.Combine(Path.GetDirectoryName(full)!, Path.GetFileNameWithoutExtension(full));
        return new EvalReportFiles(full, stem + ".examples.jsonl", stem + ".md");
    }
}

/// <summary>Writes evaluation results as JSON, JSONL and a comparison table (Markdown, also printed to the
/// console).</summary>
public static class EvalReport
{
    internal static readonly JsonSerializerOptions OptionsJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { FlattenAttribute.JsonModifier } },
    };

    public static EvalReportFiles Write(string jsonPath, IReadOnlyList<EvalResult> results, EvalOptions options,
        string? dataset = null)
    {
        var files = EvalReportFiles.For(jsonPath);
        var document = new JsonObject
        {
            ["dataset"] = dataset,
            ["options"] = JsonSerializer.SerializeToNode(options, OptionsJson),
            ["results"] = new JsonArray(results.Select(r => (JsonNode)ResultJson(r)).ToArray()),
        };
        AtomicFile.WriteAllText(files.Json,
            document.ToJsonString(new JsonSerializerOptions(JsonlWriter.Options) { WriteIndented = true }) + "\n");
        JsonlWriter.Write(files.Examples, results.SelectMany(r => r.Examples.Select(o => (JsonNode)ExampleJson(r, o))));
        AtomicFile.WriteAllText(files.Markdown,
            $"# Evaluation{(dataset is null ? "" : " on " + dataset)}\n\n{Table(results)}");
        return files;
    }

    /// <summary>The metrics of one model in one mode, as written to the JSON file.</summary>
    public static JsonObject ResultJson(EvalResult result)
    {
        var m = result.Metrics;
        return new JsonObject
        {
            ["model"] = result.Model,
            ["mode"] = result.Mode.Name(),
            ["examples"] = m.Examples,
            ["k"] = m.K,
            ["pass@1"] = m.PassAt1,
            ["pass@k"] = m.PassAtK,
            ["maj@k"] = m.MajAtK,
            ["best_of_k"] = m.BestOfK,
            ["weighted_maj@k"] = m.WeightedMajAtK,
            ["format_rate"] = m.FormatRate,
            ["truncation_rate"] = m.TruncationRate,
            ["mean_reward"] = m.MeanReward,
            ["reward_means"] =
                new JsonObject(m.RewardMeans.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["completion_tokens"] = LengthJson(m.CompletionTokens),
            ["think_tokens"] = LengthJson(m.ThinkTokens),
            ["elapsed_seconds"] = Math.Round(result.Elapsed.TotalSeconds, 3),
        };
    }

    static JsonObject LengthJson(LengthStats s) =>
        new() { ["mean"] = s.Mean, ["p50"] = s.P50, ["p90"] = s.P90, ["max"] = s.Max };

    static JsonObject ExampleJson(EvalResult result, ExampleOutcome o)
    {
        var example = result.Inputs[o.ExampleIndex];
        return new JsonObject
        {
            ["model"] = result.Model,
            ["mode"] = result.Mode.Name(),
            ["example_index"] = o.ExampleIndex,
            ["source"] = example.Source,
            ["prompt"] = example.Prompt.LastOrDefault(m => m.Role == ChatMessage.User)?.Content,
            ["gold"] = example.GoldAnswer,
            ["samples"] = o.Samples,
            ["correct"] = o.Correct,
            ["pass@1"] = o.PassAt1,
            ["pass@k"] = o.PassAtK,
            ["majority_answer"] = o.MajorityAnswer,
            ["majority_correct"] = o.MajorityCorrect,
            ["best_of_k_sample"] = o.BestOfKSample is { } best ? o.SampleList[best].SampleIndex : null,
            ["best_of_k_correct"] = o.SelectionScores is null ? null : o.BestOfKCorrect,
            ["weighted_majority_answer"] = o.WeightedMajorityAnswer,
            ["weighted_majority_correct"] = o.SelectionScores is null ? null : o.WeightedMajorityCorrect,
            ["completions"] = new JsonArray(o.SampleList.Select((s, i) => (JsonNode)new JsonObject
            {
                ["sample"] = s.SampleIndex,
                ["response"] = s.Response,
                ["reward"] = s.Reward,
                ["rewards"] = new JsonObject(s.Rewards.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["correct"] = s.Correct,
                ["format"] = s.FormatOk,
                ["completion_tokens"] = s.CompletionTokens,
                ["think_tokens"] = s.ThinkTokens,
                ["truncated"] = s.Truncated,
                ["answer"] = s.Answer,
                ["selection_score"] = o.SelectionScores?[i],
            }).ToArray()),
        };
    }

    /// <summary>A Markdown table comparing models and modes, columns padded so it also reads well in a
    /// terminal.</summary>
    public static string Table(IReadOnlyList<EvalResult> results)
    {
        int k = results.Count == 0 ? 1 : results[0].Metrics.K;
        // best-of-k and weighted maj@k columns only when a selection reward scored the samples.
        var selected = results.Any(r => r.Metrics.BestOfK is not null);
        string[] header =
            ["model", "mode", "examples", "pass@1 %", $"pass@{k} %", $"maj@{k} %",
            .. (selected ? (string[])[$"best-of-{k} %", $"wmaj@{k} %"] : []), "format %", "truncated %",
            "tokens mean", "p50", "p90", "max", "think mean", "think p90"];
        var rows = results.Select(r =>
        {
            var m = r.Metrics;
            string[] row =
            [
                r.Model, r.Mode.Name(), m.Examples.ToString(CultureInfo.InvariantCulture), Percent(m.PassAt1),
                Percent(m.PassAtK), Percent(m.MajAtK),
                .. (selected ? (string[])[Percent(m.BestOfK), Percent(m.WeightedMajAtK)] : []),
                Percent(m.FormatRate), Percent(m.TruncationRate), Number(m.CompletionTokens.Mean),
                Number(m.CompletionTokens.P50),
                Number(m.CompletionTokens.P90), m.CompletionTokens.Max.ToString(CultureInfo.InvariantCulture),
                Number(m.ThinkTokens.Mean), Number(m.ThinkTokens.P90),
            ];
            return row;
        }).ToList();
        var widths = header.Select((h, c) => rows.Select(r => r[c].Length).Append(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        void Line(IReadOnlyList<string> cells) =>
            text.Append("| ").AppendJoin(" | ",
                cells.Select((cell, c) => c < 2 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).Append(" |\n");
        Line(header);
        text.Append('|').AppendJoin('|',
            widths.Select((w, c) => c < 2 ? new string('-', w + 2) : new string('-', w + 1) + ":")).Append("|\n");
        foreach (var row in rows) Line(row);
        return text.ToString();
    }

    static string Percent(double rate) => (100 * rate).ToString("F1", CultureInfo.InvariantCulture);
    static string Percent(double? rate) => rate is { } r ? Percent(r) : "-";
    static string Number(double value) => value.ToString("F1", CultureInfo.InvariantCulture);
}
