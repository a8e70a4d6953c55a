namespace ReasonSharp.Templates;

/// <summary>The Python methods of str, dict, list and tuple that templates call.</summary>
internal static class Methods
{
    public static object? Call(Renderer renderer, object self, string name, Args args) => self switch
    {
        string s => Str(renderer, s, name, args),
        Markup m => MarkupMethod(renderer, m, name, args),
        PyDict d => Dict(d, name, args),
        List<object?> l => Sequence(l, name, args, "list"),
        PyTuple t => Sequence(t.Items, name, args, "tuple"),
        _ => throw PyError.TypeError($"'{Py.TypeName(self)}' object has no method '{name}'"),
    };

    static string? OptionalString(object? value, string method) => value switch
    {
        null => null,
        string s => s,
        Markup m => m.Value,
        _ => throw PyError.TypeError($"{method} arg must be None or str"),
    };

    static string RequireString(object? value, string method) =>
        Py.AsString(value) ?? throw PyError.TypeError($"{method}() argument must be str, not {Py.TypeName(value)}");

    static long RequireInt(object? value, string method) =>
        value is long or bool ? Py.ToLong(value)
            : throw PyError.TypeError($"{method}() argument must be an integer, not {Py.TypeName(value)}");

    static long? OptionalInt(object? value, string method) => value is null ? null : RequireInt(value, method);

    static object? Str(Renderer renderer, string s, string name, Args args)
    {
        switch (name)
        {
            case "strip" or "lstrip" or "rstrip":
                args.Check(name, "chars");
                var chars = OptionalString(args.Get(0, "chars", null), name);
                return PyString.Strip(s, chars, left: name != "rstrip", right: name != "lstrip");
            case "split" or "rsplit":
                args.Check(name, "sep", "maxsplit");
                var separator = OptionalString(args.Get(0, "sep", null), name);
                var maxSplit = RequireInt(args.Get(1, "maxsplit", -1L), name);
                return name == "split" ? PyString.Split(s, separator, maxSplit) : PyString.RSplit(s, separator,
                    maxSplit);
            case "splitlines":
                args.Check(name, "keepends");
                return PyString.SplitLines(s, Py.Truthy(args.Get(0, "keepends", false)));
            case "startswith" or "endswith":
                args.Check(name, "prefix", "start", "end");
                return PyString.StartsOrEndsWith(s, args.Get(0, "prefix", null), OptionalInt(args.Get(1, "start",
                    null), name),
                    OptionalInt(args.Get(2, "end", null), name), name == "endswith", name);
            case "replace":
                args.Check(name, "old", "new", "count");
                return PyString.Replace(s, RequireString(args.Get(0, "old", null), name), RequireString(args.Get(1,
                    "new", null), name),
                    RequireInt(args.Get(2, "count", -1L), name));
            case "upper": args.Check(name); return PyString.Upper(s);
            case "lower" or "casefold": args.Check(name); return PyString.Lower(s);
            case "title": args.Check(name); return PyString.Title(s);
            case "capitalize": args.Check(name); return PyString.Capitalize(s);
            case "swapcase": args.Check(name); return PyString.SwapCase(s);
            case "find" or "rfind" or "index" or "rindex":
                args.Check(name, "sub", "start", "end");
                var at = PyString.Find(s, RequireString(args.Get(0, "sub", null), name), OptionalInt(args.Get(1,
                    "start", null), name),
                    OptionalInt(args.Get(2, "end", null), name), name.StartsWith('r'));
                if (at < 0 && name.EndsWith("index", StringComparison.Ordinal))
                    throw PyError.ValueError("substring not found");
                return at;
            case "count":
                args.Check(name, "sub", "start", "end");
                return PyString.Count(s, RequireString(args.Get(0, "sub", null), name), OptionalInt(args.Get(1,
                    "start", null), name),
                    OptionalInt(args.Get(2, "end", null), name));
            case "join":
                args.Check(name, "iterable");
                return Join(s, args.Get(0, "iterable", null));
            case "format":
                return StrFormat.Format(renderer, s, args);
            case "format_map":
                if (args.Positional.Length != 1 || args.Named.Length > 0)
                    throw PyError.TypeError("format_map() takes exactly one argument");
                return StrFormat.Format(renderer, s, new Args([], MappingArguments(args.Positional[0])));
            case "center" or "ljust" or "rjust":
                args.Check(name, "width", "fillchar");
                var fill = RequireString(args.Get(1, "fillchar", " "), name);
                if (fill.Length != 1) throw PyError.TypeError("The fill character must be exactly one character long");
                return PyString.Pad(s, RequireInt(args.Get(0, "width", null), name), fill[0], name == "center" ? 0
                    : name == "ljust" ? -1 : 1);
            case "zfill":
                args.Check(name, "width");
                return PyString.ZFill(s, RequireInt(args.Get(0, "width", null), name));
            case "partition" or "rpartition":
                args.Check(name, "sep");
                var sep = RequireString(args.Get(0, "sep", null), name);
                if (PyString.Partition(s, sep, name == "rpartition") is { } parts) return new PyTuple([parts.Before,
                    parts.Separator, parts.After]);
                return name == "partition" ? new PyTuple([s, "", ""]) : new PyTuple(["", "", s]);
            case "removeprefix":
                args.Check(name, "prefix");
                var prefix = RequireString(args.Get(0, "prefix", null), name);
                return s.StartsWith(prefix, StringComparison.Ordinal) ? s[prefix.Length..] : s;
            case "removesuffix":
                args.Check(name, "suffix");
                var suffix = RequireString(args.Get(0, "suffix", null), name);
                return suffix.Length > 0 && s.EndsWith(suffix, StringComparison.Ordinal) ? s[..^suffix.Length] : s;
            case "isalpha": return PyString.All(s, char.IsLetter);
            case "isdigit" or "isdecimal" or "isnumeric": return PyString.All(s, char.IsDigit);
            case "isalnum": return PyString.All(s, char.IsLetterOrDigit);
            case "isspace": return PyString.All(s, Py.IsSpace);
            case "isascii": return s.All(c => c < 128);
            case "islower": return s.Any(char.IsLower) && !s.Any(c => char.IsUpper(c));
            case "isupper": return s.Any(char.IsUpper) && !s.Any(c => char.IsLower(c));
            case "istitle": return s.Length > 0 && PyString.Title(s) == s && s.Any(char.IsLetter);
            case "isidentifier":
                return s.Length > 0 && (char.IsLetter(s[0]) || s[0] == '_')
                && s.All(c => char.IsLetterOrDigit(c) || c == '_');
            case "expandtabs":
                args.Check(name, "tabsize");
                return ExpandTabs(s, RequireInt(args.Get(0, "tabsize", 8L), name));
            default:
                throw PyError.TypeError($"str.{name}() is not supported in templates");
        }
    }

