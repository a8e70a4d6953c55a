using System.Globalization;
using System.Text;

namespace ReasonSharp.Templates;

/// <summary>Python's str.format ("{0}", "{name}", "{x.attr}", "{x[key]}", "!r", ":>10.2f"), fields looked up as the
/// sandbox does.</summary>
internal static class StrFormat
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Format(Renderer renderer, string format, Args args)
    {
        var b = new StringBuilder();
        var auto = 0;
        var i = 0;
        while (i < format.Length)
        {
            var c = format[i];
            if (c == '}')
            {
                if (i + 1 < format.Length && format[i + 1] == '}') { b.Append('}'); i += 2; continue; }
                throw PyError.ValueError("Single '}' encountered in format string");
            }
            if (c != '{') { b.Append(c); i++; continue; }
            if (i + 1 < format.Length && format[i + 1] == '{') { b.Append('{'); i += 2; continue; }
            var end = FieldEnd(format, i + 1);
            var field = format[(i + 1)..end];
            i = end + 1;
            b.Append(Field(renderer, field, args, ref auto));
        }
        return b.ToString();
    }

    static int FieldEnd(string format, int start)
    {
        var depth = 1;
        for (var i = start; i < format.Length; i++)
        {
            if (format[i] == '{') depth++;
            else if (format[i] == '}' && --depth == 0) return i;
        }
        throw PyError.ValueError("expected '}' before end of string");
    }

    static string Field(Renderer renderer, string field, Args args, ref int auto)
    {
        string? spec = null;
        char? conversion = null;
        var colon = IndexOutsideBrackets(field, ':');
        if (colon >= 0) { spec = field[(colon + 1)..]; field = field[..colon]; }
        var bang = IndexOutsideBrackets(field, '!');
        if (bang >= 0)
        {
            if (bang + 2 != field.Length) throw PyError.ValueError("expected ':' after conversion specifier");
            conversion = field[bang + 1];
            field = field[..bang];
        }
        var nameEnd = 0;
        while (nameEnd < field.Length && field[nameEnd] is not ('.' or '[')) nameEnd++;
        var first = field[..nameEnd];
        object? value;
        if (first.Length == 0)
        {
            if (auto < 0) throw PyError.ValueError("cannot switch from manual field specification to automatic field "
                + "numbering");
            value = Positional(args, auto++);
        }
        else if (int.TryParse(first, NumberStyles.None, Invariant, out var index))
        {
            if (auto > 0) throw PyError.ValueError("cannot switch from automatic field numbering to manual field "
                + "specification");
            auto = -1;
            value = Positional(args, index);
        }
        else if (!args.TryNamed(first, out value)) throw new PyError("KeyError", Py.Repr(first));
        var rest = field[nameEnd..];
        while (rest.Length > 0)
        {
            if (rest[0] == '.')
            {
                var stop = 1;
                while (stop < rest.Length && rest[stop] is not ('.' or '[')) stop++;
                value = Access.GetAttr(value, rest[1..stop]);
                rest = rest[stop..];
            }
            else
            {
                var close = rest.IndexOf(']');
                if (close < 0) throw PyError.ValueError("Missing ']' in format string");
                var key = rest[1..close];
                value = Access.GetItem(value, long.TryParse(key, NumberStyles.None, Invariant, out var n) ? n : key);
                rest = rest[(close + 1)..];
            }
        }
        value = conversion switch
        {
            null => value,
            's' => Py.Str(value),
            'r' or 'a' => Py.Repr(value),
            _ => throw PyError.ValueError($"Unknown conversion specifier {conversion}"),
        };
        if (spec is not null && spec.Contains('{')) spec = Format(renderer, spec, args);
        return FormatValue(value, spec ?? "");
    }

    static int IndexOutsideBrackets(string field, char target)
    {
        var inBracket = false;
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '[') inBracket = true;
            else if (field[i] == ']') inBracket = false;
            else if (field[i] == target && !inBracket) return i;
        }
        return -1;
    }

    static object? Positional(Args args, int index) =>
        index < args.Positional.Length ? args.Positional[index]
            : throw new PyError("IndexError", $"Replacement index {index} out of range for positional args tuple");

    /// <summary>Python's format(value, spec).</summary>
    public static string FormatValue(object? value, string spec)
    {
        if (spec.Length == 0) return Py.Str(value);
        var s = ParseSpec(spec);
        string body;
        var numeric = false;
        switch (value)
        {
            case string or Markup:
                if (s.Type is not (null or 's'))
                    throw PyError.ValueError($"Unknown format code '{s.Type}' for object of type 'str'");
                body = Py.AsString(value)!;
                if (s.Precision is { } p && p < body.Length) body = body[..p];
                break;
            case long or bool when s.Type is null or 'd' or 'n' or 'b' or 'o' or 'x' or 'X' or 'c':
                if (value is bool && s.Type is null && s.Width is null && s.Sign is null) return Py.Str(value);
                numeric = true;
                var n = Py.ToLong(value!);
                body = s.Type switch
                {
                    'b' => Convert.ToString(Math.Abs(n), 2),
                    'o' => Convert.ToString(Math.Abs(n), 8),
                    'x' => Math.Abs(n).ToString("x", Invariant),
                    'X' => Math.Abs(n).ToString("X", Invariant),
                    'c' => char.ConvertFromUtf32((int)n),
                    _ => s.Grouping is { } g ? Math.Abs(n).ToString("#,0", Invariant).Replace(',', g)
                        : Math.Abs(n).ToString(Invariant),
                };
                if (s.Alternate && s.Type is 'b' or 'o' or 'x' or 'X') body = "0" + char.ToLowerInvariant(s.Type.Value)
                    + body;
                body = Sign(n < 0, s.Sign) + body;
                break;
            case long or bool or double:
                numeric = true;
                var d = Py.ToDouble(value!);
                var type = s.Type ?? (s.Precision is null ? 'r' : 'g');
                string digits;
                if (type == 'r') digits = Py.FloatRepr(Math.Abs(d));
                else if (type == '%') digits = PyString.FormatFloat(Math.Abs(d) * 100, 'f', s.Precision ?? 6,
                    s.Alternate) + "%";
                else if (type is 'f' or 'F' or 'e' or 'E' or 'g' or 'G' or 'n')
                    digits = PyString.FormatFloat(Math.Abs(d), type == 'n' ? 'g' : type, s.Precision ?? 6, s.Alternate);
                else throw PyError.ValueError($"Unknown format code '{type}' for object of type 'float'");
                if (s.Type is null && s.Precision is not null && !digits.Contains('.') && !digits.Contains('e')
                    && !digits.Contains("inf")
                    && !digits.Contains("nan")) digits += ".0";
                if (s.Grouping is { } grouping)
                {
                    var point = digits.IndexOfAny(['.', 'e', '%']);
                    var whole = point < 0 ? digits : digits[..point];
                    if (long.TryParse(whole, NumberStyles.None, Invariant, out var wholeNumber))
                        digits = wholeNumber.ToString("#,0", Invariant).Replace(',', grouping) + (point < 0 ? ""
                            : digits[point..]);
                }
                body = Sign(d < 0 || double.IsNegative(d), s.Sign) + digits;
                break;
            default:
                throw PyError.TypeError($"unsupported format string passed to {Py.TypeName(value)}.__format__");
        }
        var align = s.Align ?? (numeric ? '>' : '<');
        if (s.ZeroPad && s.Align is null && numeric) align = '=';
        var fill = s.Fill ?? (s.ZeroPad && s.Align is null ? '0' : ' ');
        var width = s.Width ?? 0;
        var length = PyString.Length(body);
        if (length >= width) return body;
        var padding = width - length;
        return align switch
        {
            '<' => body + new string(fill, padding),
            '^' => new string(fill, padding / 2) + body + new string(fill, padding - padding / 2),
            '=' => SignPrefix(body) + new string(fill, padding) + body[SignPrefix(body).Length..],
            _ => new string(fill, padding) + body,
        };
    }

    static string SignPrefix(string body) => body.Length > 0 && body[0] is '-' or '+' or ' ' ? body[..1] : "";

    static string Sign(bool negative, char? sign) => negative ? "-" : sign switch { '+' => "+", ' ' => " ", _ => "" };

    sealed record Spec(char? Fill, char? Align, char? Sign, bool Alternate, bool ZeroPad, int? Width, char? Grouping,
        int? Precision, char? Type);

    static Spec ParseSpec(string spec)
    {
        var i = 0;
        char? fill = null, align = null, sign = null, grouping = null, type = null;
        if (spec.Length >= 2 && spec[1] is '<' or '>' or '^' or '=') { fill = spec[0]; align = spec[1]; i = 2; }
        else if (spec.Length >= 1 && spec[0] is '<' or '>' or '^' or '=') { align = spec[0]; i = 1; }
        if (i < spec.Length && spec[i] is '+' or '-' or ' ') sign = spec[i++];
        var alternate = i < spec.Length && spec[i] == '#';
        if (alternate) i++;
        var zero = i < spec.Length && spec[i] == '0';
        if (zero) i++;
        int? width = null, precision = null;
        var start = i;
        while (i < spec.Length && char.IsAsciiDigit(spec[i])) i++;
        if (i > start) width = int.Parse(spec[start..i], Invariant);
        if (i < spec.Length && spec[i] is ',' or '_') grouping = spec[i++];
        if (i < spec.Length && spec[i] == '.')
        {
            start = ++i;
            while (i < spec.Length && char.IsAsciiDigit(spec[i])) i++;
            if (i == start) throw PyError.ValueError("Format specifier missing precision");
            precision = int.Parse(spec[start..i], Invariant);
        }
        if (i < spec.Length) type = spec[i++];
        if (i != spec.Length) throw PyError.ValueError("Invalid format specifier");
        return new Spec(fill, align, sign, alternate, zero, width, grouping, precision, type);
    }
}
