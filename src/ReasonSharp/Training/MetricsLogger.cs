using System.Globalization;
using System.Text.Json.Nodes;
using ReasonSharp.Reporting;

namespace ReasonSharp.Training;

/// <summary>
/// Sends each log line to metrics.jsonl (one JSON object per line), to a TensorBoard event file (train/… and eval/…
/// tags, as transformers' TensorBoard callback names them) and to the console.
/// </summary>
public sealed class MetricsLogger : IDisposable
{
    public const string MetricsFile = "metrics.jsonl";
    public const string TensorBoardFolder = "tensorboard";

    readonly string _path;
    readonly StreamWriter _jsonl;
    readonly TensorBoardWriter _tensorBoard;
    readonly ProgressDisplay _progress;

    /// <param name="history">Lines logged before a resume; metrics.jsonl is rewritten to exactly these before
    /// appending.</param>
    public MetricsLogger(string outputDir, ProgressDisplay progress, IReadOnlyList<JsonObject> history,
        long resumedStep)
    {
        var path = _path = Path.Combine(outputDir, MetricsFile);
        AtomicFile.WriteAllText(path, string.Concat(history.Select(h => h.ToJsonString() + "\n")));
        _jsonl = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        _tensorBoard = new TensorBoardWriter(Path.Combine(outputDir, TensorBoardFolder));
        if (resumedStep > 0) _tensorBoard.WriteSessionStart(resumedStep + 1);
        _progress = progress;
    }

    public void Log(JsonObject line)
    {
        var text = line.ToJsonString();
        try { _jsonl.WriteLine(text); }
        catch (IOException e) when (DiskFullException.IsDiskFull(e))
        {
            throw DiskFullException.Appending(_path, e, text.Length + 1);
        }
        long step = line["step"]!.GetValue<long>();
        var scalars = line.Where(kv => kv.Key != "step" && MetricsLog.Number(kv.Value) is not null)
            .Select(kv => KeyValuePair.Create(TensorBoardTag(kv.Key), MetricsLog.Number(kv.Value)!.Value)).ToList();
        try { _tensorBoard.WriteScalars(step, scalars); }
        catch (IOException e) when (DiskFullException.IsDiskFull(e))
        {
            throw DiskFullException.Appending(_tensorBoard.Path, e, 0);
        }
        _progress.WriteLine(string.Join("  ", line.Select(kv => $"{kv.Key}={Format(kv.Value)}")));
    }

    static string TensorBoardTag(string key) => key.StartsWith("eval_") ? $"eval/{key[5..]}" : $"train/{key}";

    static string Format(JsonNode? value) =>
        MetricsLog.Number(value) is { } d
            ? d.ToString(Math.Abs(d) is > 0 and < 1e-3 ? "0.###e+0" : "0.####", CultureInfo.InvariantCulture)
        : value?.ToJsonString() ?? "null";

    public void Dispose()
    {
        // After a full disk was reported, closing must not throw a second error over that report.
        try { _jsonl.Dispose(); }
        catch (IOException e) when (DiskFullException.IsDiskFull(e)) { }
        try { _tensorBoard.Dispose(); }
        catch (IOException e) when (DiskFullException.IsDiskFull(e)) { }
    }
}
