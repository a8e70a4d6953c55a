using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ReasonSharp.Templates;

internal delegate object? FilterFunction(Renderer renderer, object? value, Args args);

/// <summary>Jinja2's built-in filters, with transformers' tojson (ensure_ascii off, indent, separators,
/// sort_keys).</summary>
internal static partial class Filters
{
    public static readonly Dictionary<string, FilterFunction> All = new(StringComparer.Ordinal)
    {
        ["abs"] = Abs,
        ["attr"] = (r, v, a) =>
        {
            a.Check("attr", "name");
            return Access.GetAttrOnly(v, Py.Str(a.Get(0, "name", null)));
        },
        ["batch"] = Batch,
        ["capitalize"] = (r, v, a) => Text(v, PyString.Capitalize),
        ["center"] = (r, v, a) =>
        {
            a.Check("center", "width");
            return PyString.Pad(Py.Str(v), Int(a.Get(0, "width", 80L), "center"), ' ', 0);
        },
        ["count"] = (r, v, a) => (long)Py.Len(v),
        ["d"] = Default,
        ["default"] = Default,
        ["dictsort"] = DictSort,
        ["e"] = (r, v, a) => Markup.Escape(v),
        ["escape"] = (r, v, a) => Markup.Escape(v),
        ["first"] = First,
        ["float"] = ToFloat,
        ["forceescape"] = (r, v, a) => new Markup(Markup.EscapeText(Py.Str(v))),
        ["format"] = Format,
        ["groupby"] = GroupBy,
        ["indent"] = Indent,
        ["int"] = ToInt,
        ["items"] = Items,
        ["join"] = Join,
        ["last"] = Last,
        ["length"] = (r, v, a) => (long)Py.Len(v),
        ["list"] = (r, v, a) => Py.Iterate(v).ToList(),
        ["lower"] = (r, v, a) => Text(v, PyString.Lower),
        ["map"] = Map,
        ["max"] = (r, v, a) => MinOrMax(v, a, "max"),
        ["min"] = (r, v, a) => MinOrMax(v, a, "min"),
        ["reject"] = (r, v, a) => SelectOrReject(r, v, a, reject: true, byAttribute: false),
        ["rejectattr"] = (r, v, a) => SelectOrReject(r, v, a, reject: true, byAttribute: true),
        ["replace"] = Replace,
        ["reverse"] = Reverse,
        ["round"] = Round,
        ["safe"] = (r, v, a) => v as Markup ?? new Markup(Py.Str(v)),
        ["select"] = (r, v, a) => SelectOrReject(r, v, a, reject: false, byAttribute: false),
        ["selectattr"] = (r, v, a) => SelectOrReject(r, v, a, reject: false, byAttribute: true),
        ["slice"] = Slice,
        ["sort"] = Sort,
        ["string"] = (r, v, a) => v as Markup ?? (object)Py.Str(v),
        ["striptags"] = StripTags,
        ["sum"] = Sum,
        ["title"] = (r, v, a) => Text(v, Title),
        ["tojson"] = ToJson,
        ["trim"] = (r, v, a) =>
        {
            a.Check("trim", "chars");
            return Text(v, s => PyString.Strip(s, a.Get(0, "chars", null) is { } c ? Py.Str(c) : null));
        },
        ["truncate"] = Truncate,
        ["unique"] = Unique,
        ["upper"] = (r, v, a) => Text(v, PyString.Upper),
        ["wordcount"] = (r, v, a) => (long)WordPattern().Count(Py.Str(v)),
    };

    /// <summary>Applies a filter by name (map('lower') and filter blocks use this).</summary>
    public static object? Apply(Renderer renderer, string name, object? value, Args args) =>
        All.TryGetValue(name, out var filter) ? filter(renderer, value, args)
            : throw PyError.Runtime($"No filter named '{name}'.");

    static object Text(object? value, Func<string, string> transform) =>
        value is Markup m ? new Markup(transform(m.Value)) : transform(Py.Str(value));

    static long Int(object? value, string filter) =>
        value is long or bool ? Py.ToLong(value)
            : throw PyError.TypeError($"{filter}: expected an integer, got {Py.TypeName(value)}");

