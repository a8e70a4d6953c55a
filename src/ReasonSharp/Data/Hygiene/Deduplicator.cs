using System.Security.Cryptography;
using System.Text;

namespace ReasonSharp.Data;

/// <summary>Exact: byte-identical text. Normalized: equal after <see cref="TextNormalizer.Normalize"/> (case, Unicode
/// form, whitespace).</summary>
public enum DedupMode { Exact, Normalized }

/// <summary>Which text decides that two examples are duplicates.</summary>
public enum DedupScope { Conversation, Prompt }

public sealed record DuplicateHit(string Source, string FirstSource);

public sealed class DedupReport
{
    readonly List<DuplicateHit> hits = [];

    public int Checked { get; private set; }
    public IReadOnlyList<DuplicateHit> Removed => hits;

    internal void Count(DuplicateHit? hit)
    {
        Checked++;
        if (hit != null) hits.Add(hit);
    }
}

/// <summary>Keeps the first of each group of duplicate examples (by a 128-bit hash of their text) and records the
/// rest.</summary>
public static class Deduplicator
{
    public static IEnumerable<T> Filter<T>(IEnumerable<T> items, Func<T, Example> example, DedupMode mode,
        DedupScope scope, DedupReport report)
    {
        var seen = new Dictionary<UInt128, string>();
        foreach (var item in items)
        {
            var e = example(item);
            var text = scope == DedupScope.Prompt ? TextNormalizer.PromptText(e) : TextNormalizer.ConversationText(e);
            if (mode == DedupMode.Normalized) text = TextNormalizer.Normalize(text);
            var key = Hash(text);
            if (seen.TryGetValue(key, out var first))
            {
                report.Count(new DuplicateHit(e.Source, first));
                continue;
            }
            seen[key] = e.Source;
            report.Count(null);
            yield return item;
        }
    }

    static UInt128 Hash(string text)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), digest);
        return new UInt128(BitConverter.ToUInt64(digest[..8]), BitConverter.ToUInt64(digest[8..16]));
    }
}
