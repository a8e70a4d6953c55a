using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ReasonSharp.Jobs;
using ReasonSharp.Reporting;
using ReasonSharp.Rewards;
using ReasonSharp.Training;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ReasonSharp.Recipes;

/// <summary>A stage of a pipeline recipe: its name, type, optional explicit model, and its options (the rest of its
/// mapping).</summary>
public sealed record PipelineStage(string Name, string Type, string? Model, YamlMappingNode Options, int Line);

/// <summary>A finished stage as recorded in pipeline_state.json.</summary>
public sealed record FinishedStage(string Name, string Type, string Fingerprint,
    IReadOnlyDictionary<string, string> Outputs,
    IReadOnlyDictionary<string, double> Metrics, double Seconds);

/// <summary>
/// A multi-stage recipe (`reason pipeline --config recipes/r1.yaml`): stages run in order, each model-producing stage's
/// model feeding the next; `${stage.output}` refers to an earlier stage's outputs (`${data.train}`, `${sample.data}`).
/// Finished stages are recorded in pipeline_state.json, so a rerun resumes after the last finished stage (and an
/// interrupted training stage from its latest checkpoint).
/// </summary>
public sealed partial class Pipeline
{
    public const string StateFile = "pipeline_state.json";

    public string Source { get; }
    public string OutputDir { get; private set; }
    public long Seed { get; private set; } = 42;
    public string Device { get; private set; } = "auto";
    public IReadOnlyList<PipelineStage> Stages { get; }

    /// <summary>The recipe's `quickstart:` section (what `reason quickstart` adds), if it has one.</summary>
    public QuickstartSpec? Quickstart { get; private init; }

    /// <summary>Start over: first delete the previous run in the output folder (<see cref="ClearOutput"/>).</summary>
    public bool Overwrite { get; set; }

    /// <summary>The reward functions every stage can name (default: the built-ins).</summary>
    public RewardRegistry Rewards { get; set; } = RewardRegistry.CreateDefault();

    /// <summary>Test hook: called before a stage runs (throw to simulate a kill).</summary>
    public Action<PipelineStage>? StageStarting { get; set; }

    Pipeline(string source, string outputDir, IReadOnlyList<PipelineStage> stages) =>
        (Source, OutputDir, Stages) = (source, outputDir, stages);