    static object? Abs(Renderer r, object? v, Args a) => v switch
    {
        long l => l == long.MinValue ? throw new PyError("OverflowError", "integer overflow") : (object)Math.Abs(l),
        double d => Math.Abs(d),
        bool b => b ? 1L : 0L,
        Undefined u => throw u.Fail(),
        _ => throw PyError.TypeError($"bad operand type for abs(): '{Py.TypeName(v)}'"),
    };

    static object? Default(Renderer r, object? v, Args a)
    {
        a.Check("default", "default_value", "boolean");
        var fallback = a.Get(0, "default_value", "");
        return v is Undefined || (Py.Truthy(a.Get(1, "boolean", false)) && !Py.Truthy(v)) ? fallback : v;
    }

    static object? First(Renderer r, object? v, Args a)
    {
        foreach (var item in Py.Iterate(v)) return item;
        return Undefined.WithHint("No first item, sequence was empty.");
    }

    static object? Last(Renderer r, object? v, Args a)
    {
        switch (v)
        {
            case PyIterator: throw PyError.TypeError("'generator' object is not reversible");
            case Undefined: return Undefined.WithHint("No last item, sequence was empty.");
        }
        var items = Py.ToList(v);
        return items.Count > 0 ? items[^1] : Undefined.WithHint("No last item, sequence was empty.");
    }

    static object? Join(Renderer r, object? v, Args a)
    {
        a.Check("join", "d", "attribute");
        var separator = Py.Str(a.Get(0, "d", ""));
        var attribute = a.Get(1, "attribute", null);
        var items = Py.Iterate(v);
        if (attribute is not null) items = items.Select(AttributeGetter(attribute, null));
        var b = new StringBuilder();
        var first = true;
        foreach (var item in items)
        {
            if (!first) b.Append(separator);
            first = false;
            b.Append(Py.Str(item));
        }
        return b.ToString();
    }

    static object? Items(Renderer r, object? v, Args a) => v switch
    {
        Undefined => new PyIterator([], "generator"),
        PyDict dict => new PyIterator(dict.Select(p => (object?)new PyTuple([p.Key, p.Value])), "generator"),
        _ => throw PyError.TypeError("Can only get item pairs from a mapping."),
    };

    static object? ToJson(Renderer r, object? v, Args a)
    {
        a.Check("tojson", "ensure_ascii", "indent", "separators", "sort_keys");
        var indent = a.Get(1, "indent", null) switch
        {
            null => null,
            long n => new string(' ', (int)Math.Max(0, n)),
            string s => s,
            var other => throw PyError.TypeError($"tojson: indent must be an int or a string, not "
                + $"{Py.TypeName(other)}"),
        };
        string itemSeparator = indent is null ? ", " : ",", keySeparator = ": ";
        if (a.Get(2, "separators", null) is { } separators)
        {
            var pair = Py.ToList(separators);
            if (pair.Count != 2) throw PyError.ValueError("tojson: separators must be a pair (item separator, key "
                + "separator)");
            itemSeparator = Py.Str(pair[0]);
            keySeparator = Py.Str(pair[1]);
        }
        return TemplateJson.Dumps(v, Py.Truthy(a.Get(0, "ensure_ascii", false)), indent, itemSeparator, keySeparator,
            Py.Truthy(a.Get(3, "sort_keys", false)));
    }

    static object? Replace(Renderer r, object? v, Args a)
    {
        a.Check("replace", "old", "new", "count");
        var count = a.Get(2, "count", null);
        return PyString.Replace(Py.Str(v), Py.Str(a.Get(0, "old", null)), Py.Str(a.Get(1, "new", null)), count is null
            ? -1 : Int(count, "replace"));
    }

    static object? Reverse(Renderer r, object? v, Args a) => v switch
    {
        string s => PyString.Slice(s, null, null, -1),
        Markup m => new Markup(PyString.Slice(m.Value, null, null, -1)),
        List<object?> or PyTuple or DictView or PyDict => new PyIterator(Py.ToList(v).Reverse(),
            "list_reverseiterator"),
        PyIterator => new PyIterator(Py.Iterate(v).Reverse().ToList(), "list"),
        _ => throw PyError.Runtime("argument must be iterable"),
    };

