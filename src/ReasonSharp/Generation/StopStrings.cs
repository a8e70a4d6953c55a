namespace ReasonSharp.Generation;

/// <summary>Finds stop strings in a growing completion, including ones that span token boundaries, by decoding a short tail window.</summary>
internal sealed class StopStrings(IReadOnlyList<string> stops, Func<IReadOnlyList<int>, string> decode)
{
    readonly int _window = stops.Count == 0 ? 0 : stops.Max(s => s.Length) + 4;

    public bool Any => stops.Count > 0;

    /// <summary>True when the completion, after its newest token, contains a stop string. Checked every step, so the first hit is new.</summary>
    public bool Hit(List<int> completion)
    {
        if (!Any) return false;
        int start = Math.Max(0, completion.Count - _window);
        var tail = decode(completion.GetRange(start, completion.Count - start));
        return stops.Any(s => tail.Contains(s, StringComparison.Ordinal));
    }

    /// <summary>The text cut right after the earliest stop string (the text itself if none occurs).</summary>
    public string Truncate(string text)
    {
        int end = -1;
        foreach (var s in stops)
        {
            int at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (end < 0 || at + s.Length < end)) end = at + s.Length;
        }
        return end < 0 ? text : text[..end];
    }
}
