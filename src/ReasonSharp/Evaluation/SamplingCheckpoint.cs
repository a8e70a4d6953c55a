using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Data;

namespace ReasonSharp.Evaluation;

/// <summary>The files of a rejection-sampling run: kept.jsonl → kept.stats.jsonl, kept.summary.json,
/// kept.jsonl.progress.json. <see cref="Kept"/> is the rows' file: SFT rows, or preference pairs (pairs.jsonl).
/// </summary>
public sealed record RejectionSamplingFiles(string Kept, string Stats, string Summary, string Progress)
{
    public static RejectionSamplingFiles For(string keptPath)
    {
        var full = Path.GetFullPath(keptPath);
        var stem = Path.Combine(Path.GetDirectoryName(full)!, Path.GetFileNameWithoutExtension(full));
        return new RejectionSamplingFiles(full, stem + ".stats.jsonl", stem + ".summary.json", full + ".progress.json");
    }
}

/// <summary>
/// Resumable append-only output. After each chunk the kept and stats rows are appended and flushed, then the progress
/// file is replaced atomically with the number of finished prompts, both files' byte lengths, the settings and a
/// chained hash of the finished prompts. On restart the files are cut back to the recorded lengths (dropping any
/// partial chunk) and work continues after the last finished prompt.
/// </summary>
internal sealed class SamplingCheckpoint
{
    readonly RejectionSamplingFiles _files;
    readonly JsonObject _settings;
    byte[] _promptsHash = [];

    public int FinishedPrompts { get; private set; }

    SamplingCheckpoint(RejectionSamplingFiles files, JsonObject settings)
    {
        _files = files;
        _settings = settings;
    }

    /// <summary>Opens the outputs: fresh (overwrite, or nothing there yet) or resumed from the progress file.</summary>
    public static SamplingCheckpoint Open(RejectionSamplingFiles files, JsonObject settings,
        IReadOnlyList<Example> examples, bool overwrite)
    {
        var checkpoint = new SamplingCheckpoint(files, settings);
        Directory.CreateDirectory(Path.GetDirectoryName(files.Kept)!);
        if (!overwrite && File.Exists(files.Progress)) checkpoint.Resume(examples);
        else
        {
            if (!overwrite && (NonEmpty(files.Kept) || NonEmpty(files.Stats)))
                throw new ReasonSharpException($"{files.Kept}: already exists without a progress file " +
                                               $"({Path.GetFileName(files.Progress)}), so it cannot be resumed; " +
                                               $"set overwrite (--overwrite) to replace it or choose another " +
                                               $"output path");
            Truncate(files.Kept, 0);
            Truncate(files.Stats, 0);
            File.Delete(files.Progress);
            checkpoint.Commit(0, []);
        }
        return checkpoint;
    }

