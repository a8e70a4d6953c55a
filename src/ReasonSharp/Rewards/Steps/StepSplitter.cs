using System.Text.RegularExpressions;

namespace ReasonSharp.Rewards.Steps;

/// <summary>How a completion is cut into reasoning steps.</summary>
public enum StepSplitMode
{
    /// <summary>Blocks separated by blank lines (the default, as in Math-Shepherd/PRM800K-style data).</summary>
    Paragraphs,
    /// <summary>Every non-empty line.</summary>
    Lines,
    /// <summary>At each "Step k:" / "Step k." marker; text before the first marker is a step of its own.</summary>
    StepMarkers,
    /// <summary>At every match of <see cref="StepSplitterOptions.Separator"/>.</summary>
    Separator,
}

public sealed record StepSplitterOptions
{
    public StepSplitMode Mode { get; init; } = StepSplitMode.Paragraphs;
    /// <summary>The regex that separates steps in <see cref="StepSplitMode.Separator"/> mode (e.g. "ки" for
    /// Math-Shepherd data).</summary>
    public string? Separator { get; init; }
}

/// <summary>Cuts a completion into trimmed, non-empty steps.</summary>
public sealed partial class StepSplitter
{
    readonly StepSplitterOptions _options;
    readonly Regex? _separator;

    public StepSplitter(StepSplitterOptions? options = null)
    {
        _options = options ?? new StepSplitterOptions();
        if (_options.Mode == StepSplitMode.Separator)
        {
            if (string.IsNullOrEmpty(_options.Separator)) throw new ReasonSharpException("step splitting by " +
                "separator needs a separator pattern");
            try
            {
                _separator = new Regex(_options.Separator, RegexOptions.None, TimeSpan.FromSeconds(2));
            }
            catch (ArgumentException e)
            {
                throw new ReasonSharpException($"invalid step separator pattern '{_options.Separator}': {e.Message}");
            }
        }
    }

    public IReadOnlyList<string> Split(string completion)
    {
        var text = completion.Replace("\r\n", "\n");
        IEnumerable<string> parts = _options.Mode switch
        {
            StepSplitMode.Paragraphs => BlankLineRegex().Split(text),
            StepSplitMode.Lines => text.Split('\n'),
            StepSplitMode.StepMarkers => StepMarkerRegex().Split(text),
            _ => _separator!.Split(text),
        };
        return parts.Select(p => p.Trim()).Where(p => p.Length > 0).ToList();
    }

    [GeneratedRegex(@"\n[ \t]*\n\s*")]
    private static partial Regex BlankLineRegex();

    [GeneratedRegex(@"(?=(?<![A-Za-z])Step\s*\d+\s*[:.])", RegexOptions.IgnoreCase)]
    private static partial Regex StepMarkerRegex();
}
