using System.Globalization;
using System.Text;

namespace ReasonSharp.Templates;

internal enum TokenType
{
    Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Eof,
    Add, Sub, Div, FloorDiv, Mul, Mod, Pow, Tilde, LBracket, RBracket, LParen, RParen, LBrace, RBrace,
    Eq, Ne, Gt, GtEq, Lt, LtEq, Assign, Dot, Colon, Pipe, Comma, Semicolon,
}

internal readonly record struct Token(TokenType Type, string Text, object? Value, int Line, int Column)
{
    public bool IsName(string name) => Type == TokenType.Name && Text == name;
}

/// <summary> Splits a template into tokens as Jinja2's lexer does with trim_blocks and lstrip_blocks: newlines
/// normalised to \n and one trailing newline dropped; `{%-`/`-%}` strip whitespace; a block tag's newline is removed;
/// spaces before a block or comment tag at the start of a line are removed unless the tag opens with `{%+`.
/// </summary>
internal sealed class Lexer
{
    static readonly (string Text, TokenType Type)[] Operators =
    [
        ("//", TokenType.FloorDiv), ("**", TokenType.Pow), ("==", TokenType.Eq), ("!=", TokenType.Ne),
        (">=", TokenType.GtEq), ("<=", TokenType.LtEq), ("+", TokenType.Add), ("-", TokenType.Sub),
        ("/", TokenType.Div), ("*", TokenType.Mul), ("%", TokenType.Mod), ("~", TokenType.Tilde),
        ("[", TokenType.LBracket), ("]", TokenType.RBracket), ("(", TokenType.LParen), (")", TokenType.RParen),
        ("{", TokenType.LBrace), ("}", TokenType.RBrace), (">", TokenType.Gt), ("<", TokenType.Lt),
        ("=", TokenType.Assign), (".", TokenType.Dot), (":", TokenType.Colon), ("|", TokenType.Pipe),
        (",", TokenType.Comma), (";", TokenType.Semicolon),
    ];

    readonly string source;
    readonly string templateName;
    readonly List<int> lineStarts = [0];
    readonly List<Token> tokens = [];
    int pos;
    bool lineStarting = true;

    Lexer(string source, string templateName)
    {
        this.source = Normalize(source);
        this.templateName = templateName;
        for (var i = 0; i < this.source.Length; i++)
            if (this.source[i] == '\n') lineStarts.Add(i + 1);
    }

    public static List<Token> Tokenize(string source, string templateName)
    {
        var lexer = new Lexer(source, templateName);
        lexer.Run();
        return lexer.tokens;
    }

    /// <summary>\r\n and \r become \n; one final newline is dropped (keep_trailing_newline off).</summary>
    static string Normalize(string source)
    {
        var text = source.Contains('\r') ? source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n')
            : source;
        return text.EndsWith('\n') ? text[..^1] : text;
    }

    (int Line, int Column) Position(int offset)
    {
        var index = lineStarts.BinarySearch(offset);
        if (index < 0) index = ~index - 1;
        return (index + 1, offset - lineStarts[index] + 1);
    }

    TemplateException Error(string message, int offset)
    {
        var (line, column) = Position(offset);
        return new TemplateException(TemplateErrorKind.Syntax, templateName, line, column, message);
    }

    void Add(TokenType type, string text, object? value, int offset)
    {
        var (line, column) = Position(offset);
        tokens.Add(new Token(type, text, value, line, column));
    }

    void Run()
    {
        while (pos < source.Length)
        {
            var (start, kind, sign, rawEnd) = NextTag(pos);
            if (start < 0)
            {
                Add(TokenType.Data, source[pos..], source[pos..], pos);
                pos = source.Length;
                break;
            }
            var text = StripBefore(source[pos..start], sign, kind != '{');
            if (text.Length > 0) Add(TokenType.Data, text, text, pos);
            if (kind == 'r')
            {
                lineStarting = source[rawEnd - 1] == '\n';
                pos = rawEnd;
                ReadRaw(start);
                continue;
            }
            pos = start + 2 + (sign == '\0' ? 0 : 1);
            lineStarting = false;
            switch (kind)
            {
                case '#': ReadComment(start); break;
                case '%': ReadTag(start, block: true); break;
                default: ReadTag(start, block: false); break;
            }
        }
        var (line, column) = Position(source.Length);
        tokens.Add(new Token(TokenType.Eof, "", null, line, column));
    }

