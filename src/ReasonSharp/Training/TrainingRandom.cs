using System.Globalization;

namespace ReasonSharp.Training;

/// <summary>
/// A seedable random generator (xoshiro256**) whose whole state is a short string, so a checkpoint can restore it
/// exactly (System.Random cannot be saved). Used for data order, sampling choices and anything a task draws.
/// </summary>
public sealed class TrainingRandom
{
    ulong _s0, _s1, _s2, _s3;

    public TrainingRandom(long seed)
    {
        // SplitMix64 spreads the seed over the four state words (never all zero).
        ulong x = (ulong)seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>A generator for a sub-stream (e.g. the data order of one epoch), independent of this one's
    /// position.</summary>
    public static TrainingRandom Derive(long seed, long stream) =>
        new(unchecked(seed * 0x5851F42D4C957F2DL + stream * 0x14057B7EF767814FL + 1));

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, maxExclusive), without modulo bias.</summary>
    public int Next(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive));
        ulong bound = (ulong)maxExclusive, limit = ulong.MaxValue - ulong.MaxValue % bound;
        ulong value;
        do value = NextUInt64(); while (value >= limit);
        return (int)(value % bound);
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A random permutation of 0..count-1.</summary>
    public int[] Permutation(int count)
    {
        var order = Enumerable.Range(0, count).ToArray();
        Shuffle(order);
        return order;
    }

    public string State =>
        string.Join(":", new[] { _s0, _s1, _s2, _s3 }.Select(v => v.ToString("x16", CultureInfo.InvariantCulture)));

    public void Restore(string state)
    {
        var parts = state.Split(':');
        if (parts.Length != 4
            || !parts.All(p => ulong.TryParse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _)))
            throw new ReasonSharpException($"random state '{state}' is malformed; expected four ':'-separated " +
                $"64-bit hex words");
        var words = parts.Select(p => ulong.Parse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
        (_s0, _s1, _s2, _s3) = (words[0], words[1], words[2], words[3]);
    }
}