    void Resume(IReadOnlyList<Example> examples)
    {
        JsonObject state;
        try { state = JsonNode.Parse(File.ReadAllText(_files.Progress)) as JsonObject ?? throw new JsonException("not an object"); }
        catch (JsonException e) { throw new ReasonSharpException($"{_files.Progress}: unreadable progress file ({e.Message}); delete it or set overwrite (--overwrite)", e); }
        int finished = Read<int>(state, "finished_prompts");
        long keptBytes = Read<long>(state, "kept_bytes"), statsBytes = Read<long>(state, "stats_bytes");
        var recorded = state["settings"] as JsonObject ?? throw Bad("settings", "missing");
        // Both ways: a key only one side has (pair options are recorded only with pairs) is a difference too.
        foreach (var key in _settings.Select(p => p.Key).Union(recorded.Select(p => p.Key)))
            if (!JsonNode.DeepEquals(_settings[key], recorded[key]))
                throw new ReasonSharpException($"{_files.Progress}: the run was started with " +
                    $"{key}={recorded[key]?.ToJsonString() ?? "nothing"}, now " +
                    $"{key}={_settings[key]?.ToJsonString() ?? "nothing"}; " +
                                               "resume with the same settings, or set overwrite (--overwrite) to " +
                                               "start again");
        if (finished > examples.Count)
            throw new ReasonSharpException($"{_files.Progress}: {finished} prompts were finished but the dataset " +
                $"now has only {examples.Count}");
        var hash = Chain([], examples.Take(finished));
        if (Convert.ToHexString(hash) != Read<string>(state, "prompts_hash"))
            throw new ReasonSharpException($"{_files.Progress}: the first {finished} prompts of the dataset differ " +
                                           $"from those already sampled; use the same dataset, or set overwrite " +
                                           $"(--overwrite) to start again");
        foreach (var (path, length) in new[] { (_files.Kept, keptBytes), (_files.Stats, statsBytes) })
        {
            long actual = File.Exists(path) ? new FileInfo(path).Length : -1;
            if (actual < length)
                throw new ReasonSharpException($"{path}: {(actual < 0 ? "missing" : $"{actual} bytes")}, but " +
                                               $"{length} bytes were recorded as finished in " +
                                               $"{Path.GetFileName(_files.Progress)}; the output was changed after " +
                                               $"the run; set overwrite (--overwrite) to start again");
            Truncate(path, length);
        }
        FinishedPrompts = finished;
        _promptsHash = hash;
    }

    /// <summary>Appends a finished chunk's rows, then records its prompts as finished.</summary>
    public void Commit(IReadOnlyList<Example> chunk, IEnumerable<JsonNode> keptRows, IEnumerable<JsonNode> statsRows)
    {
        Append(_files.Kept, keptRows);
        Append(_files.Stats, statsRows);
        Commit(FinishedPrompts + chunk.Count, chunk);
    }

    void Commit(int finished, IReadOnlyList<Example> newlyFinished)
    {
        _promptsHash = Chain(_promptsHash, newlyFinished);
        var state = new JsonObject
        {
            ["finished_prompts"] = finished,
            ["kept_bytes"] = new FileInfo(_files.Kept).Length,
            ["stats_bytes"] = new FileInfo(_files.Stats).Length,
            ["prompts_hash"] = Convert.ToHexString(_promptsHash),
            ["settings"] = _settings.DeepClone(),
        };
        AtomicFile.WriteAllText(_files.Progress,
            state.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        FinishedPrompts = finished;
    }

    /// <summary>h ← SHA-256(h ‖ prompt ‖ gold) over the prompts in order, so a prefix of the dataset can be checked
    /// incrementally.</summary>
    static byte[] Chain(byte[] hash, IEnumerable<Example> examples)
    {
        foreach (var example in examples)
        {
            var text = new StringBuilder();
            foreach (var m in example.Prompt) text.Append(m.Role).Append('\0').Append(m.Content).Append('\0');
            text.Append(example.GoldAnswer).Append('\0');
            hash = SHA256.HashData([.. hash, .. Encoding.UTF8.GetBytes(text.ToString())]);
        }
        return hash;
    }

    static void Append(string path, IEnumerable<JsonNode> rows)
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        foreach (var row in rows)
        {
            var bytes = Encoding.UTF8.GetBytes(row.ToJsonString(JsonlWriter.Options) + "\n");
            stream.Write(bytes);
        }
        stream.Flush(flushToDisk: true);
    }

    static void Truncate(string path, long length)
    {
        using var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        stream.SetLength(length);
        stream.Flush(flushToDisk: true);
    }

    static bool NonEmpty(string path) => File.Exists(path) && new FileInfo(path).Length > 0;

    T Read<T>(JsonObject state, string key)
    {
        try { return state[key] is { } node ? node.GetValue<T>() : throw Bad(key, "missing"); }
        catch (Exception e) when (e is InvalidOperationException or FormatException) { throw Bad(key, $"expected {typeof(T).Name.ToLowerInvariant()}"); }
    }

    ReasonSharpException Bad(string key, string problem) =>
        new($"{_files.Progress}: field '{key}': {problem}; delete the progress file or set overwrite (--overwrite) " +
            $"to start again");
}
