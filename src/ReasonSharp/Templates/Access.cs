namespace ReasonSharp.Templates;

/// <summary>A slice value `start:stop:step` (any part may be None).</summary>
internal sealed record PySlice(object? Start, object? Stop, object? Step);

/// <summary>Python slicing over any length.</summary>
internal static class Sequences
{
    public static List<int> SliceIndices(int length, long? start, long? stop, long? step)
    {
        var s = step ?? 1;
        if (s == 0) throw PyError.ValueError("slice step cannot be zero");
        long lo, hi;
        if (s > 0)
        {
            lo = Clamp(start ?? 0, length, 0, length);
            hi = Clamp(stop ?? length, length, 0, length);
        }
        else
        {
            lo = Clamp(start ?? length - 1, length, -1, length - 1);
            hi = stop is null ? -1 : Clamp(stop.Value, length, -1, length - 1);
        }
        var result = new List<int>();
        if (s > 0) for (var i = lo; i < hi; i += s) result.Add((int)i);
        else for (var i = lo; i > hi; i += s) result.Add((int)i);
        return result;
    }

    static long Clamp(long index, int length, long min, long max)
    {
        if (index < 0) index += length;
        return Math.Max(min, Math.Min(max, index));
    }

    public static long? SliceBound(object? value) => value switch
    {
        null => null,
        long or bool => Py.ToLong(value),
        _ => throw PyError.TypeError("slice indices must be integers or None or have an __index__ method"),
    };
}

/// <summary>Attribute and item access as the sandboxed environment does it: `a.b` prefers the attribute (a
/// method), `a['b']` prefers the item; what is missing is Undefined; methods that change a list or dict are
/// unsafe.</summary>
internal static class Access
{
    static readonly HashSet<string> StrMethods =
    [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "replace", "upper",
            "lower",
        "title", "capitalize", "swapcase", "casefold", "find", "rfind", "index", "rindex", "count", "join", "format",
        "format_map", "center", "ljust", "rjust", "zfill", "partition", "rpartition", "isalpha", "isdigit", "isalnum",
        "isspace", "islower", "isupper", "isnumeric", "isdecimal", "istitle", "isidentifier", "isascii", "removeprefix",
        "removesuffix", "expandtabs", "encode", "translate", "maketrans", "isprintable",
    ];
    static readonly HashSet<string> DictMethods = ["get", "items", "keys", "values", "copy", "fromkeys"];
    static readonly HashSet<string> DictMutators = ["pop", "popitem", "setdefault", "update", "clear"];
    static readonly HashSet<string> ListMethods = ["index", "count", "copy"];
    static readonly HashSet<string> ListMutators = ["append", "extend", "insert", "pop", "remove", "reverse", "sort",
        "clear"];

    public static bool IsDictMethodName(string name) => DictMethods.Contains(name) || DictMutators.Contains(name);

    /// <summary>Whether `obj.name` is a method of a str, list or dict that <see cref="Methods"/> runs.</summary>
    public static bool IsMethod(object? obj, string name) => obj switch
    {
        string => StrMethods.Contains(name),
        PyDict => DictMethods.Contains(name),
        List<object?> => ListMethods.Contains(name),
        _ => false,
    };

    /// <summary>`obj.name`.</summary>
    public static object? GetAttr(object? obj, string name)
    {
        switch (obj)
        {
            case PyDict dict:
                if (DictMethods.Contains(name)) return new BoundMethod(dict, name);
                if (DictMutators.Contains(name)) return Undefined.Unsafe(dict, name);
                return dict.TryGetValue(name, out var value) ? value : Undefined.Member(obj, name);
            case string or Markup:
                return StrMethods.Contains(name) ? new BoundMethod(obj, name) : Undefined.Member(obj, name);
            case List<object?> list:
                if (ListMethods.Contains(name)) return new BoundMethod(list, name);
                return ListMutators.Contains(name) ? Undefined.Unsafe(list, name) : Undefined.Member(obj, name);
            case GroupTuple group when name is "grouper" or "list":
                return name == "grouper" ? group[0] : group.Members;
            case PyTuple tuple:
                return name is "index" or "count" ? new BoundMethod(tuple, name) : Undefined.Member(obj, name);
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out var attribute) ? attribute : Undefined.Member(obj, name);
            case LoopContext loop:
                return loop.Attribute(name);
            case RecursiveLoop recursive:
                return recursive.Loop.Attribute(name);
            case Cycler cycler:
                return cycler.Attribute(name);
            case Undefined undefined:
                throw undefined.Fail();
            case Macro macro:
                return macro.Attribute(name);
            default:
                return Undefined.Member(obj, name);
        }
    }

    /// <summary>`obj|attr(name)`: an attribute only, never an item of a dict.</summary>
    public static object? GetAttrOnly(object? obj, string name) =>
        obj is PyDict && !IsDictMethodName(name) ? Undefined.Member(obj, name) : GetAttr(obj, name);

    /// <summary>`obj[key]`.</summary>
    public static object? GetItem(object? obj, object? key)
    {
        switch (obj)
        {
            case PyDict dict:
                if (key is PySlice or List<object?> or PyDict) break;
                if (key is not null && dict.TryGetValue(key, out var value)) return value;
                break;
            case List<object?> list:
                if (key is long or bool)
                {
                    var i = Py.ToLong(key);
                    if (i < 0) i += list.Count;
                    if (i >= 0 && i < list.Count) return list[(int)i];
                }
                else if (key is PySlice slice) return SliceList(list, slice);
                break;
            case PyTuple tuple:
                if (key is long or bool)
                {
                    var i = Py.ToLong(key);
                    if (i < 0) i += tuple.Count;
                    if (i >= 0 && i < tuple.Count) return tuple[(int)i];
                }
                else if (key is PySlice slice) return new PyTuple([.. SliceList(tuple.Items, slice)]);
                break;
            case string s:
                if (key is long or bool) { if (PyString.At(s, Py.ToLong(key)) is { } c) return c; }
                else if (key is PySlice slice) return PyString.Slice(s, Sequences.SliceBound(slice.Start),
                    Sequences.SliceBound(slice.Stop), Sequences.SliceBound(slice.Step));
                break;
            case Markup m:
                if (key is long or bool) { if (PyString.At(m.Value, Py.ToLong(key)) is { } c) return new Markup(c); }
                else if (key is PySlice slice)
                    return new Markup(PyString.Slice(m.Value, Sequences.SliceBound(slice.Start),
                        Sequences.SliceBound(slice.Stop), Sequences.SliceBound(slice.Step)));
                break;
            case Undefined undefined:
                throw undefined.Fail();
            case Namespace or LoopContext or Macro:
                break;
        }
        if (key is string name && obj is not null)
        {
            var attribute = GetAttr(obj, name);
            if (obj is PyDict && attribute is Undefined) return Undefined.Member(obj, key);
            return attribute;
        }
        return Undefined.Member(obj, key);
    }

    static List<object?> SliceList(IReadOnlyList<object?> list, PySlice slice)
    {
        var indices = Sequences.SliceIndices(list.Count, Sequences.SliceBound(slice.Start),
            Sequences.SliceBound(slice.Stop), Sequences.SliceBound(slice.Step));
        var result = new List<object?>(indices.Count);
        foreach (var i in indices) result.Add(list[i]);
        return result;
    }
}