    public static Pipeline Load(string path, IEnumerable<string>? overrides = null)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: pipeline recipe not found");
        return Parse(File.ReadAllText(path), path, overrides);
    }

    /// <summary>Parses a recipe. Overrides are `key=value` for the pipeline (output_dir, seed, device) or
    /// `stage.key=value` for a stage.</summary>
    public static Pipeline Parse(string yaml, string source, IEnumerable<string>? overrides = null)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(yaml)); }
        catch (YamlException e) { throw new ReasonSharpException($"{source}:{e.Start.Line}: malformed YAML: {e.InnerException?.Message ?? e.Message}", e); }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ReasonSharpException($"{source}: a pipeline recipe is a mapping with output_dir and stages");
        string outputDir = "runs/pipeline";
        long seed = 42;
        string device = "auto";
        var stages = new List<PipelineStage>();
        YamlNode? quickstart = null;
        foreach (var (keyNode, value) in root.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value;
            switch (key)
            {
                case "output_dir": outputDir = Scalar(value, source, key); break;
                case "seed": seed = long.Parse(Scalar(value, source, key), CultureInfo.InvariantCulture); break;
                case "device": device = Scalar(value, source, key); break;
                case "stages":
                    if (value is not YamlSequenceNode list) throw new ReasonSharpException($"{source}:{value.Start.Line}: 'stages' must be a list");
                    stages.AddRange(list.Children.Select(node => ParseStage(node, source)));
                    break;
                case QuickstartSpec.Key: quickstart = value; break;
                default:
                    throw new ReasonSharpException($"{source}:{keyNode.Start.Line}: unknown pipeline key '{key}'; " +
                        $"expected output_dir, seed, device, stages, {QuickstartSpec.Key}");
            }
        }
        if (stages.Count == 0) throw new ReasonSharpException($"{source}: the pipeline has no stages");
        var duplicate = stages.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ReasonSharpException($"{source}: stage name '{duplicate.Key}' is used " +
            $"twice");
        var pipeline = new Pipeline(source, outputDir, stages)
        {
            Seed = seed, Device = device,
            Quickstart = quickstart is null ? null : QuickstartSpec.Parse(quickstart, source, stages),
        };
        pipeline.Set(overrides ?? []);
        return pipeline;
    }

    /// <summary>Applies overrides as <see cref="Parse"/> does, in order.</summary>
    public void Set(IEnumerable<string> overrides)
    {
        foreach (var item in overrides) ApplyOverride(item);
    }

    static string Scalar(YamlNode node, string source, string key) =>
        node is YamlScalarNode { Value: { } v } ? v
            : throw new ReasonSharpException($"{source}:{node.Start.Line}: '{key}' must be a single value");

    static PipelineStage ParseStage(YamlNode node, string source)
    {
        if (node is not YamlMappingNode map) throw new ReasonSharpException($"{source}:{node.Start.Line}: each " +
            $"stage is a mapping with name and type");
        string? name = null, type = null, model = null;
        var options = new YamlMappingNode();
        foreach (var (keyNode, value) in map.Children)
        {
            switch (((YamlScalarNode)keyNode).Value)
            {
                case "name": name = Scalar(value, source, "name"); break;
                case "type": type = Scalar(value, source, "type"); break;
                case "model": model = Scalar(value, source, "model"); break;
                default: options.Add(keyNode, value); break;
            }
        }
        if (name is null
            || !NameRegex().IsMatch(name)) throw new ReasonSharpException($"{source}:{map.Start.Line}: a stage " +
            $"needs a 'name' of letters, digits, '_' or '-'");
        if (type is null || JobRegistry.Find(type) is null)
            throw new ReasonSharpException($"{source}:{map.Start.Line}: stage '{name}' has type '{type}'; expected " +
                $"one of {string.Join(", ", JobRegistry.Names)}");
        return new PipelineStage(name, type, model, options, (int)map.Start.Line);
    }

    void ApplyOverride(string item)
    {
        int eq = item.IndexOf('=');
        if (eq <= 0) throw new ReasonSharpException($"--set '{item}': expected key=value or stage.key=value");
        var key = item[..eq].Trim();
        var value = item[(eq + 1)..];
        int dot = key.IndexOf('.');
        if (dot < 0)
        {
            switch (key)
            {
                case "output_dir": OutputDir = value; return;
                case "seed": Seed = long.Parse(value, CultureInfo.InvariantCulture); return;
                case "device": Device = value; return;
                default:
                    throw new ReasonSharpException(
                        $"--set {key}: unknown pipeline key; expected output_dir, seed, device or STAGE.KEY");
            }
        }
        var stage = Stages.FirstOrDefault(s => s.Name == key[..dot])
            ?? throw new ReasonSharpException($"--set {key}: no stage named '{key[..dot]}'");
        var yaml = new YamlStream();
        yaml.Load(new StringReader(value.Length == 0 ? "''" : value));
        stage.Options.Children[new YamlScalarNode(key[(dot + 1)..])] = yaml.Documents[0].RootNode;
    }

    /// <summary>Runs the stages not yet finished. Returns every stage's record (finished earlier or now).</summary>
    public IReadOnlyList<FinishedStage> Run(ProgressDisplay? progress = null)
    {
        Native.TorchNative.EnsureLoaded();
        Check();
        progress ??= ProgressDisplay.ForConsole(false);
        if (PrepareOutputDir("output_dir") is { Count: > 0 } deleted)
            progress.WriteLine($"deleted the previous run in {OutputDir}: {RunFolder.Describe(deleted)}");
        var finished = LoadState();
        string? model = null;
        var outputs = new Dictionary<string, IReadOnlyDictionary<string, string>>();
        for (int i = 0; i < Stages.Count; i++)
        {
            var stage = Stages[i];
            var options = Substitute(stage.Options, outputs, stage);
            var fingerprint = Fingerprint(stage, options);
            if (i < finished.Count)
            {
                var done = finished[i];
                if (done.Name != stage.Name || done.Fingerprint != fingerprint)
                    throw new ReasonSharpException(
                        $"{Path.Combine(OutputDir, StateFile)}: stage '{stage.Name}' changed since it finished " +
                        "(or the stages were reordered), so resuming would mix two runs; expected a new output " +
                        "folder (output_dir; --out for quickstart), or --overwrite to delete the previous run and " +
                        "start over");
                progress.WriteLine($"[{i + 1}/{Stages.Count}] {stage.Name} ({stage.Type}): already finished, skipped");
                outputs[stage.Name] = done.Outputs;
                if (done.Outputs.TryGetValue("model", out var m)) model = m;
                continue;
            }
            progress.WriteLine($"[{i + 1}/{Stages.Count}] {stage.Name} ({stage.Type})");
            StageStarting?.Invoke(stage);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var context = Context(stage, stage.Model is null ? model : Resolve(stage.Model, outputs, stage), progress);
            var job = JobRegistry.Get(stage.Type, Source);
            var output = job.Run(JobRegistry.Bind(job, options, context, $"{Source} stage '{stage.Name}'"), context);
            var record =
                new FinishedStage(stage.Name, stage.Type, fingerprint, output.Outputs, output.Metrics,
                clock.Elapsed.TotalSeconds);
            finished.Add(record);
            SaveState(finished);
            outputs[stage.Name] = output.Outputs;
            if (output.Outputs.TryGetValue("model", out var produced)) model = produced;
            progress.WriteLine($"    done in {clock.Elapsed.TotalSeconds:F0}s{Describe(output.Metrics)}");
        }
        WriteReport(finished);
        return finished;
    }

    /// <summary>
    /// Makes <see cref="OutputDir"/> this pipeline's: with <see cref="Overwrite"/> the previous run is deleted first;
    /// otherwise a folder without pipeline_state.json that holds entries named like this pipeline's stages (or its
    /// report) is refused: it is no pipeline run to resume, and the stages would write over or mix with those files.
    /// Then pipeline_state.json is written before any stage runs, so a rerun resumes. <paramref name="option"/> names
    /// the folder's option in the message. Returns what was deleted.
    /// </summary>
    public IReadOnlyList<string> PrepareOutputDir(string option)
    {
        var statePath = Path.Combine(OutputDir, StateFile);
        IReadOnlyList<string> deleted = [];
        if (Overwrite) deleted = ClearOutput();
        else if (Directory.Exists(OutputDir) && !File.Exists(statePath))
        {
            var names = OwnNames();
            var clashes = Directory.EnumerateFileSystemEntries(OutputDir).Select(p => Path.GetFileName(p))
                .Where(names.Contains).Order(StringComparer.Ordinal).ToList();
            if (clashes.Count > 0)
                throw new ReasonSharpException(
                    $"{option} '{OutputDir}' already holds {RunFolder.Describe(clashes)} but no {StateFile}, so " +
                    "it is no run of this pipeline to resume and its stages would mix with those files; expected a " +
                    "new folder, or --overwrite to delete them and start there");
        }
        Directory.CreateDirectory(OutputDir);
        if (!File.Exists(statePath)) SaveState([]);
        return deleted;
    }

    /// <summary>
    /// Deletes the previous run: everything in a folder with pipeline_state.json (the pipeline wrote it all), else only
    /// the folders named like this pipeline's stages and the report. Returns the names deleted.
    /// </summary>
    public IReadOnlyList<string> ClearOutput()
    {
        if (!Directory.Exists(OutputDir)) return [];
        bool ours = File.Exists(Path.Combine(OutputDir, StateFile));
        var names = OwnNames();
        var deleted = new List<string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(OutputDir).Order(StringComparer.Ordinal).ToList())
        {
            var name = Path.GetFileName(path);
            if (!ours && !names.Contains(name)) continue;
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else File.Delete(path);
            deleted.Add(name);
        }
        return deleted;
    }

    /// <summary>The entries the pipeline writes into its folder: one folder per stage, and the report.</summary>
    HashSet<string> OwnNames() =>
        Stages.Select(s => s.Name).Append(RunReport.HtmlFile).Append(RunReport.PlotsFolder).ToHashSet();

    /// <summary>
    /// Binds every stage's options without running anything, so a typo in the last stage fails before hours of
    /// training.
    /// References to earlier stages' outputs are checked by name; their values are placeholders.
    /// </summary>
    public void Check()
    {
        var outputs = new Dictionary<string, IReadOnlyDictionary<string, string>>();
        foreach (var stage in Stages)
        {
            var options = Substitute(stage.Options, outputs, stage);
            var context = Context(stage, "(model of an earlier stage)", ProgressDisplay.ForConsole(true));
            JobRegistry.Bind(JobRegistry.Get(stage.Type, Source), options, context, $"{Source} stage '{stage.Name}'");
            outputs[stage.Name] = new PlaceholderOutputs(stage.Name);
        }
    }

    /// <summary>A stage's job context: its folder, the model it works on, the pipeline's seed, device and
    /// rewards.</summary>
    RunContext Context(PipelineStage stage, string? model, ProgressDisplay progress) => new()
    {
        Name = stage.Name,
        OutputDir = Path.Combine(OutputDir, stage.Name),
        Model = model,
        Seed = Seed,
        Device = Device,
        Progress = progress,
        Log = progress.WriteLine,
        Rewards = Rewards,
    };

    /// <summary>Any output key of a stage that has not run yet, as a readable placeholder.</summary>
    sealed class PlaceholderOutputs(string stage) : IReadOnlyDictionary<string, string>
    {
        public bool TryGetValue(string key, out string value) { value = $"({stage}.{key})"; return true; }
        public string this[string key] => $"({stage}.{key})";
        public IEnumerable<string> Keys => [];
        public IEnumerable<string> Values => [];
        public int Count => 0;
        public bool ContainsKey(string key) => true;
        public IEnumerator<KeyValuePair<string, string>> GetEnumerator() =>
            Enumerable.Empty<KeyValuePair<string, string>>().GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    static string Describe(IReadOnlyDictionary<string, double> metrics) =>
        metrics.Count == 0 ? "" : ": "
            + string.Join(", ",
            metrics.Select(kv => $"{kv.Key} {kv.Value.ToString("G4", CultureInfo.InvariantCulture)}"));

    /// <summary>Replaces ${stage.output} in every scalar of the stage's options with that stage's recorded
    /// output.</summary>
    YamlMappingNode Substitute(YamlMappingNode options, Dictionary<string, IReadOnlyDictionary<string, string>> outputs,
        PipelineStage stage)
    {
        YamlNode Walk(YamlNode node) => node switch
        {
            YamlScalarNode s when s.Value is { } v && v.Contains("${") =>
                new YamlScalarNode(Resolve(v, outputs, stage)) { Style = s.Style },
            YamlSequenceNode seq => new YamlSequenceNode(seq.Children.Select(Walk)) { Style = seq.Style },
            YamlMappingNode map =>
                new YamlMappingNode(map.Children.Select(kv =>
                new KeyValuePair<YamlNode, YamlNode>(kv.Key, Walk(kv.Value)))),
            _ => node,
        };
        return (YamlMappingNode)Walk(options);
    }

    string Resolve(string text, Dictionary<string, IReadOnlyDictionary<string, string>> outputs, PipelineStage stage) =>
        ReferenceRegex().Replace(text, m =>
        {
            var (name, key) = (m.Groups[1].Value, m.Groups[2].Value);
            if (name == "pipeline" && key == "output_dir") return OutputDir;
            if (!outputs.TryGetValue(name, out var produced))
                throw new ReasonSharpException($"{Source}:{stage.Line}: stage '{stage.Name}' refers to " +
                    $"${{{name}.{key}}}, but no earlier stage is named '{name}'");
            return produced.TryGetValue(key, out var value) ? value
                : throw new ReasonSharpException($"{Source}:{stage.Line}: stage '{stage.Name}' refers to " +
                    $"${{{name}.{key}}}; stage '{name}' produced {string.Join(", ", produced.Keys)}");
        });

    string Fingerprint(PipelineStage stage, YamlMappingNode options)
    {
        var text =
            new StringBuilder().Append(stage.Type).Append('|').Append(stage.Model).Append('|').Append(Seed).Append('|');
        var serializer = new YamlStream(new YamlDocument(options));
        using var writer = new StringWriter(text);
        serializer.Save(writer, assignAnchors: false);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }

    List<FinishedStage> LoadState()
    {
        var path = Path.Combine(OutputDir, StateFile);
        if (!File.Exists(path)) return [];
        try { return JsonSerializer.Deserialize<List<FinishedStage>>(File.ReadAllText(path)) ?? []; }
        catch (JsonException e) { throw new ReasonSharpException($"{path}: malformed pipeline state: {e.Message}", e); }
    }

    void SaveState(List<FinishedStage> finished) =>
        AtomicFile.WriteAllText(Path.Combine(OutputDir, StateFile),
            JsonSerializer.Serialize(finished, new JsonSerializerOptions { WriteIndented = true }));

    void WriteReport(IReadOnlyList<FinishedStage> finished)
    {
        var report = new RunReport($"Pipeline {Path.GetFileName(Source)}");
        report.AddTable("Stages", ["stage", "type", "seconds", "outputs", "metrics"],
            finished.Select(f => (IReadOnlyList<string>)
            [f.Name, f.Type, f.Seconds.ToString("F0", CultureInfo.InvariantCulture),
                string.Join(", ", f.Outputs.Select(kv => $"{kv.Key}: {kv.Value}")),
             Describe(f.Metrics).TrimStart(':', ' ')]));
        report.Write(OutputDir);
    }

    [GeneratedRegex(@"\$\{([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)\}")]
    private static partial Regex ReferenceRegex();

    [GeneratedRegex(@"^[A-Za-z0-9_-]+$")]
    private static partial Regex NameRegex();
}