    static object? Round(Renderer r, object? v, Args a)
    {
        a.Check("round", "precision", "method");
        var precision = (int)Int(a.Get(0, "precision", 0L), "round");
        var method = Py.Str(a.Get(1, "method", "common"));
        if (v is Undefined u) throw u.Fail();
        if (!Py.IsNumber(v)) throw PyError.TypeError($"type {Py.TypeName(v)} doesn't define __round__ method");
        if (method == "common") return v is double d ? Math.Round(d, Math.Clamp(precision, 0, 15),
            MidpointRounding.ToEven) : (object)Py.ToLong(v!);
        if (method is not ("ceil" or "floor")) throw PyError.Runtime("method must be common, ceil or floor");
        var scale = Math.Pow(10, precision);
        var x = Py.ToDouble(v!) * scale;
        return (method == "ceil" ? Math.Ceiling(x) : Math.Floor(x)) / scale;
    }

    static object? ToInt(Renderer r, object? v, Args a)
    {
        a.Check("int", "default", "base");
        var fallback = a.Get(0, "default", 0L);
        var numberBase = Int(a.Get(1, "base", 10L), "int");
        switch (v)
        {
            case long or bool: return Py.ToLong(v);
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string or Markup:
                var text = Py.AsString(v)!;
                if (ParseInt(text, (int)numberBase) is { } n) return n;
                return ParseFloat(text) is { } f && double.IsFinite(f) ? (long)Math.Truncate(f) : fallback;
            case Undefined u: throw u.Fail();
            default: return fallback;
        }
    }

    static long? ParseInt(string text, int numberBase)
    {
        var s = PyString.Strip(text, null).Replace("_", "", StringComparison.Ordinal);
        var negative = s.StartsWith('-');
        if (s.StartsWith('-') || s.StartsWith('+')) s = s[1..];
        if (numberBase is 16 or 0 && (s.StartsWith("0x") || s.StartsWith("0X"))) { s = s[2..]; numberBase = 16; }
        else if (numberBase is 8 or 0 && (s.StartsWith("0o") || s.StartsWith("0O"))) { s = s[2..]; numberBase = 8; }
        else if (numberBase is 2 or 0 && (s.StartsWith("0b") || s.StartsWith("0B"))) { s = s[2..]; numberBase = 2; }
        if (numberBase == 0) numberBase = 10;
        if (s.Length == 0) return null;
        long value = 0;
        foreach (var c in s)
        {
            var digit = char.IsAsciiDigit(c) ? c - '0' : char.IsAsciiLetter(c) ? char.ToLowerInvariant(c) - 'a' + 10
                : 99;
            if (digit >= numberBase) return null;
            try { value = checked(value * numberBase + digit); }
            catch (OverflowException) { return null; }
        }
        return negative ? -value : value;
    }

    public static double? ParseFloat(string text)
    {
        var s = PyString.Strip(text, null).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
        switch (s.TrimStart('+', '-'))
        {
            case "inf" or "infinity": return s.StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
            case "nan": return double.NaN;
        }
        if (s.Length == 0 || s.Any(c => !(char.IsAsciiDigit(c) || c is '.' or 'e' or '+' or '-'))) return null;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
    }

    static object? ToFloat(Renderer r, object? v, Args a)
    {
        a.Check("float", "default");
        var fallback = a.Get(0, "default", 0.0);
        return v switch
        {
            long or bool or double => Py.ToDouble(v),
            string or Markup => ParseFloat(Py.AsString(v)!) is { } d ? d : fallback,
            Undefined u => throw u.Fail(),
            _ => fallback,
        };
    }

