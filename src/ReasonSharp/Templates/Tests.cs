namespace ReasonSharp.Templates;

internal delegate bool TestFunction(Renderer renderer, object? value, Args args);

/// <summary>Jinja2's built-in tests (`x is defined`, `x is string`, `x is divisibleby 3` …).</summary>
internal static class Tests
{
    public static readonly Dictionary<string, TestFunction> All = new(StringComparer.Ordinal)
    {
        ["boolean"] = (r, v, a) => v is bool,
        ["callable"] = (r, v, a) => v is PyCallable,
        ["defined"] = (r, v, a) => v is not Undefined,
        ["divisibleby"] = (r, v, a) => Py.Eq(Py.Mod(v, Arg(a, "num")), 0L),
        ["eq"] = (r, v, a) => Py.Eq(v, Arg(a, "other")),
        ["equalto"] = (r, v, a) => Py.Eq(v, Arg(a, "other")),
        ["=="] = (r, v, a) => Py.Eq(v, Arg(a, "other")),
        ["escaped"] = (r, v, a) => v is Markup,
        ["even"] = (r, v, a) => Py.Eq(Py.Mod(v, 2L), 0L),
        ["false"] = (r, v, a) => v is false,
        ["filter"] = (r, v, a) => v is string name && Filters.All.ContainsKey(name),
        ["float"] = (r, v, a) => v is double,
        ["ge"] = (r, v, a) => Py.Compare(v, Arg(a, "other"), ">=") >= 0,
        [">="] = (r, v, a) => Py.Compare(v, Arg(a, "other"), ">=") >= 0,
        ["gt"] = (r, v, a) => Py.Compare(v, Arg(a, "other"), ">") > 0,
        [">"] = (r, v, a) => Py.Compare(v, Arg(a, "other"), ">") > 0,
        ["greaterthan"] = (r, v, a) => Py.Compare(v, Arg(a, "other"), ">") > 0,
        ["in"] = (r, v, a) => Py.Contains(Arg(a, "seq"), v),
        ["integer"] = (r, v, a) => v is long,
        ["iterable"] = (r, v, a) => Py.IsIterable(v),
        ["le"] = (r, v, a) => Py.Compare(v, Arg(a, "other"), "<=") <= 0,
        ["<="] = (r, v, a) => Py.Compare(v, Arg(a, "other"), "<=") <= 0,
        ["lower"] = (r, v, a) => IsLower(Py.Str(v)),
        ["lt"] = (r, v, a) => Py.Compare(v, Arg(a, "other"), "<") < 0,
        ["<"] = (r, v, a) => Py.Compare(v, Arg(a, "other"), "<") < 0,
        ["lessthan"] = (r, v, a) => Py.Compare(v, Arg(a, "other"), "<") < 0,
        ["mapping"] = (r, v, a) => v is PyDict,
        ["ne"] = (r, v, a) => !Py.Eq(v, Arg(a, "other")),
        ["!="] = (r, v, a) => !Py.Eq(v, Arg(a, "other")),
        ["none"] = (r, v, a) => v is null,
        ["number"] = (r, v, a) => Py.IsNumber(v),
        ["odd"] = (r, v, a) => Py.Eq(Py.Mod(v, 2L), 1L),
        ["sameas"] = (r, v, a) => SameAs(v, Arg(a, "other")),
        ["sequence"] = (r, v, a) => v is string or Markup or List<object?> or PyTuple or PyDict or Undefined,
        ["string"] = (r, v, a) => v is string or Markup,
        ["test"] = (r, v, a) => v is string name && All!.ContainsKey(name),
        ["true"] = (r, v, a) => v is true,
        ["undefined"] = (r, v, a) => v is Undefined,
        ["upper"] = (r, v, a) => IsUpper(Py.Str(v)),
    };

    public static bool Apply(Renderer renderer, string name, object? value, Args args) =>
        All.TryGetValue(name, out var test) ? test(renderer, value, args)
            : throw PyError.Runtime($"No test named '{name}'.");

    static object? Arg(Args args, string name)
    {
        if (args.Count != 1) throw PyError.TypeError($"the test takes exactly one argument ({args.Count} given)");
        return args.Positional.Length == 1 ? args.Positional[0] : args.TryNamed(name, out var value) ? value
            : throw PyError.TypeError($"the test got an unexpected keyword argument '{args.Named[0].Key}'");
    }

    static bool IsLower(string s) => s.Any(char.IsLower) && !s.Any(char.IsUpper);
    static bool IsUpper(string s) => s.Any(char.IsUpper) && !s.Any(char.IsLower);

    /// <summary>Python's `is`: identity for containers, value for None, booleans and small ints, strings by
    /// value.</summary>
    static bool SameAs(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (bool x, bool y) => x == y,
        (long x, long y) => x == y && x is >= -5 and <= 256,
        (string x, string y) => x == y,
        _ => ReferenceEquals(a, b),
    };
}
