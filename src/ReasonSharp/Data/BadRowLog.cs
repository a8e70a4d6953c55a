namespace ReasonSharp.Data;

/// <summary>
/// What happens to a bad row. Without skip-bad the first bad row throws its <see cref="ReasonSharpException"/>;
/// with skip-bad it is counted and its reason kept (the first few), so nothing is dropped silently.
/// </summary>
public sealed class BadRowLog(bool skipBad, int reasonsKept = 5)
{
    readonly List<string> firstReasons = [];

    public bool SkipBad => skipBad;
    public int Count { get; private set; }
    public IReadOnlyList<string> FirstReasons => firstReasons;

    /// <summary>Throws the error, or records it when skipping bad rows.</summary>
    public void Report(ReasonSharpException error)
    {
        if (!skipBad) throw error;
        Count++;
        if (firstReasons.Count < reasonsKept) firstReasons.Add(error.Message);
    }

    /// <summary>A one-paragraph summary for the CLI, or null when nothing was skipped.</summary>
    public string? Summary() => Count == 0
        ? null
        : $"skipped {Count} bad row(s); first reasons:" + string.Concat(firstReasons.Select(r => "\n  - " + r));

    /// <summary>The log used when the caller passes none: every bad row is an error.</summary>
    public static BadRowLog Strict() => new(skipBad: false);
}
