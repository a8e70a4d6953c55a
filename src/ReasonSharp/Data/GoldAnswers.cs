namespace ReasonSharp.Data;

/// <summary>Pulls gold answers out of reference solutions: GSM8K's `#### 18` and MATH's last `\boxed{…}`.</summary>
public static class GoldAnswers
{
    const string HashMarker = "####";

    /// <summary>The text after the last `####` (GSM8K), trimmed, or null when there is none.</summary>
    public static string? AfterHashes(string text)
    {
        var at = text.LastIndexOf(HashMarker, StringComparison.Ordinal);
        return at < 0 ? null : text[(at + HashMarker.Length)..].Trim();
    }

    /// <summary>The worked solution before the last `####`, trimmed (the whole text when there is no marker).</summary>
    public static string BeforeHashes(string text)
    {
        var at = text.LastIndexOf(HashMarker, StringComparison.Ordinal);
        return (at < 0 ? text : text[..at]).Trim();
    }

    /// <summary>
    /// The content of the last `\boxed{…}` (or `\fbox{…}`), braces matched with `\{` and `\}` escapes respected;
    /// `\boxed 5` without braces gives "5". Null when there is no complete box.
    /// </summary>
    public static string? LastBoxed(string text)
    {
        var boxed = LastCommand(text, @"\boxed");
        var fbox = LastCommand(text, @"\fbox");
        var (at, command) = boxed >= fbox ? (boxed, @"\boxed") : (fbox, @"\fbox");
        if (at < 0) return null;
        var i = at + command.Length;
        if (i < text.Length && text[i] == ' ')
        {
            // `\boxed 5`: the argument runs to the next space or `$`.
            var end = text.IndexOfAny([' ', '$', '\n'], i + 1);
            var bare = text[(i + 1)..(end < 0 ? text.Length : end)].Trim();
            return bare.Length > 0 ? bare : null;
        }
        if (i >= text.Length || text[i] != '{') return null;
        var close = MatchingBrace(text, i);
        return close < 0 ? null : text[(i + 1)..close].Trim();
    }

    /// <summary>`####` gold, else the last boxed answer, else the whole text trimmed.</summary>
    public static string FromText(string text) => AfterHashes(text) ?? LastBoxed(text) ?? text.Trim();

    /// <summary>Index of the `}` that closes the `{` at <paramref name="open"/>, or -1 when unbalanced.</summary>
    public static int MatchingBrace(string text, int open)
    {
        var depth = 0;
        for (var i = open; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\\') { i++; continue; } // `\{`, `\}` and other escapes do not count
            if (c == '{') depth++;
            else if (c == '}' && --depth == 0) return i;
        }
        return -1;
    }

    // Last occurrence of a command not followed by a letter (so `\boxed` does not match `\boxedfoo`).
    static int LastCommand(string text, string command)
    {
        for (var at = text.LastIndexOf(command, StringComparison.Ordinal); at >= 0;
             at = at == 0 ? -1 : text.LastIndexOf(command, at - 1, StringComparison.Ordinal))
        {
            var next = at + command.Length;
            if (next >= text.Length || !char.IsLetter(text[next])) return at;
        }
        return -1;
    }
}
