using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ReasonSharp.Templates;

/// <summary>Python's json.dumps for template values (transformers' tojson), and template values from JSON.</summary>
internal static class TemplateJson
{
    public static string Dumps(object? value, bool ensureAscii, string? indent, string itemSeparator,
        string keySeparator, bool sortKeys)
    {
        var b = new StringBuilder();
        Write(b, value, ensureAscii, indent, itemSeparator, keySeparator, sortKeys, 0);
        return b.ToString();
    }

    static void Write(StringBuilder b, object? value, bool ascii, string? indent, string itemSep, string keySep,
        bool sort, int level)
    {
        switch (value)
        {
            case null: b.Append("null"); break;
            case bool flag: b.Append(flag ? "true" : "false"); break;
            case long n: b.Append(n.ToString(CultureInfo.InvariantCulture)); break;
            case double d: b.Append(FloatText(d)); break;
            case string or Markup: WriteString(b, Py.AsString(value)!, ascii); break;
            case List<object?> or PyTuple:
                var items = (IReadOnlyList<object?>)value;
                if (items.Count == 0) { b.Append("[]"); break; }
                b.Append('[');
                for (var i = 0; i < items.Count; i++)
                {
                    if (i > 0) b.Append(itemSep);
                    NewLine(b, indent, level + 1);
                    Write(b, items[i], ascii, indent, itemSep, keySep, sort, level + 1);
                }
                NewLine(b, indent, level);
                b.Append(']');
                break;
            case PyDict dict:
                if (dict.Count == 0) { b.Append("{}"); break; }
                IEnumerable<KeyValuePair<object, object?>> pairs = dict;
                if (sort) pairs = dict.OrderBy(p => p.Key, Comparer<object>.Create((x, y) => Py.Compare(x, y, "<")));
                b.Append('{');
                var first = true;
                foreach (var (key, item) in pairs)
                {
                    if (!first) b.Append(itemSep);
                    first = false;
                    NewLine(b, indent, level + 1);
                    WriteString(b, KeyText(key), ascii);
                    b.Append(keySep);
                    Write(b, item, ascii, indent, itemSep, keySep, sort, level + 1);
                }
                NewLine(b, indent, level);
                b.Append('}');
                break;
            default:
                throw PyError.TypeError($"Object of type {Py.TypeName(value)} is not JSON serializable");
        }
    }

    static string KeyText(object key) => key switch
    {
        string s => s,
        Markup m => m.Value,
        bool flag => flag ? "true" : "false",
        long n => n.ToString(CultureInfo.InvariantCulture),
        double d => FloatText(d),
        _ => throw PyError.TypeError($"keys must be str, int, float, bool or None, not {Py.TypeName(key)}"),
    };

    static string FloatText(double d) => double.IsNaN(d) ? "NaN"
        : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : Py.FloatRepr(d);

    static void NewLine(StringBuilder b, string? indent, int level)
    {
        if (indent is null) return;
        b.Append('\n');
        for (var i = 0; i < level; i++) b.Append(indent);
    }

    static void WriteString(StringBuilder b, string s, bool ascii)
    {
        b.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\n': b.Append("\\n"); break;
                case '\r': b.Append("\\r"); break;
                case '\t': b.Append("\\t"); break;
                case '\b': b.Append("\\b"); break;
                case '\f': b.Append("\\f"); break;
                default:
                    if (c < ' ' || (ascii && c > '~')) b.Append("\\u").Append(((int)c).ToString("x4",
                        CultureInfo.InvariantCulture));
                    else b.Append(c);
                    break;
            }
        }
        b.Append('"');
    }

    /// <summary>A JSON value as a template value: objects become dicts (key order kept), arrays lists, integers
    /// int.</summary>
    public static object? FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => ObjectFromJson(element),
        JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number => NumberFromJson(element),
        _ => null,
    };

    static PyDict ObjectFromJson(JsonElement element)
    {
        var dict = new PyDict();
        foreach (var property in element.EnumerateObject()) dict[property.Name] = FromJson(property.Value);
        return dict;
    }

    static object NumberFromJson(JsonElement element)
    {
        var raw = element.GetRawText();
        if (raw.AsSpan().IndexOfAny(".eE") < 0 && element.TryGetInt64(out var n)) return n;
        return element.GetDouble();
    }

    /// <summary>A .NET value as a template value: numbers become int or float, dictionaries dicts, sequences
    /// lists.</summary>
    public static object? FromClr(object? value) => value switch
    {
        null or string or bool or long or double or PyDict or PyTuple or Markup or Undefined or Namespace
            or PyCallable => value,
        int or short or byte or sbyte or uint or ushort => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        ulong u => u <= long.MaxValue ? (long)u : (double)u,
        float f => (double)f,
        decimal m => (double)m,
        char c => c.ToString(),
        JsonElement element => FromJson(element),
        DateTime time => time.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        IDictionary dictionary => DictFromClr(dictionary),
        IEnumerable sequence => sequence.Cast<object?>().Select(FromClr).ToList(),
        _ => value,
    };

    static PyDict DictFromClr(IDictionary dictionary)
    {
        var dict = new PyDict(dictionary.Count);
        foreach (DictionaryEntry entry in dictionary) dict.Set(FromClr(entry.Key), FromClr(entry.Value));
        return dict;
    }
}
