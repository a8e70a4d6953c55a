using System.Globalization;
using System.Text;

namespace ReasonSharp.Templates;

/// <summary>Python's str: lengths, indices and slices count code points; the methods templates call.</summary>
internal static class PyString
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    static bool HasSurrogates(string s) => s.AsSpan().IndexOfAnyInRange('\ud800', '\udfff') >= 0;

    /// <summary>The string as code points, each a string of one or two chars.</summary>
    static string[] CodePoints(string s)
    {
        var result = new List<string>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i
                + 1])) { result.Add(s.Substring(i, 2)); i++; }
            else result.Add(s[i].ToString());
        }
        return [.. result];
    }

    public static int Length(string s) => HasSurrogates(s) ? CodePoints(s).Length : s.Length;

    public static IEnumerable<object?> Characters(string s)
    {
        if (!HasSurrogates(s))
        {
            foreach (var c in s) yield return c.ToString();
            yield break;
        }
        foreach (var c in CodePoints(s)) yield return c;
    }

    /// <summary>s[index], or null when out of range.</summary>
    public static string? At(string s, long index)
    {
        if (!HasSurrogates(s))
        {
            if (index < 0) index += s.Length;
            return index >= 0 && index < s.Length ? s[(int)index].ToString() : null;
        }
        var points = CodePoints(s);
        if (index < 0) index += points.Length;
        return index >= 0 && index < points.Length ? points[index] : null;
    }

    public static string Slice(string s, long? start, long? stop, long? step)
    {
        if (!HasSurrogates(s))
        {
            var chars = Sequences.SliceIndices(s.Length, start, stop, step);
            if (step is null or 1) return chars.Count == 0 ? "" : s.Substring(chars[0], chars.Count);
            var b = new StringBuilder(chars.Count);
            foreach (var i in chars) b.Append(s[i]);
            return b.ToString();
        }
        var points = CodePoints(s);
        return string.Concat(Sequences.SliceIndices(points.Length, start, stop, step).Select(i => points[i]));
    }

    /// <summary>A UTF-16 offset as a code point index.</summary>
    static long CodePointIndex(string s, int offset) => offset < 0 ? offset : Length(s[..offset]);

    /// <summary>A code point index as a UTF-16 offset (clamped to the string).</summary>
    static int Utf16Offset(string s, long index)
    {
        var length = Length(s);
        if (index < 0) index = Math.Max(0, index + length);
        if (index > length) index = length;
        if (!HasSurrogates(s)) return (int)index;
        var offset = 0;
        for (var i = 0; i < index; i++) offset += char.IsHighSurrogate(s[offset]) && offset + 1 < s.Length ? 2 : 1;
        return offset;
    }

    // ---- strip and split ----

    public static string Strip(string s, string? chars, bool left = true, bool right = true)
    {
        int start = 0, end = s.Length;
        if (chars is null)
        {
            if (left) while (start < end && Py.IsSpace(s[start])) start++;
            if (right) while (end > start && Py.IsSpace(s[end - 1])) end--;
        }
        else
        {
            if (left) while (start < end && chars.Contains(s[start])) start++;
            if (right) while (end > start && chars.Contains(s[end - 1])) end--;
        }
        return start == 0 && end == s.Length ? s : s[start..end];
    }

    public static List<object?> Split(string s, string? separator, long maxSplit)
    {
        var parts = new List<object?>();
        if (separator is null)
        {
            var i = 0;
            while (true)
            {
                while (i < s.Length && Py.IsSpace(s[i])) i++;
                if (i == s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(s[i..]);
                    break;
                }
                var start = i;
                while (i < s.Length && !Py.IsSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        if (separator.Length == 0) throw PyError.ValueError("empty separator");
        var from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            var at = s.IndexOf(separator, from, StringComparison.Ordinal);
            if (at < 0) break;
            parts.Add(s[from..at]);
            from = at + separator.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    public static List<object?> RSplit(string s, string? separator, long maxSplit)
    {
        if (maxSplit < 0) return Split(s, separator, -1);
        var parts = new List<object?>();
        if (separator is null)
        {
            var i = s.Length;
            while (true)
            {
                while (i > 0 && Py.IsSpace(s[i - 1])) i--;
                if (i == 0) break;
                if (parts.Count == maxSplit)
                {
                    parts.Add(s[..i]);
                    break;
                }
                var end = i;
                while (i > 0 && !Py.IsSpace(s[i - 1])) i--;
                parts.Add(s[i..end]);
            }
        }
        else
        {
            if (separator.Length == 0) throw PyError.ValueError("empty separator");
            var to = s.Length;
            while (parts.Count < maxSplit)
            {
                var at = to - separator.Length < 0 ? -1 : s.LastIndexOf(separator, to - 1, to,
                    StringComparison.Ordinal);
                if (at < 0 || at + separator.Length > to) break;
                parts.Add(s[(at + separator.Length)..to]);
                to = at;
            }
            parts.Add(s[..to]);
        }
        parts.Reverse();
        return parts;
    }

    static bool IsLineBreak(char c) => c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85'
        or '\u2028' or '\u2029';

    public static List<object?> SplitLines(string s, bool keepEnds = false)
    {
        var lines = new List<object?>();
        var start = 0;
        var i = 0;
        while (i < s.Length)
        {
            if (!IsLineBreak(s[i])) { i++; continue; }
            var breakLength = s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n' ? 2 : 1;
            lines.Add(keepEnds ? s[start..(i + breakLength)] : s[start..i]);
            i += breakLength;
            start = i;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    public static (string Before, string Separator, string After)? Partition(string s, string separator, bool fromRight)
    {
        if (separator.Length == 0) throw PyError.ValueError("empty separator");
        var at = fromRight ? s.LastIndexOf(separator, StringComparison.Ordinal) : s.IndexOf(separator,
            StringComparison.Ordinal);
        return at < 0 ? null : (s[..at], separator, s[(at + separator.Length)..]);
    }

    // ---- case ----

    public static string Upper(string s) => s.ToUpperInvariant();
    public static string Lower(string s) => s.ToLowerInvariant();

    static bool IsCased(char c) => char.IsUpper(c) || char.IsLower(c)
        || char.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;

    /// <summary>Python's str.title: the first cased letter after an uncased character goes upper, the others
    /// lower.</summary>
    public static string Title(string s)
    {
        var b = new StringBuilder(s.Length);
        var previousCased = false;
        foreach (var c in s)
        {
            if (IsCased(c))
            {
                b.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
                previousCased = true;
            }
            else
            {
                b.Append(c);
                previousCased = false;
            }
        }
        return b.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    public static string SwapCase(string s) =>
        string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.IsLower(c)
            ? char.ToUpperInvariant(c) : c));

    // ---- search ----

    /// <summary>str.find / rfind / index / rindex with optional start and end (code point indices).</summary>
    public static long Find(string s, string sub, long? start, long? end, bool fromRight)
    {
        var from = start is { } a ? Utf16Offset(s, a) : 0;
        var to = end is { } b ? Utf16Offset(s, b) : s.Length;
        if (to < from) return -1;
        var window = s[from..to];
        var at = fromRight ? window.LastIndexOf(sub, StringComparison.Ordinal) : window.IndexOf(sub,
            StringComparison.Ordinal);
        return at < 0 ? -1 : CodePointIndex(s, from + at);
    }

    public static long Count(string s, string sub, long? start, long? end)
    {
        var from = start is { } a ? Utf16Offset(s, a) : 0;
        var to = end is { } b ? Utf16Offset(s, b) : s.Length;
        if (to < from) return 0;
        var window = s[from..to];
        if (sub.Length == 0) return Length(window) + 1;
        long count = 0;
        for (var at = window.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = window.IndexOf(sub, at + sub.Length,
            StringComparison.Ordinal))
            count++;
        return count;
    }

    public static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertEverywhere(s, replacement, long.MaxValue) : s.Replace(old,
            replacement, StringComparison.Ordinal);
        if (old.Length == 0) return InsertEverywhere(s, replacement, count);
        var b = new StringBuilder();
        var from = 0;
        for (long done = 0; done < count; done++)
        {
            var at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0) break;
            b.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }
        return b.Append(s, from, s.Length - from).ToString();
    }

    static string InsertEverywhere(string s, string insert, long count)
    {
        var b = new StringBuilder();
        long done = 0;
        foreach (var c in CodePoints(s))
        {
            if (done++ < count) b.Append(insert);
            b.Append(c);
        }
        if (done < count) b.Append(insert);
        return b.ToString();
    }

    public static bool StartsOrEndsWith(string s, object? affix, long? start, long? end, bool atEnd, string method)
    {
        var from = start is { } a ? Utf16Offset(s, a) : 0;
        var to = end is { } b ? Utf16Offset(s, b) : s.Length;
        if (to < from) return false;
        var window = s.Substring(from, to - from);
        if (affix is PyTuple tuple)
        {
            foreach (var item in tuple.Items)
                if (Check(item)) return true;
            return false;
        }
        return Check(affix);

        bool Check(object? candidate)
        {
            var text = Py.AsString(candidate)
                ?? throw PyError.TypeError($"{method} first arg must be str or a tuple of str, not "
                    + $"{Py.TypeName(candidate)}");
            return atEnd ? window.EndsWith(text, StringComparison.Ordinal) : window.StartsWith(text,
                StringComparison.Ordinal);
        }
    }

    public static string Pad(string s, long width, char fill, int align)
    {
        var length = Length(s);
        if (width <= length) return s;
        var total = (int)(width - length);
        var left = align switch { < 0 => 0, > 0 => total, _ => total / 2 + (int)(total & width & 1) };
        return new string(fill, left) + s + new string(fill, total - left);
    }

    public static string ZFill(string s, long width)
    {
        var length = Length(s);
        if (width <= length) return s;
        var sign = s.Length > 0 && s[0] is '+' or '-' ? 1 : 0;
        return s[..sign] + new string('0', (int)(width - length)) + s[sign..];
    }

    public static bool All(string s, Func<char, bool> test) => s.Length > 0 && s.All(test);

    // ---- printf-style formatting: "%s" % value ----

    public static string PercentFormat(string format, object? args)
    {
        var positional = args is PyTuple tuple ? tuple.Items : [args];
        var mapping = args as PyDict;
        var next = 0;
        var b = new StringBuilder();
        var i = 0;
        while (i < format.Length)
        {
            var c = format[i++];
            if (c != '%') { b.Append(c); continue; }
            if (i >= format.Length) throw PyError.ValueError("incomplete format");
            object? value = null;
            var fromMapping = false;
            if (format[i] == '(')
            {
                var close = format.IndexOf(')', i);
                if (close < 0) throw PyError.ValueError("incomplete format key");
                if (mapping is null) throw PyError.TypeError("format requires a mapping");
                var key = format[(i + 1)..close];
                if (!mapping.TryGetValue(key, out value)) throw new PyError("KeyError", Py.Repr(key));
                fromMapping = true;
                i = close + 1;
            }
            var flags = "";
            while (i < format.Length && "-+ #0".Contains(format[i])) flags += format[i++];
            int? width = ReadNumber(format, ref i, positional, ref next);
            int? precision = null;
            if (i < format.Length && format[i] == '.')
            {
                i++;
                precision = ReadNumber(format, ref i, positional, ref next) ?? 0;
            }
            while (i < format.Length && format[i] is 'h' or 'l' or 'L') i++;
            if (i >= format.Length) throw PyError.ValueError("incomplete format");
            var type = format[i++];
            if (type == '%') { b.Append('%'); continue; }
            if (!fromMapping)
            {
                if (next >= positional.Length) throw PyError.TypeError("not enough arguments for format string");
                value = positional[next++];
            }
            b.Append(FormatOne(value, flags, width, precision, type));
        }
        if (mapping is null && next < positional.Length)
            throw PyError.TypeError("not all arguments converted during string formatting");
        return b.ToString();
    }

    static int? ReadNumber(string format, ref int i, object?[] positional, ref int next)
    {
        if (i < format.Length && format[i] == '*')
        {
            i++;
            return (int)Py.ToLong(positional[next++]!);
        }
        var start = i;
        while (i < format.Length && char.IsAsciiDigit(format[i])) i++;
        return i > start ? int.Parse(format[start..i], Invariant) : null;
    }

    static string FormatOne(object? value, string flags, int? width, int? precision, char type)
    {
        string body;
        switch (type)
        {
            case 's': body = Py.Str(value); if (precision is { } p && p < body.Length) body = body[..p]; break;
            case 'r' or 'a': body = Py.Repr(value); if (precision is { } q && q < body.Length) body = body[..q]; break;
            case 'c': body = value is long code ? char.ConvertFromUtf32((int)code) : Py.Str(value); break;
            case 'd' or 'i' or 'u': body = Signed(IntegerOf(value, type).ToString(Invariant), flags); break;
            case 'x' or 'X' or 'o':
                var n = IntegerOf(value, type);
                var digits = type == 'o' ? Convert.ToString(Math.Abs(n), 8) : Math.Abs(n).ToString(type == 'x' ? "x"
                    : "X", Invariant);
                if (flags.Contains('#')) digits = (type == 'o' ? "0o" : type == 'x' ? "0x" : "0X") + digits;
                body = Signed(n < 0 ? "-" + digits : digits, flags);
                break;
            case 'f' or 'F' or 'e' or 'E' or 'g' or 'G':
                if (!Py.IsNumber(value)) throw PyError.TypeError($"must be real number, not {Py.TypeName(value)}");
                body = Signed(FormatFloat(Py.ToDouble(value!), type, precision ?? 6, flags.Contains('#')), flags);
                break;
            default: throw PyError.ValueError($"unsupported format character '{type}'");
        }
        if (width is { } w && body.Length < w)
        {
            if (flags.Contains('-')) body = body.PadRight(w);
            else if (flags.Contains('0') && type is not ('s' or 'r' or 'a' or 'c'))
            {
                var sign = body.Length > 0 && body[0] is '-' or '+' or ' ' ? 1 : 0;
                body = body[..sign] + new string('0', w - body.Length) + body[sign..];
            }
            else body = body.PadLeft(w);
        }
        return body;
    }

    static long IntegerOf(object? value, char type) => value switch
    {
        long or bool => Py.ToLong(value),
        double d when type is 'd' or 'i' or 'u' => (long)Math.Truncate(d),
        _ => throw PyError.TypeError($"%{type} format: a real number is required, not {Py.TypeName(value)}"),
    };

    static string Signed(string body, string flags) =>
        body.StartsWith('-') ? body : flags.Contains('+') ? "+" + body : flags.Contains(' ') ? " " + body : body;

    /// <summary>A float in printf's f, e or g notation (as Python's %-formatting and format specs write it).</summary>
    public static string FormatFloat(double d, char type, int precision, bool alternate = false)
    {
        if (double.IsNaN(d)) return char.IsUpper(type) ? "NAN" : "nan";
        if (double.IsInfinity(d)) return (d < 0 ? "-" : "") + (char.IsUpper(type) ? "INF" : "inf");
        switch (type)
        {
            case 'f' or 'F':
                return d.ToString("F" + precision, Invariant);
            case 'e' or 'E':
                var e = d.ToString((type == 'e' ? "e" : "E") + precision, Invariant);
                return FixExponent(e);
            default:
                if (precision == 0) precision = 1;
                if (d == 0) return alternate ? "0." + new string('0', precision - 1) : (double.IsNegative(d) ? "-0"
                    : "0");
                var exponent = (int)Math.Floor(Math.Log10(Math.Abs(double.Parse(d.ToString("E" + (precision - 1),
                    Invariant), Invariant))));
                string text;
                if (exponent < -4 || exponent >= precision)
                {
                    text = FixExponent(d.ToString((type == 'g' ? "e" : "E") + (precision - 1), Invariant));
                    if (!alternate)
                    {
                        var at = text.IndexOfAny(['e', 'E']);
                        var mantissa = text[..at];
                        if (mantissa.Contains('.')) mantissa = mantissa.TrimEnd('0').TrimEnd('.');
                        text = mantissa + text[at..];
                    }
                }
                else
                {
                    text = d.ToString("F" + Math.Max(0, precision - 1 - exponent), Invariant);
                    if (!alternate && text.Contains('.')) text = text.TrimEnd('0').TrimEnd('.');
                }
                return text;
        }
    }

    /// <summary>.NET writes exponents as e+006; Python as e+06.</summary>
    static string FixExponent(string text)
    {
        var at = text.IndexOfAny(['e', 'E']);
        if (at < 0) return text;
        var sign = text[at + 1];
        var digits = text[(at + 2)..].TrimStart('0');
        if (digits.Length < 2) digits = digits.PadLeft(2, '0');
        return text[..(at + 1)] + sign + digits;
    }
}
