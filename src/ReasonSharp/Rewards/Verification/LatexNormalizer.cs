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
        var timeout = deadline.RegexTimeout;

        if (!text.Contains("matrix", StringComparison.Ordinal) && !text.Contains("array", StringComparison.Ordinal))
            text = Regex.Replace(text, @"\\\\(?=[a-zA-Z])", @"\", RegexOptions.None, timeout);
        text = text.Replace(@"\mathrm{T}", "T").Replace(@"\mathrm{d}", "d").Replace(@"{\rm d}", "d");
        text = text.Replace(@"\left[\begin{matrix}", @"\begin{bmatrix}").Replace(@"\end{matrix}\right]", @"\end{bmatrix}");
        text = Regex.Replace(text, @"\\m?(?:left|right)\.", "", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\\m?(?:left|right)(?=[\\({\[|)\]}])", "", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\\mathrm\{th\}|\\!\s*|\\text\s*\{\s*\}|\\displaystyle|\\\$|\$|(?<!\\)[""']", "", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\\(?:math(?:rm|it|bf|sf|tt)|text(?:normal|bf|it|rm|sf|tt|up))\b", @"\text", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\\mbox\b", @"\text", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\\[dtc]frac", @"\frac", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\\q?quad|\\[,;:>]|~", " ", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\s\.(?=\d)", " 0.", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\{\.(?=\d)", "{0.", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\s*\{\s*,\s*\}", ",", RegexOptions.None, timeout);
        text = Regex.Replace(text, @",?\s*\\text\{\s*(?:and|or)\s*\}", ",", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"(?<![a-zA-Z\\])(?:,?\s*(?:and|or))(?![a-zA-Z])", ",", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"(?<!\\)\\\s", " ", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"infinity", @"\infty", RegexOptions.None, timeout);
        text = Regex.Replace(text, @",?\s*(?:\\ldots|\\cdots|\\dots)", " ", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\\text\{\s*percent(?:age)?\s*\}|\s*percent(?:age)?\b|\s*\bpct\b", @"\%", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\^\s*\{?\s*\\circ\s*\}?|\\degree\b|°", "", RegexOptions.None, timeout);
        text = text.Replace('\n', ' ').Replace('\t', ' ').Replace('\r', ' ');
        text = Regex.Replace(text, @"\\[lr]?vert\b", "|", RegexOptions.None, timeout);
        text = Regex.Replace(text, @"\\[lr]?Vert\b", @"\|", RegexOptions.None, timeout);

        text = RemoveUnits(text, timeout);
        text = text.Trim();
        if (text.StartsWith('.') && text.Length > 1 && char.IsDigit(text[1])) text = "0" + text;
        // Trailing sentence punctuation inside the math ("$\frac13.$").
        text = Regex.Replace(text, @"(?<![\\.])[.,;]\s*$", "", RegexOptions.None, timeout).Trim();
        return text;
    }

    static string RemoveUnits(string text, TimeSpan timeout)
    {
        var withoutText = Regex.Replace(text, @"\\text\{[^{}]*\}\s*(?:\^\s*\{?\d\}?)?\s*$", "", RegexOptions.None, timeout).Trim();
        if (withoutText.Length > 0 && withoutText != text) text = withoutText;
        for (var i = 0; i < 2; i++)
        {
            var stripped = UnitRegex().Replace(text, "$1");
            if (stripped.Trim().Length > 0 && stripped != text) text = stripped;
        }
        return text;
    }

    // Unit words removed when they end the answer after a digit, a closing brace or a space.
    [GeneratedRegex(@"(\d|\})\s*(?:sq(?:uare)?\s*)?(?:cubic\s*)?(?:feet|foot|ft|inch(?:es)?|in|yards?|yd|miles?|mi|mph|kmph|kmh|km/h|m/s|meters?|metres?|m|cm|mm|km|kilometers?|centimeters?|millimeters?|kilograms?|kg|grams?|gm|g|mg|pounds?|lbs?|lb|ounces?|oz|tons?|liters?|litres?|ml|l|gallons?|gal|seconds?|secs?|s|minutes?|mins?|hours?|hrs?|hr|h|days?|weeks?|months?|years?|yrs?|degrees?|deg|dollars?|cents?|euros?|yuan|rupees?|rs|units?|sq\s*units?|square\s*units?|cubic\s*units?|cm\^?2|m\^?2|cm\^?3|m\^?3|m²|m³|cm²|cm³|students?|people|persons?|apples?|marbles?|books?|times|ways|points?|coins?|cookies?|pages?|boxes|eggs?|pieces?)\.?\s*$",
        RegexOptions.IgnoreCase, matchTimeoutMilliseconds: 1000)]
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
