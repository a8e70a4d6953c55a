using System.Text;
using System.Text.RegularExpressions;

namespace ReasonSharp.Hub;

/// <summary>
/// `--include` patterns as huggingface_hub matches them (fnmatch): `*` matches any text, `/` included, `?` one
/// character, `[abc]` a set; a pattern ending in `/` matches everything under that folder.
/// </summary>
public static class HubGlob
{
    public static Func<string, bool> Matcher(IReadOnlyList<string> patterns)
    {
        if (patterns.Count == 0) return _ => true;
        var regexes = patterns.Select(ToRegex).ToList();
        return path => regexes.Any(r => r.IsMatch(path));
    }

    static Regex ToRegex(string pattern)
    {
        if (pattern.EndsWith('/')) pattern += "*";
        var sb = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '*') sb.Append(".*");
            else if (c == '?') sb.Append('.');
            else if (c == '[' && pattern.IndexOf(']', i + 1) is var end and > 0)
            {
                var set = pattern[(i + 1)..end];
                var members = set.StartsWith('!') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set);
                sb.Append('[').Append(members).Append(']');
                i = end;
            }
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.Singleline | RegexOptions.CultureInvariant);
    }
}
