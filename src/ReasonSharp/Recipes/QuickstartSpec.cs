using YamlDotNet.RepresentationModel;

namespace ReasonSharp.Recipes;

/// <summary>A row of the quickstart table: an eval stage's metrics in one thinking mode, with the summed wall time of
/// the stages in <see cref="Time"/> (none: no time shown).</summary>
public sealed record QuickstartTableRow(string Label, string Eval, string Mode, IReadOnlyList<string> Time);

/// <summary>One curve of a report plot: a metric from a stage's metrics.jsonl.</summary>
public sealed record QuickstartSeries(string Stage, string Metric, string Label);

/// <summary>A report plot over training steps.</summary>
public sealed record QuickstartPlot(string Title, string Y, IReadOnlyList<QuickstartSeries> Series);

/// <summary>A report section with the first held-out completions of an eval stage.</summary>
public sealed record QuickstartSamples(string Title, string Eval);

/// <summary>
/// The `quickstart:` section of a pipeline recipe: what `reason quickstart` adds to running the stages. `quick` are
/// the --quick overrides (`stage.key=value`), `final_model` the stage whose model is copied to final/, `gguf` the
/// export stage, `table`, `plots` and `samples` the report. `reason pipeline` checks it and otherwise ignores it.
/// </summary>
public sealed record QuickstartSpec(string About, IReadOnlyList<string> Quick, string FinalModel, string Gguf,
    IReadOnlyList<QuickstartTableRow> Table, IReadOnlyList<QuickstartPlot> Plots,
    IReadOnlyList<QuickstartSamples> Samples)
{
    public const string Key = "quickstart";

    static readonly string[] Keys = ["about", "quick", "final_model", "gguf", "table", "plots", "samples"];

    /// <summary>Reads and checks the section against the recipe's stages; errors name file:line, the field and what
    /// was expected.</summary>
    public static QuickstartSpec Parse(YamlNode node, string source, IReadOnlyList<PipelineStage> stages)
    {
        var reader = new Reader(source, stages);
        var map = reader.Mapping(node, Key, Keys, ["final_model", "gguf", "table"]);
        string? Optional(string key) => map.TryGetValue(key, out var v) ? reader.Scalar(v, $"{Key}.{key}") : null;
        var quick = map.TryGetValue("quick", out var q)
            ? reader.List(q, $"{Key}.quick", (item, field) => reader.Override(item, field)) : [];
        var table = reader.List(map["table"], $"{Key}.table", (item, field) =>
        {
            var row = reader.Mapping(item, field, ["label", "eval", "mode", "time"], ["label", "eval"]);
            var mode = row.TryGetValue("mode", out var m) ? reader.Scalar(m, $"{field}.mode") : "think";
            if (mode is not ("think" or "no_think"))
                throw reader.Error(row["mode"], $"{field}.mode", $"'{mode}' is no thinking mode",
                    "think or no_think");
            var time = row.TryGetValue("time", out var t)
                ? reader.List(t, $"{field}.time", (s, f) => reader.Stage(s, f, null)) : [];
            return new QuickstartTableRow(reader.Scalar(row["label"], $"{field}.label"),
                reader.Stage(row["eval"], $"{field}.eval", "eval"), mode, time);
        }, nonEmpty: true);
        var plots = map.TryGetValue("plots", out var p) ? reader.List(p, $"{Key}.plots", (item, field) =>
        {
            var plot = reader.Mapping(item, field, ["title", "y", "series"], ["title", "y", "series"]);
            var series = reader.List(plot["series"], $"{field}.series", (s, f) =>
            {
                var curve = reader.Mapping(s, f, ["stage", "metric", "label"], ["stage", "metric", "label"]);
                return new QuickstartSeries(reader.Stage(curve["stage"], $"{f}.stage", null),
                    reader.Scalar(curve["metric"], $"{f}.metric"), reader.Scalar(curve["label"], $"{f}.label"));
            }, nonEmpty: true);
            return new QuickstartPlot(reader.Scalar(plot["title"], $"{field}.title"),
                reader.Scalar(plot["y"], $"{field}.y"), series);
        }) : [];
        var samples = map.TryGetValue("samples", out var sm) ? reader.List(sm, $"{Key}.samples", (item, field) =>
        {
            var section = reader.Mapping(item, field, ["title", "eval"], ["title", "eval"]);
            return new QuickstartSamples(reader.Scalar(section["title"], $"{field}.title"),
                reader.Stage(section["eval"], $"{field}.eval", "eval"));
        }) : [];
        return new QuickstartSpec(Optional("about") ?? "", quick,
            reader.Stage(map["final_model"], $"{Key}.final_model", null),
            reader.Stage(map["gguf"], $"{Key}.gguf", "export"), table, plots, samples);
    }

    sealed class Reader(string source, IReadOnlyList<PipelineStage> stages)
    {
        public ReasonSharpException Error(YamlNode node, string field, string problem, string expected) =>
            new($"{source}:{node.Start.Line}: {field}: {problem}; expected {expected}");

        public string Scalar(YamlNode node, string field) =>
            node is YamlScalarNode { Value: { Length: > 0 } v } ? v
                : throw Error(node, field, "not a single value", "a text or a name");

        public Dictionary<string, YamlNode> Mapping(YamlNode node, string field, string[] keys, string[] required)
        {
            if (node is not YamlMappingNode map)
                throw Error(node, field, "not a mapping", $"a mapping with {string.Join(", ", keys)}");
            var result = new Dictionary<string, YamlNode>();
            foreach (var (keyNode, value) in map.Children)
            {
                var key = (keyNode as YamlScalarNode)?.Value ?? "";
                if (!keys.Contains(key))
                    throw Error(keyNode, $"{field}.{key}", "unknown key", $"one of {string.Join(", ", keys)}");
                result[key] = value;
            }
            foreach (var key in required.Where(k => !result.ContainsKey(k)))
                throw Error(node, $"{field}.{key}", "missing", $"'{key}' (required: {string.Join(", ", required)})");
            return result;
        }

        public IReadOnlyList<T> List<T>(YamlNode node, string field, Func<YamlNode, string, T> item,
            bool nonEmpty = false)
        {
            if (node is not YamlSequenceNode list || (nonEmpty && list.Children.Count == 0))
                throw Error(node, field, node is YamlSequenceNode ? "empty" : "not a list",
                    nonEmpty ? "a list of one or more entries" : "a list");
            return list.Children.Select((child, i) => item(child, $"{field}[{i}]")).ToList();
        }

        /// <summary>A stage name of the recipe, of the given type when one is named.</summary>
        public string Stage(YamlNode node, string field, string? type)
        {
            var name = Scalar(node, field);
            var candidates = stages.Where(s => type is null || s.Type == type).Select(s => s.Name).ToList();
            if (!candidates.Contains(name))
                throw Error(node, field, stages.Any(s => s.Name == name)
                        ? $"stage '{name}' is no {type} stage" : $"no stage named '{name}'",
                    $"{(type is null ? "a stage" : $"an {type} stage")}: {string.Join(", ", candidates)}");
            return name;
        }

        /// <summary>A `stage.key=value` or `key=value` override, as `--set` takes.</summary>
        public string Override(YamlNode node, string field)
        {
            var text = Scalar(node, field);
            int eq = text.IndexOf('=');
            var key = eq > 0 ? text[..eq].Trim() : "";
            int dot = key.IndexOf('.');
            bool ok = dot < 0 ? key is "output_dir" or "seed" or "device"
                : stages.Any(s => s.Name == key[..dot]) && dot < key.Length - 1;
            if (!ok)
                throw Error(node, field, eq > 0 ? $"'{key}' names no stage option or pipeline key" : $"'{text}'",
                    $"stage.key=value with a stage of {string.Join(", ", stages.Select(s => s.Name))}, " +
                    "or output_dir, seed, device=value");
            return text;
        }
    }
}