    static object? Indent(Renderer r, object? v, Args a)
    {
        a.Check("indent", "width", "first", "blank");
        var width = a.Get(0, "width", 4L);
        var indention = width is string w ? w : new string(' ', (int)Math.Max(0, Int(width, "indent")));
        var markup = v is Markup;
        var text = Py.Str(v) + "\n";
        string result;
        var lines = PyString.SplitLines(text).Select(x => (string)x!).ToList();
        if (Py.Truthy(a.Get(2, "blank", false))) result = string.Join("\n" + indention, lines);
        else
        {
            result = lines[0];
            if (lines.Count > 1) result += "\n" + string.Join("\n", lines.Skip(1).Select(line => line.Length > 0
                ? indention + line : line));
        }
        if (Py.Truthy(a.Get(1, "first", false))) result = indention + result;
        return markup ? new Markup(result) : result;
    }

    static object? DictSort(Renderer r, object? v, Args a)
    {
        a.Check("dictsort", "case_sensitive", "by", "reverse");
        var caseSensitive = Py.Truthy(a.Get(0, "case_sensitive", false));
        var by = Py.Str(a.Get(1, "by", "key"));
        if (by is not ("key" or "value")) throw PyError.Runtime("You can only sort by either \"key\" or \"value\"");
        if (v is not PyDict dict) throw PyError.Runtime("dictsort: expected a mapping");
        var pairs = dict.Select(p => (object?)new PyTuple([p.Key, p.Value])).ToList();
        var position = by == "key" ? 0 : 1;
        return Sorted(pairs, item => CaseFold(((PyTuple)item!)[position], caseSensitive), Py.Truthy(a.Get(2, "reverse",
            false)));
    }

    static object? CaseFold(object? value, bool caseSensitive) => !caseSensitive && value is string s
        ? s.ToLowerInvariant() : value;

    static List<object?> Sorted(IEnumerable<object?> items, Func<object?, object?> key, bool reverse)
    {
        var comparer = Comparer<object?>.Create((x, y) => Py.Compare(x, y, "<"));
        var keyed = items.Select(item => (Key: key(item), Item: item)).ToList();
        try
        {
            return (reverse ? keyed.OrderByDescending(p => p.Key, comparer) : keyed.OrderBy(p => p.Key,
                comparer)).Select(p => p.Item).ToList();
        }
        catch (InvalidOperationException e) when (e.InnerException is PyError inner) { throw inner; }
    }

    static object? Sort(Renderer r, object? v, Args a)
    {
        a.Check("sort", "reverse", "case_sensitive", "attribute");
        var caseSensitive = Py.Truthy(a.Get(1, "case_sensitive", false));
        var attribute = a.Get(2, "attribute", null);
        var getters = attribute is string s ? s.Split(',').Select(part => AttributeGetter(part, null)).ToList()
            : attribute is null ? [] : [AttributeGetter(attribute, null)];
        Func<object?, object?> key = getters.Count switch
        {
            0 => item => CaseFold(item, caseSensitive),
            1 => item => CaseFold(getters[0](item), caseSensitive),
            _ => item => new PyTuple(getters.Select(g => CaseFold(g(item), caseSensitive)).ToArray()),
        };
        return Sorted(Py.Iterate(v), key, Py.Truthy(a.Get(0, "reverse", false)));
    }

    static object? Unique(Renderer r, object? v, Args a)
    {
        a.Check("unique", "case_sensitive", "attribute");
        var caseSensitive = Py.Truthy(a.Get(0, "case_sensitive", false));
        var attribute = a.Get(1, "attribute", null);
        var getter = attribute is null ? (item => item) : AttributeGetter(attribute, null);
        return new PyIterator(UniqueItems(Py.Iterate(v), item => CaseFold(getter(item), caseSensitive)), "generator");
    }

    static IEnumerable<object?> UniqueItems(IEnumerable<object?> items, Func<object?, object?> key)
    {
        var seen = new List<object?>();
        foreach (var item in items)
        {
            var k = key(item);
            if (seen.Any(s => Py.Eq(s, k))) continue;
            seen.Add(k);
            yield return item;
        }
    }