    static string ExpandTabs(string s, long size)
    {
        var b = new System.Text.StringBuilder();
        var column = 0;
        foreach (var c in s)
        {
            if (c == '\t')
            {
                var spaces = size > 0 ? (int)(size - column % size) : 0;
                b.Append(' ', spaces);
                column += spaces;
            }
            else
            {
                b.Append(c);
                column = c is '\n' or '\r' ? 0 : column + 1;
            }
        }
        return b.ToString();
    }

    static KeyValuePair<string, object?>[] MappingArguments(object? mapping) => mapping is PyDict dict
        ? dict.Select(pair => new KeyValuePair<string, object?>(Py.Str(pair.Key), pair.Value)).ToArray()
        : throw PyError.TypeError("format_map() argument must be a mapping");

    static string Join(string separator, object? iterable)
    {
        var b = new System.Text.StringBuilder();
        var i = 0;
        foreach (var item in Py.Iterate(iterable))
        {
            var text = Py.AsString(item)
                ?? throw PyError.TypeError($"sequence item {i}: expected str instance, {Py.TypeName(item)} found");
            if (i++ > 0) b.Append(separator);
            b.Append(text);
        }
        return b.ToString();
    }

    /// <summary>Markup's methods work on its text and return Markup where str's return str.</summary>
    static object? MarkupMethod(Renderer renderer, Markup m, string name, Args args)
    {
        if (name == "join")
        {
            var items = Py.Iterate(args.Get(0, "iterable",
                null)).Select(item => (object?)Markup.Escape(item).Value).ToList();
            return new Markup(Join(m.Value, items));
        }
        var escaped = name is "replace" or "format"
            ? new Args(args.Positional.Select(EscapeIfString).ToArray(),
                args.Named.Select(p => new KeyValuePair<string, object?>(p.Key, EscapeIfString(p.Value))).ToArray())
            : args;
        return Str(renderer, m.Value, name, escaped) switch
        {
            string s => new Markup(s),
            List<object?> list => list.Select(x => x is string t ? new Markup(t) : x).ToList(),
            var other => other,
        };
    }

    static object? EscapeIfString(object? value) => value is string s ? Markup.Escape(s).Value : value;

    static object? Dict(PyDict d, string name, Args args)
    {
        switch (name)
        {
            case "get":
                if (args.Positional.Length is < 1 or > 2 || args.Named.Length > 0)
                    throw PyError.TypeError("get expected 1 or 2 arguments");
                var key = args.Positional[0];
                if (key is List<object?> or PyDict) throw PyError.TypeError($"unhashable type: '{Py.TypeName(key)}'");
                return key is not null && d.TryGetValue(key, out var value) ? value : args.Positional.Length > 1
                    ? args.Positional[1] : null;
            case "items": args.Check(name); return new DictView(d, DictViewKind.Items);
            case "keys": args.Check(name); return new DictView(d, DictViewKind.Keys);
            case "values": args.Check(name); return new DictView(d, DictViewKind.Values);
            case "copy":
                args.Check(name);
                var copy = new PyDict(d.Count);
                foreach (var (k, v) in d) copy[k] = v;
                return copy;
            default:
                throw PyError.TypeError($"dict.{name}() is not supported in templates");
        }
    }

    static object? Sequence(IReadOnlyList<object?> items, string name, Args args, string type)
    {
        switch (name)
        {
            case "count":
                args.Check(name, "value");
                return (long)items.Count(x => Py.Eq(x, args.Get(0, "value", null)));
            case "index":
                var target = args.Get(0, "value", null);
                for (var i = 0; i < items.Count; i++) if (Py.Eq(items[i], target)) return (long)i;
                throw PyError.ValueError(type == "list" ? $"{Py.Repr(target)} is not in list"
                    : "tuple.index(x): x not in tuple");
            case "copy":
                return new List<object?>(items);
            default:
                throw PyError.TypeError($"{type}.{name}() is not supported in templates");
        }
    }
}
