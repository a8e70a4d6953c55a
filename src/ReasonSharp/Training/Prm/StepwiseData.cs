using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Rewards;

namespace ReasonSharp.Training.Prm;

/// <summary>One row of TRL's stepwise-supervision format: a prompt, its solution's steps and one label per step
/// (true: the step is good), with Math-Shepherd's soft labels (the fraction of continuations from the step that reached
/// the answer) when the row has them.</summary>
public sealed record StepwiseRow(RewardPrompt Prompt, IReadOnlyList<string> Completions, IReadOnlyList<bool> Labels,
    IReadOnlyList<double>? SoftLabels, string Source);

/// <summary>Reading stepwise-supervision rows (prompt as a string or messages; completions a list of step strings;
/// labels a list of booleans or 0/1; optional soft_labels in [0, 1]) with errors naming file, line and field.</summary>
public static class StepwiseData
{
    public static List<StepwiseRow> Load(string path, string split, string? datasetConfig, string option)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new ReasonSharpException($"training option '{option}': {path} is neither a file nor a dataset " +
                "folder");
        var source = new DatasetSource(path) { Split = split, Config = datasetConfig };
        var rows = DatasetReader.ReadRows(source).Select(FromRow).ToList();
        if (rows.Count == 0)
            throw new ReasonSharpException($"training option '{option}': {path} holds no stepwise rows");
        return rows;
    }

    public static StepwiseRow FromRow(DataRow row)
    {
        var promptValue = row.Require("prompt");
        var prompt = promptValue.ValueKind == JsonValueKind.String
            ? RewardPrompt.FromText(promptValue.GetString()!)
            : RewardPrompt.FromMessages(ExampleConverter.ReadTurns(row, "prompt", ChatMessage.User).ToList());
        var completions = Array(row, "completions").Select(v => row.AsString(v, "completions")).ToList();
        var labels = Array(row, "labels").Select(v => v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number when v.TryGetInt32(out var n) && n is 0 or 1 => n == 1,
            _ => throw row.FieldError("labels", $"expected booleans (or 0/1), got {DataRow.Describe(v)}"),
        }).ToList();
        if (labels.Count != completions.Count)
            throw row.FieldError("labels", $"{labels.Count} labels for {completions.Count} completions (steps); " +
                "expected one label per step");
        if (completions.Count == 0) throw row.FieldError("completions", "empty; expected at least one step");
        List<double>? soft = null;
        if (row.TryGet("soft_labels", out var softValue) && softValue.ValueKind != JsonValueKind.Null)
        {
            soft = Array(row, "soft_labels").Select(v =>
                v.ValueKind == JsonValueKind.Number && v.GetDouble() is var p && p is >= 0 and <= 1 ? p
                    : throw row.FieldError("soft_labels", $"expected numbers in [0, 1], got {DataRow.Describe(v)}"))
                .ToList();
            if (soft.Count != completions.Count)
                throw row.FieldError("soft_labels", $"{soft.Count} soft labels for {completions.Count} steps; " +
                    "expected one per step");
        }
        return new StepwiseRow(prompt, completions, labels, soft, row.Origin.ToString());
    }

    static IEnumerable<JsonElement> Array(DataRow row, string column)
    {
        var value = row.Require(column);
        if (value.ValueKind != JsonValueKind.Array)
            throw row.FieldError(column, $"expected a list, got {DataRow.Describe(value)}");
        return value.EnumerateArray().ToList();
    }
}
