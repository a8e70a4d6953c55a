namespace ReasonSharp.Training.Sft;

/// <summary>
/// Packs token sequences into rows of at most a given length with best-fit decreasing: longest first, each into the
/// fullest row that still has room, else a new row. Sequences stay whole; a packed row records their lengths, so the
/// loop gives each its own positions and keeps attention inside it.
/// </summary>
public static class SequencePacker
{
    /// <summary>Bins of item indices (largest first within a bin); ties are broken by index, so the result is
    /// deterministic.</summary>
    public static IReadOnlyList<IReadOnlyList<int>> BestFitDecreasing(IReadOnlyList<int> lengths, int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity,
            "expected a positive row length");
        var bins = new List<List<int>>();
        // (space left, bin index): the smallest space >= length is the best fit.
        var open = new SortedSet<(int Left, int Bin)>();
        foreach (var item in Enumerable.Range(0, lengths.Count).OrderByDescending(i => lengths[i]).ThenBy(i => i))
        {
            int length = lengths[item];
            if (length > capacity) throw new ReasonSharpException($"sequence {item} has {length} tokens, more than " +
                $"the packed row length {capacity}");
            var fits = open.GetViewBetween((length, int.MinValue), (capacity, int.MaxValue));
            int bin;
            int left;
            if (fits.Count > 0)
            {
                (left, bin) = fits.Min;
                open.Remove((left, bin));
            }
            else
            {
                bin = bins.Count;
                left = capacity;
                bins.Add([]);
            }
            bins[bin].Add(item);
            if (left - length > 0) open.Add((left - length, bin));
        }
        return bins;
    }

    /// <summary>The sequences packed into rows of at most <paramref name="capacity"/> tokens (see
    /// <see cref="TokenSequence.PackedLengths"/>).</summary>
    public static IReadOnlyList<TokenSequence> Pack(IReadOnlyList<TokenSequence> sequences, int capacity) =>
        BestFitDecreasing(sequences.Select(s => s.InputIds.Length).ToList(), capacity)
            .Select(bin => Concatenate(bin.Select(i => sequences[i]).ToList()))
            .ToList();

    static TokenSequence Concatenate(IReadOnlyList<TokenSequence> parts)
    {
        var ids = parts.SelectMany(p => p.InputIds).ToArray();
        var mask = parts.SelectMany(p => p.LossMask ?? Enumerable.Repeat(true, p.InputIds.Length)).ToArray();
        return new TokenSequence(ids, mask) { PackedLengths = parts.Select(p => p.InputIds.Length).ToArray() };
    }
}