    /// <summary>The next `{{`, `{%` (or a whole `{% raw %}`), `{#` at or after <paramref name="from"/>.</summary>
    (int Start, char Kind, char Sign, int RawEnd) NextTag(int from)
    {
        for (var k = source.IndexOf('{', from); k >= 0 && k + 1 < source.Length; k = source.IndexOf('{', k + 1))
        {
            var c = source[k + 1];
            if (c is not ('%' or '{' or '#')) continue;
            var sign = k + 2 < source.Length && source[k + 2] is '-' or '+' ? source[k + 2] : '\0';
            if (c == '%' && MatchRaw(k) is { } rawEnd) return (k, 'r', sign, rawEnd);
            return (k, c, sign, 0);
        }
        return (-1, '\0', '\0', 0);
    }

    /// <summary>`{%(-|+)?\s*raw\s*(-%}\s*|%})` at <paramref name="k"/>: the offset after it, or null.</summary>
    int? MatchRaw(int k)
    {
        var i = k + 2;
        if (i < source.Length && source[i] is '-' or '+') i++;
        i = SkipSpace(i);
        if (string.CompareOrdinal(source, i, "raw", 0, 3) != 0) return null;
        i = SkipSpace(i + 3);
        if (string.CompareOrdinal(source, i, "-%}", 0, 3) == 0) return SkipSpace(i + 3);
        if (string.CompareOrdinal(source, i, "%}", 0, 2) == 0) return i + 2;
        return null;
    }

    int SkipSpace(int i)
    {
        while (i < source.Length && Py.IsSpace(source[i])) i++;
        return i;
    }

