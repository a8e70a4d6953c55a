using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ReasonSharp.Configuration;

/// <summary>
/// Binds YAML recipes and `--set key=value` overrides onto options records. Keys are TRL's snake_case names of the
/// record's PascalCase properties; an unknown key, a wrong type or a bad value is an error naming the file, line and
/// key.
/// </summary>
public static class OptionsBinder
{
    /// <summary>Reads a YAML mapping from <paramref name="path"/> (optionally one section of it) onto
    /// <paramref name="start"/>.</summary>
    public static T LoadFile<T>(string path, T start, string? section = null) where T : class
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: recipe file not found");
        var root = ParseYaml(File.ReadAllText(path), path);
        if (section is not null)
        {
            if (root is not YamlMappingNode map
                || !map.Children.TryGetValue(new YamlScalarNode(section), out var inner))
                throw new ReasonSharpException($"{path}: no '{section}' section");
            root = inner;
        }
        return Apply(start, root, path);
    }

    /// <summary>Applies `key=value` overrides (value in YAML syntax: `0.5`, `true`, `[accuracy, format]`).</summary>
    public static T ApplyOverrides<T>(T start, IEnumerable<string> overrides) where T : class
    {
        var result = start;
        foreach (var item in overrides)
        {
            int eq = item.IndexOf('=');
            if (eq <= 0) throw new ReasonSharpException($"--set '{item}': expected key=value");
            var key = item[..eq].Trim();
            var node = ParseYaml(item[(eq + 1)..], $"--set {key}") ?? new YamlScalarNode("");
            result = Apply(result, new YamlMappingNode(new YamlScalarNode(key), node), "--set");
        }
        return result;
    }

    /// <summary>Applies a parsed YAML mapping onto a copy of <paramref name="start"/>.</summary>
    public static T Apply<T>(T start, YamlNode? node, string source) where T : class
    {
        if (node is null) return start;
        if (node is not YamlMappingNode map) throw Error(source, node, "the recipe must be a mapping of option: value");
        var copy = Clone(start);
        var properties = Settable(start.GetType());
        foreach (var (keyNode, valueNode) in map.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            if (!properties.TryGetValue(key, out var path))
                throw Error(source, keyNode, $"unknown option '{key}'{Suggestion(key, properties.Keys)}; valid " +
                    $"options: {string.Join(", ", properties.Keys.Order())}");
            Set(copy, path, Convert(valueNode, path[^1].PropertyType, source, key));
        }
        return copy;
    }

    /// <summary>The options as YAML with snake_case keys, to save beside a run.</summary>
    public static string ToYaml(object options)
    {
        var text = new StringBuilder();
        foreach (var (key, path) in Settable(options.GetType()).OrderBy(p => p.Key))
            text.Append(key).Append(": ").AppendLine(Format(path.Aggregate((object?)options, (o, p) => p.GetValue(o))));
        return text.ToString();
    }

    public static string SnakeCase(string name)
    {
        var text = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0
                && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]))
                || char.IsDigit(name[i - 1])))
                text.Append('_');
            text.Append(char.ToLowerInvariant(name[i]));
        }
        return text.ToString();
    }

    /// <summary>Each snake_case key and the properties that lead to it (one, or more through [Flatten]).</summary>
    static Dictionary<string, PropertyInfo[]> Settable(Type type)
    {
        var keys = new Dictionary<string, PropertyInfo[]>();
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                     .Where(p => p.CanWrite && p.SetMethod!.IsPublic && p.GetIndexParameters().Length == 0))
        {
            if (p.GetCustomAttribute<FlattenAttribute>() is null) keys.Add(SnakeCase(p.Name), [p]);
            else
                foreach (var (key, inner) in Settable(p.PropertyType))
                    keys.Add(key, [p, .. inner]);
        }
        return keys;
    }

    /// <summary>Sets the property at the end of <paramref name="path"/> on <paramref name="target"/> (a fresh copy),
    /// copying each flattened record on the way.</summary>
    static void Set(object target, PropertyInfo[] path, object? value)
    {
        if (path.Length == 1)
        {
            path[0].SetValue(target, value);
            return;
        }
        var inner = Clone(path[0].GetValue(target)!);
        Set(inner, path[1..], value);
        path[0].SetValue(target, inner);
    }

    static T Clone<T>(T value) where T : class
    {
        var clone = value.GetType().GetMethod("<Clone>$");
        return clone is null ? value : (T)clone.Invoke(value, null)!;
    }

    static YamlNode? ParseYaml(string text, string source)
    {
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            return stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
        }
        catch (YamlException e)
        {
            throw new ReasonSharpException($"{source}:{e.Start.Line}: malformed YAML: " +
                $"{e.InnerException?.Message ?? e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new ReasonSharpException($"{source}: malformed YAML (unclosed bracket or quote?): {e.Message}", e);
        }
    }

    static object? Convert(YamlNode node, Type type, string source, string key)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (node is YamlScalarNode { Value: null or "" or "null" or "~" }
            && (underlying is not null || !type.IsValueType))
            return type == typeof(string) && node is YamlScalarNode { Value: "" } ? "" : null;
        type = underlying ?? type;

        if (type == typeof(IReadOnlyDictionary<string, object?>))
        {
            if (node is not YamlMappingNode) throw Error(source, node,
                $"option '{key}' must be a mapping, e.g. {{enable_thinking: false}}");
            return Value(node);
        }
        if (type != typeof(string) && ElementType(type) is { } element)
        {
            if (node is not YamlSequenceNode sequence) throw Error(source, node, $"option '{key}' must be a list");
            var items = sequence.Children.Select(c => Convert(c, element, source, key)).ToArray();
            var array = Array.CreateInstance(element, items.Length);
            for (int i = 0; i < items.Length; i++) array.SetValue(items[i], i);
            return array;
        }
        if (node is not YamlScalarNode scalar) throw Error(source, node,
            $"option '{key}' must be a single value of type {Describe(type)}");
        // A quoted string is taken as written (step_separator: " ки" keeps its space); other values are trimmed.
        var quoted = scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted;
        var text = quoted && type == typeof(string) ? scalar.Value! : scalar.Value!.Trim();
        var ok = TryParse(text, type, out var value);
        return ok ? value : throw Error(source, node, $"option '{key}' must be {Describe(type)}, got '{text}'");
    }

    /// <summary>A YAML value as the template variables take it: mappings as dictionaries, sequences as lists, plain
    /// scalars as bool, long, double or null where they read so (YAML 1.2 core schema), else strings.</summary>
    static object? Value(YamlNode node) => node switch
    {
        YamlMappingNode map => map.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value ?? "",
            kv => Value(kv.Value), StringComparer.Ordinal) as IReadOnlyDictionary<string, object?>,
        YamlSequenceNode seq => seq.Children.Select(Value).ToList(),
        YamlScalarNode { Style: ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted } quoted => quoted.Value ?? "",
        YamlScalarNode scalar => scalar.Value switch
        {
            null or "" or "null" or "~" => null,
            "true" or "True" => true,
            "false" or "False" => false,
            var t when long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
            var t when double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            var t => t,
        },
        _ => null,
    };

    /// <summary>A YAML (or JSON) mapping given on a command line, as <see cref="Value"/> reads it (e.g.
    /// --chat-template-kwargs '{enable_thinking: false}').</summary>
    public static IReadOnlyDictionary<string, object?> ParseMapping(string text, string source)
    {
        var node = ParseYaml(text, source);
        return node is YamlMappingNode ? (IReadOnlyDictionary<string, object?>)Value(node)!
            : throw new ReasonSharpException($"{source}: expected a mapping, e.g. {{enable_thinking: false}}; got " +
                $"'{text}'");
    }

    static Type? ElementType(Type type)
    {
        if (type.IsArray) return type.GetElementType();
        if (type.IsGenericType && type.GetGenericTypeDefinition() is var d
            && (d == typeof(IReadOnlyList<>) || d == typeof(IList<>) || d == typeof(IEnumerable<>)
            || d == typeof(List<>)))
            return type.GetGenericArguments()[0];
        return null;
    }

    static bool TryParse(string text, Type type, out object? value)
    {
        value = null;
        var inv = CultureInfo.InvariantCulture;
        if (type == typeof(string)) { value = text; return true; }
        if (type == typeof(bool))
        {
            var b = text.ToLowerInvariant() switch { "true" or "yes" or "on" => (bool?)true, "false" or "no" or "off" => false, _ => null };
            value = b;
            return b is not null;
        }
        if (type == typeof(int) && int.TryParse(text, NumberStyles.Integer, inv, out var i)) { value = i; return true; }
        if (type == typeof(long) && long.TryParse(text, NumberStyles.Integer, inv, out var l)) { value = l; return true; }
        if (type == typeof(double) && double.TryParse(text, NumberStyles.Float, inv, out var d)) { value = d; return true; }
        if (type == typeof(float) && float.TryParse(text, NumberStyles.Float, inv, out var f)) { value = f; return true; }
        if (type.IsEnum)
        {
            var match =
                Enum.GetNames(type).FirstOrDefault(n => SnakeCase(n) == text.ToLowerInvariant()
                || n.Equals(text, StringComparison.OrdinalIgnoreCase));
            if (match is null) return false;
            value = Enum.Parse(type, match);
            return true;
        }
        return false;
    }

    static string Describe(Type type) => type switch
    {
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(int) || type == typeof(long) => "an integer",
        _ when type == typeof(double) || type == typeof(float) => "a number",
        _ when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type).Select(SnakeCase)),
        _ => type.Name,
    };

    static string Format(object? value) => value switch
    {
        null => "null",
        string s => s.Length == 0 || s.IndexOfAny([':', '#', '[', ']', '{', '}', ',', '\n', '"', '\'']) >= 0
            || s.Trim() != s ? "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n") + "\"" : s,
        bool b => b ? "true" : "false",
        Enum e => SnakeCase(e.ToString()),
        IReadOnlyDictionary<string, object?> map =>
            "{" + string.Join(", ", map.Select(kv => $"{Format(kv.Key)}: {Format(kv.Value)}")) + "}",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(Format)) + "]",
        _ => value.ToString() ?? "",
    };

    static ReasonSharpException Error(string source, YamlNode node, string message) =>
        new(source == "--set" || source.StartsWith("--set") ? $"{source}: {message}"
            : $"{source}:{node.Start.Line}: {message}");

    static string Suggestion(string key, IEnumerable<string> known)
    {
        var best = known.Select(k => (k, d: Distance(key, k))).OrderBy(p => p.d).FirstOrDefault();
        return best.k is not null && best.d <= Math.Max(2, key.Length / 3) ? $" (did you mean '{best.k}'?)" : "";
    }

    static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] =
                    Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1),
                    d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
