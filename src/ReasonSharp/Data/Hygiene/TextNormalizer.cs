using System.Text;

namespace ReasonSharp.Data;

/// <summary>Text forms used to compare examples: a normalised string (dedup) and a word list (n-grams).</summary>
public static class TextNormalizer
{
    /// <summary>NFKC, lower case, whitespace runs collapsed to one space, trimmed. Punctuation and digits are kept
    /// (they matter in math).</summary>
    public static string Normalize(string text)
    {
        var builder = new StringBuilder(text.Length);
        var space = false;
        foreach (var c in text.Normalize(NormalizationForm.FormKC))
        {
            if (char.IsWhiteSpace(c)) { space = builder.Length > 0; continue; }
            if (space) builder.Append(' ');
            space = false;
            builder.Append(char.ToLowerInvariant(c));
        }
        return builder.ToString();
    }

    /// <summary>Lower-case runs of letters and digits (NFKC), for n-gram matching that ignores punctuation and
    /// layout.</summary>
    public static List<string> Words(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        foreach (var c in text.Normalize(NormalizationForm.FormKC))
        {
            if (char.IsLetterOrDigit(c)) { word.Append(char.ToLowerInvariant(c)); continue; }
            if (word.Length > 0) { words.Add(word.ToString()); word.Clear(); }
        }
        if (word.Length > 0) words.Add(word.ToString());
        return words;
    }

    /// <summary>The user turns of an example (the problem as asked).</summary>
    public static string PromptText(Example example) =>
        string.Join("\n", example.Messages.Where(m => m.Role == ChatMessage.User).Select(m => m.Content));

    /// <summary>Every non-system turn, one "role: content" block each.</summary>
    public static string ConversationText(Example example) =>
        string.Join("\n",
            example.Messages.Where(m => m.Role != ChatMessage.System).Select(m => $"{m.Role}: {m.Content}"));
}
