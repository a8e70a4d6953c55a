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
        if (boxed != BoxedMode.None) text = ExtractBoxed(text, boxed == BoxedMode.Last) ?? text;
        deadline.Check();

        if (!text.Contains("matrix", StringComparison.Ordinal) && !text.Contains("array", StringComparison.Ordinal))
            text = DoubledBackslashRegex().Replace(text, @"\");
        text = text.Replace(@"\mathrm{T}", "T").Replace(@"\mathrm{d}", "d").Replace(@"{\rm d}", "d");
        text = text.Replace(@"\left[\begin{matrix}", @"\begin{bmatrix}").Replace(@"\end{matrix}\right]", @"\end{bmatrix}");
        text = Step0Regex().Replace(text, "");
        text = Step1Regex().Replace(text, "");
        text = Step2Regex().Replace(text, "");
        text = Step3Regex().Replace(text, @"\text");
        text = Step4Regex().Replace(text, @"\text");
        text = Step5Regex().Replace(text, @"\frac");
        text = Step6Regex().Replace(text, " ");
        text = Step7Regex().Replace(text, " 0.");
        text = Step8Regex().Replace(text, "{0.");
        text = Step9Regex().Replace(text, ",");
        text = Step10Regex().Replace(text, ",");
        text = Step11Regex().Replace(text, ",");
        text = Step12Regex().Replace(text, " ");
        text = Step13Regex().Replace(text, @"\infty");
        text = Step14Regex().Replace(text, " ");
        text = Step15Regex().Replace(text, @"\%");
        text = Step16Regex().Replace(text, "");
        text = text.Replace('\n', ' ').Replace('\t', ' ').Replace('\r', ' ');
        text = Step17Regex().Replace(text, "|");
        text = Step18Regex().Replace(text, @"\|");

        deadline.Check();
        text = RemoveUnits(text, deadline);
        text = text.Trim();
        if (text.StartsWith('.') && text.Length > 1 && char.IsAsciiDigit(text[1])) text = "0" + text;
        // Trailing sentence punctuation inside the math ("$\frac13.$").
        text = Step19Regex().Replace(text, "").Trim();
        return text;
    }

    /// <summary>Each regex step gives up after this long; the deadline is checked between steps.</summary>
    internal const int RegexTimeoutMs = 250;

    [GeneratedRegex(@"\\m?(?:left|right)\.", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step0Regex();

    [GeneratedRegex(@"\\m?(?:left|right)(?=[\\({\[|)\]}])", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step1Regex();

    [GeneratedRegex(@"\\mathrm\{th\}|\\!\s*|\\text\s*\{\s*\}|\\displaystyle|\\\$|\$|(?<!\\)[""']", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step2Regex();

    [GeneratedRegex(@"\\(?:math(?:rm|it|bf|sf|tt)|text(?:normal|bf|it|rm|sf|tt|up))\b", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
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

    [GeneratedRegex(@"(?<![a-zA-Z\\])(?:,?\s*(?:and|or))(?![a-zA-Z])", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step11Regex();

    [GeneratedRegex(@"(?<!\\)\\\s", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step12Regex();

    [GeneratedRegex(@"infinity", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step13Regex();

    [GeneratedRegex(@",?\s*(?:\\ldots|\\cdots|\\dots)", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step14Regex();

    [GeneratedRegex(@"\\text\{\s*percent(?:age)?\s*\}|\s*percent(?:age)?\b|\s*\bpct\b", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step15Regex();

    [GeneratedRegex(@"\^\s*\{?\s*\\circ\s*\}?|\\degree\b|°", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step16Regex();

    [GeneratedRegex(@"\\[lr]?vert\b", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step17Regex();

    [GeneratedRegex(@"\\[lr]?Vert\b", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step18Regex();

    [GeneratedRegex(@"(?<![\\.])[.,;]\s*$", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step19Regex();

    [GeneratedRegex(@"\\text\{[^{}]*\}\s*(?:\^\s*\{?\d\}?)?\s*$", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex Step20Regex();

    static string RemoveUnits(string text, Deadline deadline)
    {
        var withoutText = Step20Regex().Replace(text, "").Trim();
        if (withoutText.Length > 0 && withoutText != text) text = withoutText;
        for (var i = 0; i < 2; i++)
        {
            deadline.Check();
            var stripped = UnitRegex().Replace(text, "$1");
            if (stripped.Trim().Length > 0 && stripped != text) text = stripped;
        }
        return text;
    }

    // Unit words removed when they end the answer after a digit, a closing brace or a space.
    [GeneratedRegex(@"(\d|\})\s*(?:sq(?:uare)?\s*)?(?:cubic\s*)?(?:feet|foot|ft|inch(?:es)?|in|yards?|yd|miles?|mi|mph|kmph|kmh|km/h|m/s|meters?|metres?|m|cm|mm|km|kilometers?|centimeters?|millimeters?|kilograms?|kg|grams?|gm|g|mg|pounds?|lbs?|lb|ounces?|oz|tons?|liters?|litres?|ml|l|gallons?|gal|seconds?|secs?|s|minutes?|mins?|hours?|hrs?|hr|h|days?|weeks?|months?|years?|yrs?|degrees?|deg|dollars?|cents?|euros?|yuan|rupees?|rs|units?|sq\s*units?|square\s*units?|cubic\s*units?|cm\^?2|m\^?2|cm\^?3|m\^?3|m²|m³|cm²|cm³|students?|people|persons?|apples?|marbles?|books?|times|ways|points?|coins?|cookies?|pages?|boxes|eggs?|pieces?)\.?\s*$",
        RegexOptions.IgnoreCase, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex UnitRegex();

    /// <summary>
    /// The content of the last \boxed{…} or \fbox{…} (nested braces counted). With <paramref name="mergeSeparated"/>,
    /// earlier boxes directly adjacent or joined to it by a short "and"/"or"/","/";" are included; otherwise every
    /// box is included.
    /// Null when there is no box. An unclosed last box returns everything after its brace.
    /// </summary>
    public static string? ExtractBoxed(string text, bool mergeSeparated)
    {
        var boxes = FindBoxes(text);
        if (boxes.Count == 0) return null;
        var parts = new List<string>();
        var last = boxes[^1];
        parts.Add(last.Content);
        for (var i = boxes.Count - 2; i >= 0; i--)
        {
            if (!last.Closed) break;
            if (mergeSeparated)
            {
                var between = text[boxes[i].End..boxes[i + 1].Start];
                var adjacent = between.Replace("$", "").Trim().Length == 0;
                if (!adjacent && (between.Length >= 70 || !SeparatorRegex().IsMatch(between))) break;
            }
            parts.Add(boxes[i].Content);
        }
        parts.Reverse();
        return string.Join(",", parts);
    }

    [GeneratedRegex(@"\\text\{[^{}]*\}\s*(?:\^\s*\{?\d\}?)?\s*$", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex TrailingTextRegex();

    [GeneratedRegex(@"\\\\(?=[a-zA-Z])", RegexOptions.None, matchTimeoutMilliseconds: RegexTimeoutMs)]
    private static partial Regex DoubledBackslashRegex();

    [GeneratedRegex(@"and|or|,|;")]
    private static partial Regex SeparatorRegex();

    internal readonly record struct Box(int Start, int End, string Content, bool Closed);

    /// <summary>All \boxed/\fbox groups, left to right; End is just after the closing brace.</summary>
    internal static List<Box> FindBoxes(string text)
    {
        var boxes = new List<Box>();
        var i = 0;
        while (i < text.Length)
        {
            var boxed = text.IndexOf(@"\boxed", i, StringComparison.Ordinal);
            var fbox = text.IndexOf(@"\fbox", i, StringComparison.Ordinal);
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

    /// <summary>Removes thousands separators from a plain number ("1,234,567.5" or "1 234") — the caller has matched the shape.</summary>
    public static string StripThousands(string number)
    {
        var builder = new StringBuilder(number.Length);
        foreach (var c in number)
            if (c != ',' && c != ' ') builder.Append(c);
        return builder.ToString();
    }
}
