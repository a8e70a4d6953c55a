using System.Globalization;

namespace ReasonSharp.Rewards;

/// <summary>
/// Options of one reward function, as text (from a recipe's YAML or the CLI's "name(key=value,…)"), with typed
/// getters. Keys are TRL/Open-R1's snake_case names. A key that no getter asked for is an error.
/// </summary>
public sealed class RewardOptions
{
    readonly IReadOnlyDictionary<string, string> _values;
    readonly HashSet<string> _known = new(StringComparer.Ordinal);

    public RewardOptions(IReadOnlyDictionary<string, string>? values = null) =>
        _values = values ?? new Dictionary<string, string>();

    public static RewardOptions None => new();

    public string GetString(string key, string defaultValue) => GetOptionalString(key) ?? defaultValue;

    public string? GetOptionalString(string key)
    {
        _known.Add(key);
        return _values.TryGetValue(key, out var value) ? value : null;
    }

    public double GetDouble(string key, double defaultValue) => Parse(key, defaultValue,
        (string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v)
            && double.IsFinite(v), "a number");

    public int GetInt(string key, int defaultValue) => Parse(key, defaultValue,
        (string s, out int v) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v),
        "an integer");

    public bool GetBool(string key, bool defaultValue) => Parse(key, defaultValue, bool.TryParse, "true or false");

    delegate bool TryParser<T>(string text, out T value);

    T Parse<T>(string key, T defaultValue, TryParser<T> parse, string expected)
    {
        var text = GetOptionalString(key);
        if (text == null) return defaultValue;
        return parse(text.Trim(), out var value) ? value
            : throw new ReasonSharpException($"option '{key}': expected {expected}, got '{text}'");
    }

    /// <summary>Fails on keys no getter has read, naming the reward and its known options.</summary>
    public void ThrowIfUnused(string reward)
    {
        var unknown = _values.Keys.Where(k => !_known.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new ReasonSharpException($"unknown option '{unknown[0]}' for reward '{reward}'; known options: " +
                                           (_known.Count == 0 ? "none"
                                               : string.Join(", ", _known.Order(StringComparer.Ordinal))));
    }
}

/// <summary>A reward named in a recipe or on the command line, with its weight and options.</summary>
public sealed record RewardSpec(string Name, float Weight = 1f, IReadOnlyDictionary<string, string>? Options = null)
{
    /// <summary>
    /// Parses "accuracy,format(style=think),cosine(max_len=512,weight=0.5)": comma-separated names, each with
    /// optional key=value options in parentheses; the option "weight" sets the weight.
    /// </summary>
    public static IReadOnlyList<RewardSpec> ParseList(string text)
    {
        var specs = new List<RewardSpec>();
        foreach (var item in SplitTopLevel(text, ','))
        {
            var trimmed = item.Trim();
            if (trimmed.Length == 0) throw new ReasonSharpException($"empty reward name in '{text}'");
            var open = trimmed.IndexOf('(');
            var name = (open < 0 ? trimmed : trimmed[..open]).Trim();
            var options = new Dictionary<string, string>(StringComparer.Ordinal);
            if (open >= 0)
            {
                if (!trimmed.EndsWith(')')) throw new ReasonSharpException($"reward '{name}': options must end " +
                    $"with ')' in '{trimmed}'");
                foreach (var pair in SplitTopLevel(trimmed[(open + 1)..^1], ','))
                {
                    if (pair.Trim().Length == 0) continue;
                    var eq = pair.IndexOf('=');
                    if (eq <= 0) throw new ReasonSharpException($"reward '{name}': option '{pair.Trim()}' must be " +
                        $"key=value");
                    options[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
                }
            }
            var weight = 1f;
            if (options.Remove("weight", out var w) &&
                !float.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out weight))
                throw new ReasonSharpException($"reward '{name}': weight must be a number, got '{w}'");
            specs.Add(new RewardSpec(name, weight, options));
        }
        return specs;
    }

    static IEnumerable<string> SplitTopLevel(string text, char separator)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')') depth--;
            else if (text[i] == separator && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        yield return text[start..];
    }
}
