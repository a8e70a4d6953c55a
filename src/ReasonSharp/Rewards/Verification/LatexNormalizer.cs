using System.Text;
using System.Text.RegularExpressions;

namespace ReasonSharp.Rewards.Verification;

/// <summary>How boxed content is taken from an extracted answer.</summary>
public enum BoxedMode
{
    /// <summary>Leave \boxed in place.</summary>
    None,
    /// <summary>The last \boxed, merged with earlier ones separated by "and", "or", "," or ";".</summary>
    Last,
    /// <summary>Every \boxed in the text, joined by commas.</summary>
    All,
}

/// <summary>
/// Cleans an extracted LaTeX answer before parsing: boxed content, \left/\right, spacing commands, \text variants,
/// \dfrac/\tfrac, "and"/"or" lists, trailing units and \text{…}, percent words, doubled backslashes.
/// The steps follow latex2sympy2_extended's normalisation (used by math-verify), re-implemented here.
/// </summary>
public static partial class LatexNormalizer
{
    /// <summary>Normalises <paramref name="text"/>; every regex runs under the deadline.</summary>
    public static string Normalize(string text, BoxedMode boxed, Deadline deadline)
    {
        if (boxed != BoxedMode.None) text = ExtractBoxed(text, boxed == BoxedMode.Last, deadline) ?? text;

        if (!text.Contains("matrix", StringComparison.Ordinal) && !text.Contains("array", StringComparison.Ordinal))
            text = Apply(text, DoubledBackslashRegex(), @"\", deadline);
        text = text.Replace(@"\mathrm{T}", "T").Replace(@"\mathrm{d}", "d").Replace(@"{\rm d}", "d");
        text = text.Replace(@"\left[\begin{matrix}", @"\begin{bmatrix}").Replace(@"\end{matrix}\right]",
            @"\end{bmatrix}");
        text = Apply(text, Step0Regex(), "", deadline);
        text = Apply(text, Step1Regex(), "", deadline);
        text = Apply(text, Step2Regex(), "", deadline);
        text = Apply(text, Step3Regex(), @"\text", deadline);
        text = Apply(text, Step4Regex(), @"\text", deadline);
        text = Apply(text, Step5Regex(), @"\frac", deadline);
        text = Apply(text, Step6Regex(), " ", deadline);
        text = Apply(text, Step7Regex(), " 0.", deadline);
        text = Apply(text, Step8Regex(), "{0.", deadline);
        text = Apply(text, Step9Regex(), ",", deadline);
        text = Apply(text, Step10Regex(), ",", deadline);
        text = Apply(text, Step11Regex(), ",", deadline);
        text = Apply(text, Step12Regex(), " ", deadline);
        text = Apply(text, Step13Regex(), @"\infty", deadline);
        text = Apply(text, Step14Regex(), " ", deadline);
        text = Apply(text, Step15Regex(), @"\%", deadline);
        text = Apply(text, Step16Regex(), "", deadline);
        text = text.Replace('\n', ' ').Replace('\t', ' ').Replace('\r', ' ');
        text = Apply(text, Step17Regex(), "|", deadline);
        text = Apply(text, Step18Regex(), @"\|", deadline);

        text = RemoveUnits(text, deadline);
        text = text.Trim();
        if (text.StartsWith('.') && text.Length > 1 && char.IsAsciiDigit(text[1])) text = "0" + text;
        // Trailing sentence punctuation inside the math ("$\frac13.$").
        text = Apply(text, Step19Regex(), "", deadline).Trim();
        return text;
    }

    static string Apply(string text, Regex regex, string replacement, Deadline deadline) =>
        Patterns.Replace(regex, text, replacement, deadline);

    /// <summary>Each pattern step gives up after this long, a safety net against runaway backtracking: the known
    /// shapes are linear (a scan of a text at the input cap takes about 1 ms), and a step that overruns the
    /// deadline overruns it by at most this much. Generous, because on a busy machine wall time runs slow.</summary>
    internal const int RegexTimeoutMs = 250;

    [GeneratedRegex(@"\\m?(?:left|right)\.", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step0Regex();

    [GeneratedRegex(@"\\m?(?:left|right)(?=[\\({\[|)\]}])", RegexOptions.None,
        matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step1Regex();

    [GeneratedRegex(@"\\mathrm\{th\}|\\!\s*|\\text\s*\{\s*\}|\\displaystyle|\\\$|\$|(?<!\\)[""']", RegexOptions.None,
        matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step2Regex();

    [GeneratedRegex(@"\\(?:math(?:rm|it|bf|sf|tt)|text(?:normal|bf|it|rm|sf|tt|up))\b", RegexOptions.None,
        matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step3Regex();

    [GeneratedRegex(@"\\mbox\b", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step4Regex();

    [GeneratedRegex(@"\\[dtc]frac", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step5Regex();

    [GeneratedRegex(@"\\q?quad|\\[,;:>]|~", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step6Regex();

    [GeneratedRegex(@"\s\.(?=\d)", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step7Regex();

    [GeneratedRegex(@"\{\.(?=\d)", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step8Regex();

    [GeneratedRegex(@"\s*\{\s*,\s*\}", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step9Regex();

    [GeneratedRegex(@",?\s*\\text\{\s*(?:and|or)\s*\}", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step10Regex();

    [GeneratedRegex(@"(?<![a-zA-Z\\])(?:,?\s*(?:and|or))(?![a-zA-Z])", RegexOptions.None,
        matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step11Regex();

    [GeneratedRegex(@"(?<!\\)\\\s", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step12Regex();

    [GeneratedRegex(@"infinity", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step13Regex();

    [GeneratedRegex(@",?\s*(?:\\ldots|\\cdots|\\dots)", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step14Regex();

    [GeneratedRegex(@"\\text\{\s*percent(?:age)?\s*\}|\s*percent(?:age)?\b|\s*\bpct\b", RegexOptions.None,
        matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step15Regex();

    [GeneratedRegex(@"\^\s*\{?\s*\\circ\s*\}?|\\degree\b|°", RegexOptions.None,
        matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step16Regex();

    [GeneratedRegex(@"\\[lr]?vert\b", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step17Regex();

    [GeneratedRegex(@"\\[lr]?Vert\b", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step18Regex();

    // The patterns that must end at the end of the text run right to left: tried from the end, they cost nothing
    // per character of a long text (left to right, the unit list alone costs microseconds per position).
    [GeneratedRegex(@"(?<![\\.])[.,;]\s*$", RegexOptions.RightToLeft, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step19Regex();

    [GeneratedRegex(@"\\text\{[^{}]*\}\s*(?:\^\s*\{?\d\}?)?\s*$", RegexOptions.RightToLeft,
        matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step20Regex();

    static string RemoveUnits(string text, Deadline deadline)
    {
        var withoutText = Apply(text, Step20Regex(), "", deadline).Trim();
        if (withoutText.Length > 0 && withoutText != text) text = withoutText;
        for (var i = 0; i < 2; i++)
        {
            deadline.Check();
            var stripped = Patterns.Replace(UnitRegex(), text, "$1", deadline, 1);
            if (stripped.Trim().Length > 0 && stripped != text) text = stripped;
        }
        return text;
    }

    // Unit words removed when they end the answer after a digit, a closing brace or a space.
    [GeneratedRegex(@"(\d|\})\s*(?:sq(?:uare)?\s*)?(?:cubic\s*)?(?:feet|foot|ft|inch(?:es)?|in|yards?|yd|miles?|mi|mph|kmph|kmh|km/h|m/s|meters?|metres?|m|cm|mm|km|kilometers?|centimeters?|millimeters?|kilograms?|kg|grams?|gm|g|mg|pounds?|lbs?|lb|ounces?|oz|tons?|liters?|litres?|ml|l|gallons?|gal|seconds?|secs?|s|minutes?|mins?|hours?|hrs?|hr|h|days?|weeks?|months?|years?|yrs?|degrees?|deg|dollars?|cents?|euros?|yuan|rupees?|rs|units?|sq\s*units?|square\s*units?|cubic\s*units?|cm\^?2|m\^?2|cm\^?3|m\^?3|m²|m³|cm²|cm³|students?|people|persons?|apples?|marbles?|books?|times|ways|points?|coins?|cookies?|pages?|boxes|eggs?|pieces?)\.?\s*$",
        RegexOptions.IgnoreCase | RegexOptions.RightToLeft, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex UnitRegex();

    /// <summary>
    /// The content of the last \boxed{…} or \fbox{…} (nested braces counted). With <paramref name="mergeSeparated"/>,
    /// earlier boxes directly adjacent or joined to it by a short "and"/"or"/","/";" are included; otherwise every
    /// box is included.
    /// Null when there is no box. An unclosed last box returns everything after its brace.
    /// </summary>
    public static string? ExtractBoxed(string text, bool mergeSeparated) =>
        ExtractBoxed(text, mergeSeparated, Deadline.None);

    internal static string? ExtractBoxed(string text, bool mergeSeparated, Deadline deadline)
    {
        var boxes = FindBoxes(text, deadline);
        if (boxes.Count == 0) return null;
        var last = boxes.Count - 1;
        var first = !boxes[last].Closed ? last : mergeSeparated ? FirstMergedBox(text, boxes, last) : 0;
        return string.Join(",", boxes.Skip(first).Take(last - first + 1).Select(b => b.Content));
    }

    /// <summary>Most boxes merged into one answer (the last and up to five before it, as math-verify chains
    /// at most six math spans).</summary>
    internal const int MaxMergedBoxes = 6;

    /// <summary>The first of the boxes merged with box <paramref name="last"/>: earlier boxes directly adjacent or
    /// joined by a short "and"/"or"/","/";", at most <see cref="MaxMergedBoxes"/> in all.</summary>
    internal static int FirstMergedBox(string text, IReadOnlyList<Box> boxes, int last)
    {
        if (!boxes[last].Closed) return last;
        var first = last;
        while (first > 0 && last - first + 1 < MaxMergedBoxes)
        {
            var gap = boxes[first].Start - boxes[first - 1].End;
            if (gap >= 70) break;
            var between = text.Substring(boxes[first - 1].End, gap);
            var adjacent = between.Replace("$", "").Trim().Length == 0;
            if (!adjacent && !SeparatorRegex().IsMatch(between)) break;
            first--;
        }
        return first;
    }

    [GeneratedRegex(@"\\\\(?=[a-zA-Z])", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex DoubledBackslashRegex();

    [GeneratedRegex(@"and|or|,|;")]
    private static partial Regex SeparatorRegex();

    internal readonly record struct Box(int Start, int End, string Content, bool Closed);

    /// <summary>All \boxed/\fbox groups, left to right; End is just after the closing brace. Linear time.</summary>
    internal static List<Box> FindBoxes(string text, Deadline deadline)
    {
        var boxes = new List<Box>();
        var i = 0;
        int boxed = -2, fbox = -2;
        while (i < text.Length)
        {
            deadline.Check();
            // Search again only for a command the cursor has passed, so text without \fbox is not rescanned per box.
            if (boxed != -1 && boxed < i) boxed = text.IndexOf(@"\boxed", i, StringComparison.Ordinal);
            if (fbox != -1 && fbox < i) fbox = text.IndexOf(@"\fbox", i, StringComparison.Ordinal);
            if (boxed < 0 && fbox < 0) break;
            var start = boxed < 0 ? fbox : fbox < 0 ? boxed : Math.Min(boxed, fbox);
            var brace = start + (start == boxed ? 6 : 5);
            while (brace < text.Length && char.IsWhiteSpace(text[brace])) brace++;
            if (brace >= text.Length || text[brace] != '{') { i = start + 5; continue; }
            var depth = 0;
            var j = brace;
            for (; j < text.Length; j++)
            {
                if (text[j] == '{') depth++;
                else if (text[j] == '}' && --depth == 0) break;
            }
            if (j >= text.Length)
            {
                boxes.Add(new Box(start, text.Length, text[(brace + 1)..].Trim(), false));
                break;
            }
            boxes.Add(new Box(start, j + 1, text[(brace + 1)..j].Trim(), true));
            i = j + 1;
        }
        return boxes;
    }

    /// <summary>Removes thousands separators from a plain number ("1,234,567.5" or "1 234") — the caller has matched
    /// the shape.</summary>
    public static string StripThousands(string number)
    {
        var builder = new StringBuilder(number.Length);
        foreach (var c in number)
            if (c != ',' && c != ' ') builder.Append(c);
        return builder.ToString();
    }
}