    static object? MinOrMax(object? v, Args a, string which)
    {
        a.Check(which, "case_sensitive", "attribute");
        var caseSensitive = Py.Truthy(a.Get(0, "case_sensitive", false));
        var attribute = a.Get(1, "attribute", null);
        var getter = attribute is null ? (item => item) : AttributeGetter(attribute, null);
        var items = Py.Iterate(v).ToList();
        if (items.Count == 0) return Undefined.WithHint("No aggregated item, sequence was empty.");
        var best = items[0];
        var bestKey = CaseFold(getter(best), caseSensitive);
        foreach (var item in items.Skip(1))
        {
            var key = CaseFold(getter(item), caseSensitive);
            var order = Py.Compare(key, bestKey, "<");
            if (which == "min" ? order < 0 : order > 0) { best = item; bestKey = key; }
        }
        return best;
    }

    static object? Sum(Renderer r, object? v, Args a)
    {
        a.Check("sum", "attribute", "start");
        var attribute = a.Get(0, "attribute", null);
        var total = a.Get(1, "start", 0L);
        var items = Py.Iterate(v);
        if (attribute is not null) items = items.Select(AttributeGetter(attribute, null));
        foreach (var item in items) total = Py.Add(total, item);
        return total;
    }

    static object? Batch(Renderer r, object? v, Args a)
    {
        a.Check("batch", "linecount", "fill_with");
        var size = (int)Int(a.Get(0, "linecount", null), "batch");
        if (size <= 0) throw PyError.ValueError("batch: linecount must be positive");
        var fill = a.Get(1, "fill_with", null);
        return new PyIterator(Batches(Py.Iterate(v), size, fill), "generator");
    }

    static IEnumerable<object?> Batches(IEnumerable<object?> items, int size, object? fill)
    {
        var current = new List<object?>();
        foreach (var item in items)
        {
            if (current.Count == size) { yield return current; current = []; }
            current.Add(item);
        }
        if (current.Count == 0) yield break;
        if (fill is not null) while (current.Count < size) current.Add(fill);
        yield return current;
    }

    static object? Slice(Renderer r, object? v, Args a)
    {
        a.Check("slice", "slices", "fill_with");
        var slices = (int)Int(a.Get(0, "slices", null), "slice");
        if (slices <= 0) throw PyError.ValueError("slice: slices must be positive");
        var fill = a.Get(1, "fill_with", null);
        var items = Py.Iterate(v).ToList();
        var perSlice = items.Count / slices;
        var withExtra = items.Count % slices;
        var result = new List<object?>();
        var offset = 0;
        for (var i = 0; i < slices; i++)
        {
            var start = offset + i * perSlice;
            if (i < withExtra) offset++;
            var end = offset + (i + 1) * perSlice;
            var part = items.GetRange(start, end - start);
            if (fill is not null && i >= withExtra) part.Add(fill);
            result.Add(part);
        }
        return new PyIterator(result, "generator");
    }

    static object? GroupBy(Renderer r, object? v, Args a)
    {
        a.Check("groupby", "attribute", "default", "case_sensitive");
        var getter = AttributeGetter(a.Get(0, "attribute", null), a.Get(1, "default", null));
        var caseSensitive = Py.Truthy(a.Get(2, "case_sensitive", false));
        var sorted = Sorted(Py.Iterate(v), item => CaseFold(getter(item), caseSensitive), reverse: false);
        var groups = new List<object?>();
        foreach (var item in sorted)
        {
            var key = CaseFold(getter(item), caseSensitive);
            if (groups.Count > 0 && groups[^1] is GroupTuple last && Py.Eq(last[0], key)) last.Members.Add(item);
            else groups.Add(new GroupTuple(key, [item]));
        }
        return groups;
    }

    static object? Format(Renderer r, object? v, Args a)
    {
        if (a.Positional.Length > 0 && a.Named.Length > 0)
            throw PyError.Runtime("can't handle positional and keyword arguments at the same time");
        object? args = a.Named.Length > 0 ? NamedAsDict(a) : new PyTuple(a.Positional);
        return Py.Mod(v is Markup ? v : Py.Str(v), args);
    }

    static PyDict NamedAsDict(Args a)
    {
        var dict = new PyDict();
        foreach (var (k, value) in a.Named) dict[k] = value;
        return dict;
    }

    static object? StripTags(Renderer r, object? v, Args a)
    {
        var text = TagPattern().Replace(CommentPattern().Replace(Py.Str(v), ""), "");
        text = string.Join(' ', PyString.Split(text, null, -1).Select(x => (string)x!));
        return System.Net.WebUtility.HtmlDecode(text);
    }

