using System.Globalization;
using System.Text;

namespace ReasonSharp.Templates;

/// <summary>Python's semantics for template values: truth, str and repr, equality and ordering, arithmetic,
/// iteration, length and membership.</summary>
internal static class Py
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        bool => "bool",
        long or int => "int",
        double => "float",
        string => "str",
        Markup => "Markup",
        List<object?> => "list",
        PyTuple => "tuple",
        PyDict => "dict",
        Undefined => "Undefined",
        Namespace => "Namespace",
        PyIterator => "generator",
        DictView v => v.Kind switch
        {
            DictViewKind.Keys => "dict_keys",
            DictViewKind.Values => "dict_values",
            _ => "dict_items"
        },
        LoopContext => "LoopContext",
        Macro => "Macro",
        BoundMethod => "builtin_function_or_method",
        PyCallable => "function",
        _ => value.GetType().Name,
    };

    public static bool Truthy(object? value) => value switch
    {
        null => false,
        bool b => b,
        string s => s.Length > 0,
        long l => l != 0,
        double d => d != 0,
        List<object?> l => l.Count > 0,
        PyDict d => d.Count > 0,
        PyTuple t => t.Count > 0,
        Undefined => false,
        Markup m => m.Value.Length > 0,
        DictView v => v.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;
    public static bool IsString(object? value) => value is string or Markup;
    public static string? AsString(object? value) => value as string ?? (value as Markup)?.Value;

    // ---- str() and repr() ----

    public static string Str(object? value) => value switch
    {
        string s => s,
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(Invariant),
        double d => FloatRepr(d),
        Markup m => m.Value,
        Undefined => "",
        _ => Repr(value),
    };

    public static string Repr(object? value)
    {
        var text = new StringBuilder();
        AppendRepr(text, value);
        return text.ToString();
    }

    static void AppendRepr(StringBuilder text, object? value)
    {
        switch (value)
        {
            case string s: AppendStringRepr(text, s); break;
            case Markup m: text.Append("Markup("); AppendStringRepr(text, m.Value); text.Append(')'); break;
            case List<object?> list:
                text.Append('[');
                for (var i = 0; i < list.Count; i++) { if (i > 0) text.Append(", "); AppendRepr(text, list[i]); }
                text.Append(']');
                break;
            case PyTuple tuple:
                text.Append('(');
                for (var i = 0; i < tuple.Count; i++) { if (i > 0) text.Append(", "); AppendRepr(text, tuple[i]); }
                text.Append(tuple.Count == 1 ? ",)" : ")");
                break;
            case PyDict dict:
                text.Append('{');
                var first = true;
                foreach (var (k, v) in dict)
                {
                    if (!first) text.Append(", ");
                    first = false;
                    AppendRepr(text, k);
                    text.Append(": ");
                    AppendRepr(text, v);
                }
                text.Append('}');
                break;
            case Undefined: text.Append("Undefined"); break;
            case Namespace ns:
                text.Append("<Namespace ");
                var attributes = new PyDict();
                foreach (var (k, v) in ns.Attributes) attributes[k] = v;
                AppendRepr(text, attributes);
                text.Append('>');
                break;
            case DictView view:
                text.Append(TypeName(view)).Append('(');
                AppendRepr(text, view.ToList());
                text.Append(')');
                break;
            case PyIterator iterator: text.Append('<').Append(iterator.Kind).Append(" object>"); break;
            case LoopContext loop: text.Append(loop); break;
            case Macro macro: text.Append("<Macro '").Append(macro.Name).Append("'>"); break;
            case PyCallable callable: text.Append("<built-in function ").Append(callable.Name).Append('>'); break;
            default: text.Append(Str(value)); break;
        }
    }

    /// <summary>Python's repr of a str: single quotes unless the text has ' and no ".</summary>
    public static void AppendStringRepr(StringBuilder text, string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        text.Append(quote);
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == quote || c == '\\') text.Append('\\').Append(c);
            else if (c == '\t') text.Append("\\t");
            else if (c == '\n') text.Append("\\n");
            else if (c == '\r') text.Append("\\r");
            else if (c < ' ' || c == '\x7f') text.Append("\\x").Append(((int)c).ToString("x2", Invariant));
            else if (c < '\x7f') text.Append(c);
            else
            {
                var codePoint = char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])
                    ? char.ConvertToUtf32(c, s[i + 1]) : c;
                var width = codePoint > 0xffff ? 2 : 1;
                if (IsPrintable(codePoint)) text.Append(s, i, width);
                else if (codePoint <= 0xff) text.Append("\\x").Append(codePoint.ToString("x2", Invariant));
                else if (codePoint <= 0xffff) text.Append("\\u").Append(codePoint.ToString("x4", Invariant));
                else text.Append("\\U").Append(codePoint.ToString("x8", Invariant));
                i += width - 1;
            }
        }
        text.Append(quote);
    }

    static bool IsPrintable(int codePoint)
    {
        if (codePoint is >= 0xd800 and <= 0xdfff) return false;
        var category = CharUnicodeInfo.GetUnicodeCategory(codePoint);
        return category switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator
                    or UnicodeCategory.ParagraphSeparator => false,
            UnicodeCategory.SpaceSeparator => codePoint == ' ',
            _ => true,
        };
    }

    /// <summary>Python's repr of a float: the shortest digits that read back, in fixed notation unless the exponent
    /// is below -4 or at least 16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        var (negative, digits, exponent) = ShortestDigits(d);
        var text = new StringBuilder();
        if (negative) text.Append('-');
        var decimalPoint = exponent + 1; // digits d1 d2 … with the point after position decimalPoint
        if (decimalPoint is > -4 and <= 16)
        {
            if (decimalPoint <= 0) text.Append("0.").Append('0', -decimalPoint).Append(digits);
            else if (decimalPoint >= digits.Length) text.Append(digits).Append('0',
                decimalPoint - digits.Length).Append(".0");
            else text.Append(digits, 0, decimalPoint).Append('.').Append(digits, decimalPoint,
                digits.Length - decimalPoint);
        }
        else
        {
            text.Append(digits[0]);
            if (digits.Length > 1) text.Append('.').Append(digits, 1, digits.Length - 1);
            text.Append('e').Append(exponent < 0 ? '-' : '+').Append(Math.Abs(exponent).ToString("00", Invariant));
        }
        return text.ToString();
    }

    /// <summary>The shortest round-trip digits of a finite non-zero double and the exponent of its first
    /// digit.</summary>
    public static (bool Negative, string Digits, int Exponent) ShortestDigits(double d)
    {
        var shortest = d.ToString("R", Invariant);
        var negative = shortest[0] == '-';
        if (negative) shortest = shortest[1..];
        var e = shortest.IndexOfAny(['E', 'e']);
        var mantissa = e < 0 ? shortest : shortest[..e];
        var exponent10 = e < 0 ? 0 : int.Parse(shortest[(e + 1)..], NumberStyles.AllowLeadingSign, Invariant);
        var point = mantissa.IndexOf('.');
        var intPart = point < 0 ? mantissa : mantissa[..point];
        var fraction = point < 0 ? "" : mantissa[(point + 1)..];
        var all = intPart + fraction;
        var leading = 0;
        while (leading < all.Length - 1 && all[leading] == '0') leading++;
        var digits = all[leading..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        var exponent = intPart.Length - 1 - leading + exponent10;
        return (negative, digits, exponent);
    }

    // ---- equality and ordering ----

    public static bool Eq(object? a, object? b)
    {
        if (ReferenceEquals(a, b)) return true;
        switch (a)
        {
            case string s:
                return b is string t ? string.Equals(s, t, StringComparison.Ordinal) : b is Markup bm
                && s == bm.Value;
            case Markup m: return AsString(b) is { } other && m.Value == other;
            case long or double or bool: return IsNumber(b) && NumberEquals(a, b!);
            case null: return b is null;
            case Undefined: return b is Undefined;
            case List<object?> list: return b is List<object?> other2 && SequenceEquals(list, other2);
            case PyTuple tuple: return b is PyTuple other3 && SequenceEquals(tuple.Items, other3.Items);
            case PyDict dict:
                if (b is not PyDict d2 || d2.Count != dict.Count) return false;
                foreach (var (k, v) in dict)
                    if (!d2.TryGetValue(k, out var v2) || !Eq(v, v2)) return false;
                return true;
            default: return a.Equals(b);
        }
    }

    static bool SequenceEquals(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count) return false;
        for (var i = 0; i < a.Count; i++) if (!Eq(a[i], b[i])) return false;
        return true;
    }

    static bool NumberEquals(object a, object b)
    {
        if (a is double || b is double) return ToDouble(a) == ToDouble(b);
        return ToLong(a) == ToLong(b);
    }

    public static long ToLong(object value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        int i => i,
        _ => (long)(double)value
    };
    public static double ToDouble(object value) => value switch
    {
        double d => d,
        long l => l,
        bool b => b ? 1 : 0,
        int i => i,
        _ => 0
    };

    /// <summary>a &lt; b and friends: numbers, strings (by code point) and sequences (element-wise).</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double)
            {
                double x = ToDouble(a!), y = ToDouble(b!);
                if (double.IsNaN(x) || double.IsNaN(y)) return op is "<" or "<=" ? 1 : -1; // every comparison false
                return x.CompareTo(y);
            }
            return ToLong(a!).CompareTo(ToLong(b!));
        }
        if (AsString(a) is { } s && AsString(b) is { } t) return CompareCodePoints(s, t);
        if (a is List<object?> la && b is List<object?> lb) return CompareSequences(la, lb, op);
        if (a is PyTuple ta && b is PyTuple tb) return CompareSequences(ta.Items, tb.Items, op);
        throw PyError.TypeError($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    static int CompareSequences(IReadOnlyList<object?> a, IReadOnlyList<object?> b, string op)
    {
        for (var i = 0; i < Math.Min(a.Count, b.Count); i++)
            if (!Eq(a[i], b[i])) return Compare(a[i], b[i], op);
        return a.Count.CompareTo(b.Count);
    }

    public static int CompareCodePoints(string a, string b)
    {
        var n = Math.Min(a.Length, b.Length);
        for (var i = 0; i < n; i++)
        {
            if (a[i] == b[i]) continue;
            // UTF-16 order differs from code point order only between surrogates and U+E000..U+FFFF.
            bool sa = char.IsSurrogate(a[i]), sb = char.IsSurrogate(b[i]);
            if (sa != sb) return sa ? 1 : -1;
            return a[i].CompareTo(b[i]);
        }
        return a.Length.CompareTo(b.Length);
    }

    // ---- containers ----

    /// <summary>Python's iter(): items of a list, tuple or view, keys of a dict, characters of a string.</summary>
    public static IEnumerable<object?> Iterate(object? value) => value switch
    {
        List<object?> list => list,
        PyTuple tuple => tuple.Items,
        PyDict dict => dict.Keys,
        string s => PyString.Characters(s),
        Markup m => PyString.Characters(m.Value).Select(c => (object?)new Markup((string)c!)),
        PyIterator iterator => iterator.Drain(),
        DictView view => view,
        Undefined => [],
        _ => throw PyError.TypeError($"'{TypeName(value)}' object is not iterable"),
    };

    /// <summary>The items as a list (a list is returned as it is).</summary>
    public static IReadOnlyList<object?> ToList(object? value) => value switch
    {
        List<object?> list => list,
        PyTuple tuple => tuple.Items,
        _ => Iterate(value).ToList(),
    };

    public static bool IsIterable(object? value) =>
        value is List<object?> or PyTuple or PyDict or string or Markup or PyIterator or DictView or Undefined;

    public static int Len(object? value) => value switch
    {
        string s => PyString.Length(s),
        Markup m => PyString.Length(m.Value),
        List<object?> list => list.Count,
        PyTuple tuple => tuple.Count,
        PyDict dict => dict.Count,
        DictView view => view.Count,
        Undefined => 0,
        Namespace => throw PyError.TypeError("object of type 'Namespace' has no len()"),
        _ => throw PyError.TypeError($"object of type '{TypeName(value)}' has no len()"),
    };

    /// <summary>`item in container`.</summary>
    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string or Markup:
                var text = AsString(container)!;
                if (AsString(item) is { } needle) return text.Contains(needle, StringComparison.Ordinal);
                if (item is Undefined u) throw u.Fail();
                throw PyError.TypeError($"'in <string>' requires string as left operand, not {TypeName(item)}");
            case PyDict dict:
                return item is not null && !(item is Undefined) && dict.ContainsKey(Hashable(item));
            case List<object?> list:
                foreach (var x in list) if (Eq(x, item)) return true;
                return false;
            case PyTuple tuple:
                foreach (var x in tuple.Items) if (Eq(x, item)) return true;
                return false;
            case Undefined:
                return false;
            case DictView view:
                foreach (var x in view) if (Eq(x, item)) return true;
                return false;
            case PyIterator iterator:
                foreach (var x in iterator.Drain()) if (Eq(x, item)) return true;
                return false;
            default:
                throw PyError.TypeError($"argument of type '{TypeName(container)}' is not iterable");
        }
    }

    static object Hashable(object item)
    {
        if (item is List<object?> or PyDict) throw PyError.TypeError($"unhashable type: '{TypeName(item)}'");
        return item;
    }

    // ---- arithmetic ----

    public static object? Add(object? a, object? b)
    {
        if (a is long x && b is long y) return AddLong(x, y);
        if (a is string s && b is string t) return string.Concat(s, t);
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        if (a is Markup ma && (b is string || b is Markup)) return new Markup(ma.Value + Markup.Escape(b).Value);
        if (b is Markup mb && a is string sa) return new Markup(Markup.EscapeText(sa) + mb.Value);
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a!) + ToDouble(b!) : (object)AddLong(ToLong(a!), ToLong(b!));
        if (a is List<object?> la && b is List<object?> lb) return new List<object?>(la.Concat(lb));
        if (a is PyTuple ta && b is PyTuple tb) return new PyTuple([.. ta.Items, .. tb.Items]);
        if (a is string) throw PyError.TypeError($"can only concatenate str (not \"{TypeName(b)}\") to str");
        if (a is List<object?>) throw PyError.TypeError($"can only concatenate list (not \"{TypeName(b)}\") to list");
        throw Unsupported("+", a, b);
    }

    public static object? Sub(object? a, object? b)
    {
        FailUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a!) - ToDouble(b!) : (object)SubLong(ToLong(a!), ToLong(b!));
        throw Unsupported("-", a, b);
    }

    public static object? Mul(object? a, object? b)
    {
        FailUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a!) * ToDouble(b!) : (object)MulLong(ToLong(a!), ToLong(b!));
        if (IsInt(b) && Repeatable(a)) return Repeat(a!, ToLong(b!));
        if (IsInt(a) && Repeatable(b)) return Repeat(b!, ToLong(a!));
        throw PyError.TypeError(IsString(a) || IsString(b)
            ? $"can't multiply sequence by non-int of type '{TypeName(IsString(a) ? b : a)}'"
            : $"unsupported operand type(s) for *: '{TypeName(a)}' and '{TypeName(b)}'");
    }

    static bool IsInt(object? value) => value is long or bool;
    static bool Repeatable(object? value) => value is string or Markup or List<object?> or PyTuple;

    static object Repeat(object sequence, long times)
    {
        var n = (int)Math.Max(0, Math.Min(times, 10_000_000));
        switch (sequence)
        {
            case string s: return new StringBuilder(s.Length * n).Insert(0, s, n).ToString();
            case Markup m: return new Markup(new StringBuilder().Insert(0, m.Value, n).ToString());
            case List<object?> list:
                var result = new List<object?>(list.Count * n);
                for (var i = 0; i < n; i++) result.AddRange(list);
                return result;
            default:
                var tuple = (PyTuple)sequence;
                return new PyTuple(Enumerable.Repeat(tuple.Items, n).SelectMany(x => x).ToArray());
        }
    }

    public static object? TrueDiv(object? a, object? b)
    {
        FailUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("/", a, b);
        var y = ToDouble(b!);
        if (y == 0) throw new PyError("ZeroDivisionError", a is double || b is double ? "float division by zero"
            : "division by zero");
        return ToDouble(a!) / y;
    }

    public static object? FloorDiv(object? a, object? b)
    {
        FailUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("//", a, b);
        if (a is double || b is double)
        {
            var y = ToDouble(b!);
            if (y == 0) throw new PyError("ZeroDivisionError", "float floor division by zero");
            return Math.Floor(ToDouble(a!) / y);
        }
        long p = ToLong(a!), q = ToLong(b!);
        if (q == 0) throw new PyError("ZeroDivisionError", "integer division or modulo by zero");
        var quotient = p / q;
        if ((p % q != 0) && ((p < 0) != (q < 0))) quotient--;
        return quotient;
    }

    public static object? Mod(object? a, object? b)
    {
        if (a is string format) return PyString.PercentFormat(format, b);
        if (a is Markup markup) return new Markup(PyString.PercentFormat(markup.Value, EscapeArguments(b)));
        FailUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("%", a, b);
        if (a is double || b is double)
        {
            double x = ToDouble(a!), y = ToDouble(b!);
            if (y == 0) throw new PyError("ZeroDivisionError", "float modulo");
            var r = x % y;
            if (r != 0 && (r < 0) != (y < 0)) r += y;
            return r;
        }
        long p = ToLong(a!), q = ToLong(b!);
        if (q == 0) throw new PyError("ZeroDivisionError", "integer division or modulo by zero");
        var m = p % q;
        if (m != 0 && (m < 0) != (q < 0)) m += q;
        return m;
    }

    static object? EscapeArguments(object? args) => args switch
    {
        PyTuple t => new PyTuple(t.Items.Select(x => x is string s ? Markup.Escape(s) : x).ToArray()),
        string s => Markup.Escape(s),
        _ => args,
    };

    public static object? Pow(object? a, object? b)
    {
        FailUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("** or pow()", a, b);
        if (a is double || b is double || ToLong(b!) < 0)
        {
            double x = ToDouble(a!), y = ToDouble(b!);
            if (x == 0 && y < 0) throw new PyError("ZeroDivisionError", "0.0 cannot be raised to a negative power");
            return Math.Pow(x, y);
        }
        long result = 1, bas = ToLong(a!), exp = ToLong(b!);
        while (exp > 0)
        {
            if ((exp & 1) == 1) result = MulLong(result, bas);
            exp >>= 1;
            if (exp > 0) bas = MulLong(bas, bas);
        }
        return result;
    }

    public static object? Negate(object? a) => a switch
    {
        long l => (object)SubLong(0, l),
        double d => -d,
        bool b => b ? -1L : 0L,
        Undefined u => throw u.Fail(),
        _ => throw PyError.TypeError($"bad operand type for unary -: '{TypeName(a)}'"),
    };

    public static object? Plus(object? a) => a switch
    {
        long or double => a,
        bool b => (object)(b ? 1L : 0L),
        Undefined u => throw u.Fail(),
        _ => throw PyError.TypeError($"bad operand type for unary +: '{TypeName(a)}'"),
    };

    static void FailUndefined(object? a, object? b)
    {
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
    }

    static PyError Unsupported(string op, object? a, object? b) =>
        PyError.TypeError($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");

    static long AddLong(long x, long y)
    {
        var sum = x + y;
        return ((x ^ sum) & (y ^ sum)) < 0 ? throw Overflow() : sum;
    }

    static long SubLong(long x, long y)
    {
        var difference = x - y;
        return ((x ^ y) & (x ^ difference)) < 0 ? throw Overflow() : difference;
    }

    static long MulLong(long x, long y)
    {
        var product = Math.BigMul(x, y, out var low);
        return (product == 0 && low >= 0) || (product == -1 && low < 0) ? low : throw Overflow();
    }

    static PyError Overflow() => new("OverflowError", "integer results beyond 64 bits are not supported");

    // ---- whitespace as Python's str.isspace ----

    public static bool IsSpace(char c) => c switch
    {
        ' ' or '\t' or '\n' or '\r' or '\v' or '\f' => true,
        >= '\x1c' and <= '\x1f' => true,
        '\x85' or '\xa0' or '\u1680' or '\u2028' or '\u2029' or '\u202f' or '\u205f' or '\u3000' => true,
        >= '\u2000' and <= '\u200a' => true,
        _ => false,
    };
}
