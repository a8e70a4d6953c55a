using System.Text;
using System.Text.Json;

namespace ReasonSharp.Rewards;

/// <summary>A JSONL row turned into a reward input, with its line number.</summary>
public sealed record RewardRow(int Line, RewardInput Input);

/// <summary>
/// Reads completions to score from JSONL (one object per line: 'completion' as text or a list of
/// {role, content} messages, optional 'prompt', 'completion_ids' and 'step', every other field a column) and
/// writes per-row scores and a summary as JSON. Errors name the file, line and field.
/// </summary>
public static class RewardJsonl
{
    static readonly HashSet<string> Reserved = ["completion", "prompt", "completion_ids", "step"];

    public static IReadOnlyList<RewardRow> Read(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: file not found");
        var rows = new List<RewardRow>();
        foreach (var (lineNumber, line) in TextLines.Read(path))
        {
            if (line.Trim().Length == 0) continue;
            JsonElement root;
            try
            {
                root = JsonDocument.Parse(line).RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new ReasonSharpException($"{path}:{lineNumber}: not valid JSON: {e.Message}");
            }
            if (root.ValueKind != JsonValueKind.Object) throw new ReasonSharpException($"{path}:{lineNumber}: " +
                $"expected a JSON object, got {root.ValueKind}");
            string Where(string field) => $"{path}:{lineNumber}: field '{field}'";
            if (!root.TryGetProperty("completion", out var completionValue))
                throw new ReasonSharpException($"{Where("completion")}: missing (expected a string or a list of " +
                    $"messages)");
            var completion = Text(completionValue, Where("completion"));
            var prompt = root.TryGetProperty("prompt", out var promptValue) ? Prompt(promptValue, Where("prompt"))
                : RewardPrompt.Empty;
            IReadOnlyList<int>? ids = null;
            if (root.TryGetProperty("completion_ids", out var idsValue) && idsValue.ValueKind != JsonValueKind.Null)
            {
                if (idsValue.ValueKind != JsonValueKind.Array
                    || idsValue.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out _)))
                    throw new ReasonSharpException($"{Where("completion_ids")}: expected a list of integer token ids");
                ids = idsValue.EnumerateArray().Select(e => e.GetInt32()).ToList();
            }
            var step = 0;
            if (root.TryGetProperty("step", out var stepValue)
                && (stepValue.ValueKind != JsonValueKind.Number || !stepValue.TryGetInt32(out step)))
                throw new ReasonSharpException($"{Where("step")}: expected an integer");
            var columns =
                root.EnumerateObject().Where(p => !Reserved.Contains(p.Name)).ToDictionary(p => p.Name,
                p => p.Value.Clone());
            rows.Add(new RewardRow(checked((int)lineNumber), new RewardInput(prompt, completion, ids, columns, step)));
        }
        if (rows.Count == 0) throw new ReasonSharpException($"{path}: no rows");
        return rows;
    }

    static string Text(JsonElement value, string where)
    {
        if (value.ValueKind == JsonValueKind.String) return value.GetString()!;
        var messages = Messages(value, where);
        var assistant = messages.Where(m => m.Role == "assistant").ToList();
        return string.Concat((assistant.Count > 0 ? assistant : messages).Select(m => m.Content));
    }

    static RewardPrompt Prompt(JsonElement value, string where) =>
        value.ValueKind == JsonValueKind.String ? RewardPrompt.FromText(value.GetString()!)
            : RewardPrompt.FromMessages(Messages(value, where));

    static List<ChatMessage> Messages(JsonElement value, string where)
    {
        if (value.ValueKind != JsonValueKind.Array) throw new ReasonSharpException($"{where}: expected a string or " +
            $"a list of {{role, content}} messages, got {value.ValueKind}");
        return value.EnumerateArray().Select((m, i) =>
            m.ValueKind == JsonValueKind.Object && m.TryGetProperty("role", out var role)
                && role.ValueKind == JsonValueKind.String
            && m.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String
                ? new ChatMessage(role.GetString()!, content.GetString()!)
                : throw new ReasonSharpException($"{where}: message {i} must have string 'role' and " +
                    $"'content'")).ToList();
    }

    /// <summary>Scores the rows, writing one JSON line per row to <paramref name="output"/>; returns the summary
    /// line.</summary>
    public static async Task<string> ScoreAsync(CompositeReward composite, IReadOnlyList<RewardRow> rows, string path,
        int batchSize,
        TextWriter output, CancellationToken cancellationToken = default)
    {
        var size = batchSize <= 0 ? rows.Count : batchSize;
        var perFunction = composite.Rewards.ToDictionary(r => r.Function.Name, _ => new List<double>());
        var totals = new List<double>();
        for (var start = 0; start < rows.Count; start += size)
        {
            var chunk = rows.Skip(start).Take(size).ToList();
            RewardScores scores;
            try
            {
                scores = await composite.ScoreAsync(chunk.Select(r => r.Input).ToList(), cancellationToken);
            }
            catch (RewardInputException e) when (e.Index >= 0 && e.Index < chunk.Count)
            {
                throw new ReasonSharpException($"{path}:{chunk[e.Index].Line}: field '{e.Field}': {e.Problem}");
            }
            for (var i = 0; i < chunk.Count; i++)
            {
                output.WriteLine(Json(w =>
                {
                    w.WriteNumber("line", chunk[i].Line);
                    w.WriteStartObject("rewards");
                    foreach (var f in scores.Functions)
                    {
                        if (f.Values[i] is { } v) w.WriteNumber(f.Name, Round(v));
                        else w.WriteNull(f.Name);
                    }
                    w.WriteEndObject();
                    w.WriteNumber("total", Round(scores.Total[i]));
                }));
                totals.Add(scores.Total[i]);
            }
            foreach (var f in scores.Functions) perFunction[f.Name].AddRange(f.Values.Where(v => v.HasValue).Select(v =>
                (double)v!.Value));
        }
        var metadata = new Dictionary<string, string>();
        foreach (var r in composite.Rewards)
            if (r.Function is IRewardMetadata described)
                foreach (var (key, value) in await described.GetMetadataAsync())
                    metadata[$"{r.Function.Name}.{key}"] = value;
        return Json(w =>
        {
            w.WriteStartObject("summary");
            w.WriteNumber("rows", rows.Count);
            w.WriteStartObject("rewards");
            foreach (var r in composite.Rewards)
            {
                var (mean, std, count) = CompositeReward.Statistics(perFunction[r.Function.Name]);
                w.WriteStartObject(r.Function.Name);
                w.WriteNumber("weight", Round(r.Weight));
                WriteNullable(w, "mean", mean);
                WriteNullable(w, "std", std);
                w.WriteNumber("count", count);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            var (totalMean, totalStd, _) = CompositeReward.Statistics(totals);
            w.WriteStartObject("total");
            WriteNullable(w, "mean", totalMean);
            WriteNullable(w, "std", totalStd);
            w.WriteEndObject();
            if (metadata.Count > 0)
            {
                w.WriteStartObject("metadata");
                foreach (var (key, value) in metadata) w.WriteString(key, value);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
    }

    static double Round(double value) => Math.Round(value, 6);

    static void WriteNullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v) w.WriteNumber(name, Round(v));
        else w.WriteNull(name);
    }

    static string Json(Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer =
            new Utf8JsonWriter(stream,
            new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