    static object? Truncate(Renderer r, object? v, Args a)
    {
        a.Check("truncate", "length", "killwords", "end", "leeway");
        var s = Py.Str(v);
        var length = (int)Int(a.Get(0, "length", 255L), "truncate");
        var killWords = Py.Truthy(a.Get(1, "killwords", false));
        var end = Py.Str(a.Get(2, "end", "..."));
        var leeway = (int)Int(a.Get(3, "leeway", 5L) ?? 5L, "truncate");
        if (length < end.Length) throw PyError.Runtime($"expected length >= {end.Length}, got {length}");
        if (leeway < 0) throw PyError.Runtime($"expected leeway >= 0, got {leeway}");
        if (s.Length <= length + leeway) return s;
        if (killWords) return s[..(length - end.Length)] + end;
        var cut = s[..(length - end.Length)];
        var space = cut.LastIndexOf(' ');
        return (space < 0 ? cut : cut[..space]) + end;
    }

    static object? Map(Renderer r, object? v, Args a)
    {
        if (!Py.Truthy(v)) return new PyIterator([], "generator");
        Func<object?, object?> function;
        if (a.Positional.Length == 0 && a.TryNamed("attribute", out var attribute))
        {
            foreach (var (name, _) in a.Named)
                if (name is not ("attribute" or "default"))
                    throw PyError.Runtime($"Unexpected keyword argument '{name}'");
            a.TryNamed("default", out var fallback);
            function = AttributeGetter(attribute, fallback);
        }
        else
        {
            if (a.Positional.Length == 0) throw PyError.Runtime("map requires a filter argument");
            var name = Py.Str(a.Positional[0]);
            var rest = new Args(a.Positional[1..], a.Named);
            function = item => Apply(r, name, item, rest);
        }
        return new PyIterator(Py.Iterate(v).Select(function), "generator");
    }

    static object? SelectOrReject(Renderer r, object? v, Args a, bool reject, bool byAttribute)
    {
        if (!Py.Truthy(v)) return new PyIterator([], "generator");
        var offset = 0;
        Func<object?, object?> transform = item => item;
        if (byAttribute)
        {
            if (a.Positional.Length == 0) throw PyError.Runtime("Missing parameter for attribute name");
            transform = AttributeGetter(a.Positional[0], null);
            offset = 1;
        }
        Func<object?, bool> test;
        if (a.Positional.Length > offset)
        {
            var name = Py.Str(a.Positional[offset]);
            var rest = new Args(a.Positional[(offset + 1)..], a.Named);
            test = item => Tests.Apply(r, name, item, rest);
        }
        else test = Py.Truthy;
        return new PyIterator(Py.Iterate(v).Where(item => test(transform(item)) != reject), "generator");
    }

    /// <summary>Looks up "a.b.0" in an item as environment.getitem does each part (digits as integers).</summary>
    public static Func<object?, object?> AttributeGetter(object? attribute, object? fallback)
    {
        object?[] parts = attribute switch
        {
            null => [],
            string s => s.Split('.').Select(p => p.Length > 0 && p.All(char.IsAsciiDigit) ? (object?)long.Parse(p,
                CultureInfo.InvariantCulture) : p).ToArray(),
            _ => [attribute],
        };
        return item =>
        {
            foreach (var part in parts)
            {
                item = Access.GetItem(item, part);
                if (fallback is not null && item is Undefined) item = fallback;
            }
            return item;
        };
    }

    static string Title(string s)
    {
        var b = new StringBuilder(s.Length);
        foreach (var item in WordBeginning().Split(s))
            if (item.Length > 0) b.Append(char.ToUpperInvariant(item[0])).Append(item[1..].ToLowerInvariant());
        return b.ToString();
    }

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginning();

    [GeneratedRegex(@"\w+")]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"<!--.*?-->", RegexOptions.Singleline)]
    private static partial Regex CommentPattern();

    [GeneratedRegex(@"<[^>]*>")]
    private static partial Regex TagPattern();
}
