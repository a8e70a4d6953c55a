using System.Collections;

namespace ReasonSharp.Templates;

// Template values are Python's: null (None), bool, long (int), double (float), string (str), Markup, List<object?>
// (list), PyTuple, PyDict (dict), Undefined, Namespace, PyIterator (generators), DictView and callables.

/// <summary>Jinja's default Undefined: prints as "", is false, iterates as empty; most other uses raise.</summary>
internal sealed class Undefined
{
    static readonly object Missing = new();

    readonly string? hint;
    readonly object? owner;
    readonly object? name;

    /// <summary>"UndefinedError", or "SecurityError" for an unsafe attribute.</summary>
    public string ErrorType { get; }

    Undefined(string? hint, object? owner, object? name, string errorType)
    {
        this.hint = hint;
        this.owner = owner;
        this.name = name;
        ErrorType = errorType;
    }

    /// <summary>A variable that is not defined.</summary>
    public static Undefined Variable(string name) => new(null, Missing, name, "UndefinedError");
    /// <summary>An attribute or item that <paramref name="owner"/> lacks.</summary>
    public static Undefined Member(object? owner, object? name) => new(null, owner, name, "UndefinedError");
    public static Undefined WithHint(string hint, string? name = null) => new(hint, Missing, name, "UndefinedError");
    public static Undefined Unsafe(object owner, string attribute) =>
        new($"access to attribute '{attribute}' of '{Py.TypeName(owner)}' object is unsafe.", owner, attribute,
            "SecurityError");

    public string Message
    {
        get
        {
            if (!string.IsNullOrEmpty(hint)) return hint;
            if (ReferenceEquals(owner, Missing)) return $"{Py.Repr(name)} is undefined";
            if (name is not string) return $"{ObjectTypeRepr(owner)} has no element {Py.Repr(name)}";
            return $"{Py.Repr(ObjectTypeRepr(owner))} has no attribute {Py.Repr(name)}";
        }
    }

    public PyError Fail() => new(ErrorType, Message);

    static string ObjectTypeRepr(object? value) => value switch
    {
        null => "None",
        Namespace => "jinja2.utils.Namespace object",
        Markup => "markupsafe.Markup object",
        LoopContext => "jinja2.runtime.LoopContext object",
        Undefined => "jinja2.runtime.Undefined object",
        _ => Py.TypeName(value) + " object",
    };
}

/// <summary>markupsafe.Markup: a string marked safe; joining plain strings to it escapes them.</summary>
internal sealed class Markup(string value)
{
    public string Value { get; } = value;
    public override string ToString() => Value;

    public static string EscapeText(string s)
    {
        if (s.AsSpan().IndexOfAny("&<>\"'") < 0) return s;
        var b = new System.Text.StringBuilder(s.Length + 16);
        foreach (var c in s)
            b.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&#34;",
                '\'' => "&#39;",
                _ => c.ToString()
            });
        return b.ToString();
    }

    /// <summary>markupsafe.escape: Markup stays as it is, anything else is made a string and escaped.</summary>
    public static Markup Escape(object? value) => value as Markup ?? new Markup(EscapeText(Py.Str(value)));
}

/// <summary>A Python tuple.</summary>
internal class PyTuple(object?[] items) : IReadOnlyList<object?>
{
    public object?[] Items { get; } = items;
    public int Count => Items.Length;
    public object? this[int index] => Items[index];
    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)Items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => Items.GetEnumerator();
}

/// <summary>groupby's (grouper, list) pair, whose parts are also attributes.</summary>
internal sealed class GroupTuple(object? grouper, List<object?> items) : PyTuple([grouper, items])
{
    public List<object?> Members { get; } = items;
}

/// <summary>A Python dict: insertion-ordered, keys compared as Python does (1 == 1.0 == True).</summary>
internal sealed class PyDict : Dictionary<object, object?>
{
    public PyDict() : base(PyKeyComparer.Instance) { }
    public PyDict(int capacity) : base(capacity, PyKeyComparer.Instance) { }

    /// <summary>Stores a value; None as a key is not supported.</summary>
    public void Set(object? key, object? value) =>
        this[key ?? throw PyError.TypeError("None as a dict key is not supported")] = value;
}

internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => x is string a && y is string b ? string.Equals(a, b,
        StringComparison.Ordinal) : Py.Eq(x, y);

    public int GetHashCode(object value) => value switch
    {
        string s => s.GetHashCode(StringComparison.Ordinal),
        Markup m => m.Value.GetHashCode(StringComparison.Ordinal),
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
        double d => d.GetHashCode(),
        PyTuple t => t.Items.Aggregate(17, (h, item) => h * 31 + (item is null ? 0 : GetHashCode(item))),
        _ => value is List<object?> or PyDict ? throw PyError.TypeError($"unhashable type: '{Py.TypeName(value)}'")
            : value.GetHashCode(),
    };
}

/// <summary>jinja2's namespace(): an object whose attributes `{% set ns.x = … %}` may change from any scope.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>A Python generator or iterator (select, map, unique, items, reverse …): single pass, always true.</summary>
internal sealed class PyIterator(IEnumerable<object?> source, string kind)
{
    IEnumerator<object?>? enumerator;

    public string Kind { get; } = kind;

    /// <summary>The items not yet consumed; consuming them here exhausts the iterator as in Python.</summary>
    public IEnumerable<object?> Drain()
    {
        enumerator ??= source.GetEnumerator();
        while (enumerator.MoveNext()) yield return enumerator.Current;
    }
}

/// <summary>dict.keys(), dict.values(), dict.items(): live views of a dict.</summary>
internal sealed class DictView(PyDict dict, DictViewKind kind) : IEnumerable<object?>
{
    public PyDict Dict { get; } = dict;
    public DictViewKind Kind { get; } = kind;
    public int Count => Dict.Count;

    public IEnumerator<object?> GetEnumerator()
    {
        foreach (var (key, value) in Dict)
            yield return Kind switch
            {
                DictViewKind.Keys => key,
                DictViewKind.Values => value,
                _ => new PyTuple([key,
                value])
            };
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

internal enum DictViewKind { Keys, Values, Items }

/// <summary>Arguments of a call: positional, then keyword.</summary>
internal readonly struct Args(object?[] positional, KeyValuePair<string, object?>[]? named)
{
    static readonly object?[] NoValues = [];
    public static readonly Args None = new(NoValues, null);

    public object?[] Positional { get; } = positional;
    public KeyValuePair<string, object?>[] Named { get; } = named ?? [];
    public int Count => Positional.Length + Named.Length;

    public bool TryNamed(string name, out object? value)
    {
        foreach (var pair in Named)
            if (pair.Key == name) { value = pair.Value; return true; }
        value = null;
        return false;
    }

    /// <summary>The parameter at <paramref name="index"/> (after the value a filter applies to) by position or
    /// name.</summary>
    public object? Get(int index, string name, object? fallback)
    {
        if (index < Positional.Length) return Positional[index];
        return TryNamed(name, out var value) ? value : fallback;
    }

    public bool Has(int index, string name) => index < Positional.Length || TryNamed(name, out _);

    /// <summary>Rejects keywords and extra positionals a function does not take.</summary>
    public void Check(string function, params string[] parameters)
    {
        if (Positional.Length > parameters.Length)
            throw PyError.TypeError($"{function}() takes at most {parameters.Length} argument(s) ({Positional.Length} "
                + $"given)");
        foreach (var pair in Named)
        {
            var at = Array.IndexOf(parameters, pair.Key);
            if (at < 0) throw PyError.TypeError($"{function}() got an unexpected keyword argument '{pair.Key}'");
            if (at < Positional.Length)
                throw PyError.TypeError($"{function}() got multiple values for argument '{pair.Key}'");
        }
    }
}

/// <summary>Anything a template can call: globals, methods of values, macros, loop.cycle.</summary>
internal abstract class PyCallable
{
    public abstract string Name { get; }
    public abstract object? Call(Renderer renderer, Args args);
}

/// <summary>A callable backed by a delegate.</summary>
internal sealed class BuiltinFunction(string name, Func<Renderer, Args, object?> body) : PyCallable
{
    public override string Name => name;
    public override object? Call(Renderer renderer, Args args) => body(renderer, args);
}

/// <summary>A method of a str, dict or list value (`s.strip`, `d.items`), called later.</summary>
internal sealed class BoundMethod(object self, string name) : PyCallable
{
    public object Self { get; } = self;
    public override string Name => name;
    public override object? Call(Renderer renderer, Args args) => Methods.Call(renderer, Self, name, args)!;
}