    /// <summary>Whitespace control for the text before a tag: `-` strips all of it; lstrip_blocks removes the indent
    /// of a block or comment tag that starts its line.</summary>
    string StripBefore(string text, char sign, bool lstripApplies)
    {
        if (sign == '-') return PyString.Strip(text, null, left: false);
        if (sign == '+' || !lstripApplies) return text;
        var lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && !lineStarting) return text;
        if (lineStart == text.Length) return text;
        for (var i = lineStart; i < text.Length; i++)
            if (!Py.IsSpace(text[i])) return text;
        return text[..lineStart];
    }

    void ReadComment(int start)
    {
        for (var i = pos; i + 1 < source.Length; i++)
        {
            if (source[i] is '+' or '-' && i + 2 < source.Length && source[i + 1] == '#' && source[i + 2] == '}')
            {
                pos = source[i] == '-' ? SkipSpace(i + 3) : i + 3;
                lineStarting = source[pos - 1] == '\n';
                return;
            }
            if (source[i] == '#' && source[i + 1] == '}')
            {
                pos = i + 2 < source.Length && source[i + 2] == '\n' ? i + 3 : i + 2;
                lineStarting = source[pos - 1] == '\n';
                return;
            }
        }
        throw Error("Missing end of comment tag", start);
    }

    void ReadRaw(int start)
    {
        for (var i = pos; i + 1 < source.Length; i++)
        {
            if (source[i] != '{' || source[i + 1] != '%') continue;
            var j = i + 2;
            var sign = j < source.Length && source[j] is '-' or '+' ? source[j++] : '\0';
            j = SkipSpace(j);
            if (string.CompareOrdinal(source, j, "endraw", 0, 6) != 0) continue;
            j = SkipSpace(j + 6);
            int end;
            if (string.CompareOrdinal(source, j, "+%}", 0, 3) == 0) end = j + 3;
            else if (string.CompareOrdinal(source, j, "-%}", 0, 3) == 0) end = SkipSpace(j + 3);
            else if (string.CompareOrdinal(source, j, "%}", 0, 2) == 0)
                end = j + 2 < source.Length && source[j + 2] == '\n' ? j + 3 : j + 2;
            else continue;
            var text = StripBefore(source[pos..i], sign, lstripApplies: true);
            if (text.Length > 0) Add(TokenType.Data, text, text, pos);
            pos = end;
            lineStarting = source[end - 1] == '\n';
            return;
        }
        throw Error("Missing end of raw directive", start);
    }

    void ReadTag(int start, bool block)
    {
        Add(block ? TokenType.BlockBegin : TokenType.VariableBegin, block ? "{%" : "{{", null, start);
        var balance = new Stack<char>();
        while (true)
        {
            if (balance.Count == 0 && TryTagEnd(block)) return;
            if (pos >= source.Length) return; // the parser reports the unexpected end
            var c = source[pos];
            if (Py.IsSpace(c)) { pos++; continue; }
            if (char.IsAsciiDigit(c) && ReadNumber()) continue;
            if (char.IsLetter(c) || c == '_')
            {
                var end = pos + 1;
                while (end < source.Length && (char.IsLetterOrDigit(source[end]) || source[end] == '_')) end++;
                Add(TokenType.Name, source[pos..end], null, pos);
                pos = end;
                continue;
            }
            if (c is '\'' or '"') { ReadString(c); continue; }
            var matched = false;
            foreach (var (text, type) in Operators)
            {
                if (string.CompareOrdinal(source, pos, text, 0, text.Length) != 0) continue;
                if (type is TokenType.LBrace or TokenType.LParen or TokenType.LBracket)
                    balance.Push(text[0] switch { '{' => '}', '(' => ')', _ => ']' });
                else if (type is TokenType.RBrace or TokenType.RParen or TokenType.RBracket)
                {
                    if (balance.Count == 0) throw Error($"unexpected '{text}'", pos);
                    var expected = balance.Pop();
                    if (expected != text[0]) throw Error($"unexpected '{text}', expected '{expected}'", pos);
                }
                Add(type, text, null, pos);
                pos += text.Length;
                matched = true;
                break;
            }
            if (!matched) throw Error($"unexpected char {Py.Repr(c.ToString())} at {pos}", pos);
        }
    }

    bool TryTagEnd(bool block)
    {
        var close = block ? "%}" : "}}";
        int end;
        if (block && string.CompareOrdinal(source, pos, "+%}", 0, 3) == 0) end = pos + 3;
        else if (pos < source.Length && source[pos] == '-' && string.CompareOrdinal(source, pos + 1, close, 0, 2) == 0)
            end = SkipSpace(pos + 3);
        else if (string.CompareOrdinal(source, pos, close, 0, 2) == 0)
            end = block && pos + 2 < source.Length && source[pos + 2] == '\n' ? pos + 3 : pos + 2;
        else return false;
        Add(block ? TokenType.BlockEnd : TokenType.VariableEnd, close, null, pos);
        lineStarting = source[end - 1] == '\n';
        pos = end;
        return true;
    }

    /// <summary>A float (digits with a fraction or exponent) or an integer (decimal, 0b, 0o, 0x; `_` between
    /// digits).</summary>
    bool ReadNumber()
    {
        var start = pos;
        if (start > 0 && source[start - 1] == '.') return ReadInteger(start);
        var i = Digits(start);
        var isFloat = false;
        if (i < source.Length && source[i] == '.' && i + 1 < source.Length && char.IsAsciiDigit(source[i + 1]))
        {
            i = Digits(i + 1);
            isFloat = true;
        }
        if (i < source.Length && source[i] is 'e' or 'E')
        {
            var j = i + 1;
            if (j < source.Length && source[j] is '+' or '-') j++;
            if (j < source.Length && char.IsAsciiDigit(source[j])) { i = Digits(j); isFloat = true; }
        }
        if (!isFloat) return ReadInteger(start);
        var text = source[start..i];
        Add(TokenType.Float, text, double.Parse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.Float,
            CultureInfo.InvariantCulture), start);
        pos = i;
        return true;
    }

    int Digits(int i)
    {
        while (i < source.Length && (char.IsAsciiDigit(source[i]) || (source[i] == '_' && i + 1 < source.Length
            && char.IsAsciiDigit(source[i + 1])))) i++;
        return i;
    }

    bool ReadInteger(int start)
    {
        var i = start;
        long value;
        if (source[i] == '0' && i + 1 < source.Length && char.ToLowerInvariant(source[i + 1]) is 'b' or 'o' or 'x')
        {
            var radix = char.ToLowerInvariant(source[i + 1]) switch { 'b' => 2, 'o' => 8, _ => 16 };
            var j = i + 2;
            var digits = new StringBuilder();
            while (j < source.Length)
            {
                var c = source[j];
                if (c == '_' && j + 1 < source.Length && IsDigitOf(source[j + 1], radix)) { j++; continue; }
                if (!IsDigitOf(c, radix)) break;
                digits.Append(c);
                j++;
            }
            if (digits.Length == 0) return ReadDecimal(start);
            value = Convert.ToInt64(digits.ToString(), radix);
            i = j;
        }
        else return ReadDecimal(start);
        Add(TokenType.Integer, source[start..i], value, start);
        pos = i;
        return true;
    }

    bool ReadDecimal(int start)
    {
        var i = start;
        if (source[i] == '0')
        {
            i++;
            while (i + 1 < source.Length && source[i] == '_' && source[i + 1] == '0') i += 2;
            while (i < source.Length && source[i] == '0') i++;
        }
        else i = Digits(i);
        var text = source[start..i];
        if (!long.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.None,
            CultureInfo.InvariantCulture, out var value))
            throw Error($"integer {text} is beyond 64 bits", start);
        Add(TokenType.Integer, text, value, start);
        pos = i;
        return true;
    }

    static bool IsDigitOf(char c, int radix) => radix switch
    {
        2 => c is '0' or '1',
        8 => c is >= '0' and <= '7',
        _ => char.IsAsciiHexDigit(c),
    };

    /// <summary>A quoted string with Python's escapes (\n, \t, \xNN, \uNNNN, octal …; unknown escapes kept).</summary>
    void ReadString(char quote)
    {
        var start = pos;
        var b = new StringBuilder();
        var i = pos + 1;
        while (true)
        {
            if (i >= source.Length) throw Error($"unexpected char {Py.Repr(quote.ToString())} at {start}", start);
            var c = source[i];
            if (c == quote) { i++; break; }
            if (c != '\\') { b.Append(c); i++; continue; }
            if (i + 1 >= source.Length) throw Error($"unexpected char {Py.Repr(quote.ToString())} at {start}", start);
            var e = source[i + 1];
            i += 2;
            switch (e)
            {
                case '\n': break;
                case '\\' or '\'' or '"': b.Append(e); break;
                case 'a': b.Append('\a'); break;
                case 'b': b.Append('\b'); break;
                case 'f': b.Append('\f'); break;
                case 'n': b.Append('\n'); break;
                case 'r': b.Append('\r'); break;
                case 't': b.Append('\t'); break;
                case 'v': b.Append('\v'); break;
                case 'x' or 'u' or 'U':
                    var count = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (i + count > source.Length || !source.AsSpan(i, count).ContainsOnlyHex())
                        throw Error($"truncated \\{e}{new string('X', count)} escape", start);
                    var code = int.Parse(source.AsSpan(i, count), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    if (code > 0x10ffff) throw Error("illegal Unicode character", start);
                    b.Append(char.ConvertFromUtf32(code is >= 0xd800 and <= 0xdfff ? 0xfffd : code));
                    i += count;
                    break;
                case >= '0' and <= '7':
                    var octal = e - '0';
                    for (var n = 0; n < 2 && i < source.Length && source[i] is >= '0' and <= '7'; n++)
                        octal = octal * 8 + (source[i++] - '0');
                    b.Append((char)octal);
                    break;
                default:
                    b.Append('\\').Append(e);
                    break;
            }
        }
        Add(TokenType.String, source[start..i], b.ToString(), start);
        pos = i;
    }
}

internal static class SpanHex
{
    public static bool ContainsOnlyHex(this ReadOnlySpan<char> span)
    {
        foreach (var c in span) if (!char.IsAsciiHexDigit(c)) return false;
        return true;
    }
}
