using System.Text.RegularExpressions;

namespace ReasonSharp.Data;

/// <summary>
/// A dataset saved in the Hugging Face Hub layout: `data/train-00000-of-00001.parquet`, `data/test-*.jsonl`,
/// `train.jsonl` at the top, or one sub-folder per configuration (`main/train-*.parquet`). Split names come from the
/// file names; shards of a split are read in order.
/// </summary>
public sealed partial class HfDatasetFolder
{
    static readonly HashSet<string> KnownSplits = ["train", "test", "validation", "valid", "dev", "eval", "evaluation"];

    HfDatasetFolder(string root, string config, IReadOnlyDictionary<string, IReadOnlyList<string>> splits)
    {
        Root = root;
        Config = config;
        Splits = splits;
    }

    public string Root { get; }

    /// <summary>The configuration folder used ("" for the top level or `data/`).</summary>
    public string Config { get; }

    /// <summary>Split name to its shard files, sorted.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Splits { get; }

    /// <summary>Finds the splits under <paramref name="root"/>. With several configurations, <paramref name="config"/>
    /// picks one.</summary>
    public static HfDatasetFolder Open(string root, string? config = null)
    {
        if (!Directory.Exists(root)) throw new ReasonSharpException($"{root}: dataset folder not found");
        var byConfig = new SortedDictionary<string, SortedDictionary<string, List<string>>>(StringComparer.Ordinal);
        foreach (var (file, configName, inDataFolder) in CandidateFiles(root))
        {
            var split = SplitOf(Path.GetFileName(file), inDataFolder);
            if (split == null) continue;
            var splits = byConfig.TryGetValue(configName, out var s) ? s
                : byConfig[configName] = new(StringComparer.Ordinal);
            (splits.TryGetValue(split, out var files) ? files : splits[split] = []).Add(file);
        }
        if (byConfig.Count == 0)
            throw new ReasonSharpException($"{root}: no data files found; expected " +
                $"data/<split>-00000-of-0000N.parquet (or .jsonl/.json) or <split>.jsonl");
        var chosen = config ?? (byConfig.Count == 1 ? byConfig.Keys.First() : byConfig.ContainsKey("") ? "" : null);
        if (chosen == null || !byConfig.TryGetValue(chosen, out var chosenSplits))
        {
            var configs = string.Join(", ", byConfig.Keys.Select(k => k == "" ? "(top level)" : k));
            throw new ReasonSharpException(config == null
                ? $"{root}: the folder has configurations: {configs}; pick one with --config"
                : $"{root}: configuration '{config}' not found; the folder has configurations: {configs}");
        }
        return new HfDatasetFolder(root, chosen, chosenSplits.ToDictionary(
            kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value.Order(StringComparer.Ordinal).ToList()));
    }

    /// <summary>The shard files of a split, or an error listing the splits there are.</summary>
    public IReadOnlyList<string> FilesOf(string split) => Splits.TryGetValue(split, out var files)
        ? files
        : throw new ReasonSharpException($"{Root}: split '{split}' not found; splits present: " +
            $"{string.Join(", ", Splits.Keys)}");

    /// <summary>"train" when present, else the only split, else an error.</summary>
    public string DefaultSplit() =>
        Splits.ContainsKey("train") ? "train"
        : Splits.Count == 1 ? Splits.Keys.First()
        : throw new ReasonSharpException($"{Root}: no 'train' split; pick one of: {string.Join(", ", Splits.Keys)}");

    public IEnumerable<DataRow> ReadSplit(string split, BadRowLog? bad = null) =>
        FilesOf(split).SelectMany(file => DatasetFiles.ReadFile(file, bad));

    // Files at the top, in data/, in <config>/ and in <config>/data/; hidden folders (.git, .cache) are not searched.
    static IEnumerable<(string File, string Config, bool InDataFolder)> CandidateFiles(string root)
    {
        foreach (var file in Directory.EnumerateFiles(root)) yield return (file, "", false);
        foreach (var folder in Directory.EnumerateDirectories(root).Where(d => !Path.GetFileName(d).StartsWith('.')))
        {
            var name = Path.GetFileName(folder);
            var isData = name == "data";
            foreach (var file in Directory.EnumerateFiles(folder)) yield return (file, isData ? "" : name, isData);
            var data = Path.Combine(folder, "data");
            if (!isData && Directory.Exists(data))
                foreach (var file in Directory.EnumerateFiles(data)) yield return (file, name, true);
        }
    }

    // "train-00000-of-00003.parquet", "train-00000-of-00001-3f2a1b9c.parquet" (older Hub files), "test.jsonl".
    static string? SplitOf(string fileName, bool inDataFolder)
    {
        if (DatasetFiles.FormatOf(fileName) == null) return null;
        var match = ShardName().Match(fileName);
        if (!match.Success) return null;
        var split = match.Groups["split"].Value;
        var sharded = match.Groups["shard"].Success;
        return sharded || inDataFolder || KnownSplits.Contains(split) ? split : null;
    }

    [GeneratedRegex(@"^(?<split>[A-Za-z0-9_]+)(?<shard>-\d{5}-of-\d{5})?(?:-[0-9a-f]{6,})?\.(?:parquet|jsonl|ndjson|json)$")]
    private static partial Regex ShardName();
}
