using System.Globalization;
using System.Text;

namespace ReasonSharp.Templates;

/// <summary>The names every template sees: range, namespace, dict, joiner, cycler, and transformers' raise_exception
/// and strftime_now.</summary>
internal static class Globals
{
    const int MaxRange = 100_000;

    public static Scope CreateScope() => new(null, new Dictionary<string, object?>(StringComparer.Ordinal)
    {
        ["range"] = new BuiltinFunction("range", (_, a) => Range(a)),
        ["namespace"] = new BuiltinFunction("namespace", (_, a) => MakeNamespace(a)),
        ["dict"] = new BuiltinFunction("dict", (_, a) => MakeDict(a)),
        ["joiner"] = new BuiltinFunction("joiner", (_, a) => Joiner(a)),
        ["cycler"] = new BuiltinFunction("cycler", (_, a) => new Cycler(a.Positional)),
        ["raise_exception"] = new BuiltinFunction("raise_exception",
            (_, a) => throw new PyError("TemplateError", a.Positional.Length > 0 ? Py.Str(a.Positional[0]) : "")),
        ["strftime_now"] = new BuiltinFunction("strftime_now", (r, a) =>
        {
            a.Check("strftime_now", "format");
            return Strftime.Format(r.Now(), Py.AsString(a.Get(0, "format", null))
                ?? throw PyError.TypeError("strftime() argument 1 must be str"));
        }),
    });

    static List<object?> Range(Args a)
    {
        if (a.Named.Length > 0) throw PyError.TypeError("range() takes no keyword arguments");
        var n = a.Positional.Select(v => v is long or bool ? Py.ToLong(v)
            : throw PyError.TypeError($"'{Py.TypeName(v)}' object cannot be interpreted as an integer")).ToArray();
        var (start, stop, step) = n.Length switch
        {
            1 => (0L, n[0], 1L),
            2 => (n[0], n[1], 1L),
            3 => (n[0], n[1], n[2]),
            _ => throw PyError.TypeError($"range expected at most 3 arguments, got {n.Length}"),
        };
        if (step == 0) throw PyError.ValueError("range() arg 3 must not be zero");
        var count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0,
            (start - stop - step - 1) / -step);
        if (count > MaxRange) throw new PyError("OverflowError",
            $"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
        var items = new List<object?>((int)count);
        for (long i = 0, v = start; i < count; i++, v += step) items.Add(v);
        return items;
    }

    static Namespace MakeNamespace(Args a)
    {
        var ns = new Namespace();
        foreach (var (key, value) in MakeDict(a)) ns.Attributes[Py.Str(key)] = value;
        return ns;
    }

    /// <summary>dict(mapping or pairs, **keywords).</summary>
    static PyDict MakeDict(Args a)
    {
        if (a.Positional.Length > 1)
            throw PyError.TypeError($"dict expected at most 1 argument, got {a.Positional.Length}");
        var dict = new PyDict();
        if (a.Positional.Length == 1)
        {
            if (a.Positional[0] is PyDict source) foreach (var (k, v) in source) dict[k] = v;
            else
                foreach (var pair in Py.Iterate(a.Positional[0]))
                {
                    var items = Py.ToList(pair);
                    if (items.Count != 2) throw PyError.ValueError("dictionary update sequence element has wrong "
                        + "length; 2 is required");
                    dict.Set(items[0], items[1]);
                }
        }
        foreach (var (k, v) in a.Named) dict[k] = v;
        return dict;
    }

    static BuiltinFunction Joiner(Args a)
    {
        var separator = Py.Str(a.Get(0, "sep", ", "));
        var used = false;
        return new BuiltinFunction("joiner", (_, _) =>
        {
            if (used) return separator;
            used = true;
            return "";
        });
    }
}

/// <summary>jinja2's cycler(): next() walks through the items, current is the one next() returns next.</summary>
internal sealed class Cycler(object?[] items)
{
    int position;

    public object? Attribute(string name) => name switch
    {
        "current" => items.Length > 0 ? items[position] : Undefined.Member(this, name),
        "next" => new BuiltinFunction("next", (_, _) =>
        {
            var value = items[position];
            position = (position + 1) % items.Length;
            return value;
        }),
        "reset" => new BuiltinFunction("reset", (_, _) => { position = 0; return null; }),
        _ => Undefined.Member(this, name),
    };
}

/// <summary>Python's time.strftime in the C locale (%a %A %b %B %c %d %H %I %j %m %M %p %S %U %w %W %x %X %y %Y %Z %z
/// %%, and glibc's %-d style flags).</summary>
internal static class Strftime
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Format(DateTime time, string format)
    {
        var b = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { b.Append(format[i]); continue; }
            var noPad = format[i + 1] == '-';
            if (noPad && i + 2 >= format.Length) { b.Append(format, i, 2); i++; continue; }
            var code = format[noPad ? i + 2 : i + 1];
            i += noPad ? 2 : 1;
            b.Append(Directive(time, code, noPad) ?? (noPad ? "%-" + code : "%" + code));
        }
        return b.ToString();
    }

    static string? Directive(DateTime t, char code, bool noPad)
    {
        string Num(int value, int width) => noPad ? value.ToString(Invariant) : value.ToString(new string('0', width),
            Invariant);
        return code switch
        {
            'a' => t.ToString("ddd", Invariant),
            'A' => t.ToString("dddd", Invariant),
            'b' or 'h' => t.ToString("MMM", Invariant),
            'B' => t.ToString("MMMM", Invariant),
            'c' => t.ToString("ddd MMM ", Invariant) + t.Day.ToString(Invariant).PadLeft(2)
                + t.ToString(" HH:mm:ss yyyy", Invariant),
            'd' => Num(t.Day, 2),
            'e' => noPad ? t.Day.ToString(Invariant) : t.Day.ToString(Invariant).PadLeft(2),
            'H' => Num(t.Hour, 2),
            'I' => Num(t.Hour % 12 == 0 ? 12 : t.Hour % 12, 2),
            'j' => Num(t.DayOfYear, 3),
            'm' => Num(t.Month, 2),
            'M' => Num(t.Minute, 2),
            'p' => t.Hour < 12 ? "AM" : "PM",
            'S' => Num(t.Second, 2),
            'f' => (t.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", Invariant),
            'U' => Num((t.DayOfYear + 6 - (int)t.DayOfWeek) / 7, 2),
            'W' => Num((t.DayOfYear + 6 - ((int)t.DayOfWeek + 6) % 7) / 7, 2),
            'w' => ((int)t.DayOfWeek).ToString(Invariant),
            'u' => (t.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)t.DayOfWeek).ToString(Invariant),
            'x' => t.ToString("MM/dd/yy", Invariant),
            'X' => t.ToString("HH:mm:ss", Invariant),
            'y' => Num(t.Year % 100, 2),
            'Y' => t.Year.ToString(Invariant),
            'Z' => t.Kind == DateTimeKind.Utc ? "UTC" : "",
            'z' => t.Kind == DateTimeKind.Utc ? "+0000" : "",
            'D' => t.ToString("MM/dd/yy", Invariant),
            'F' => t.ToString("yyyy-MM-dd", Invariant),
            'T' => t.ToString("HH:mm:ss", Invariant),
            'R' => t.ToString("HH:mm", Invariant),
            'n' => "\n",
            't' => "\t",
            '%' => "%",
            _ => null,
        };
    }
}
