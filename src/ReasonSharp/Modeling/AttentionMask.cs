using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// Builds the boolean attention mask [B, 1, T, K] (true = may attend) from causality, key padding (left padding in batched
/// generation) and packed-sequence ids. Returns null when plain causal attention suffices, so SDPA can take its fast path.
/// </summary>
public static class AttentionMask
{
    /// <param name="queryLength">T, the new positions in this forward.</param>
    /// <param name="pastLength">Positions already in the KV cache; keys are [0, pastLength + T).</param>
    /// <param name="keyPadding">[B, pastLength + T], nonzero for real tokens; null if none is padding.</param>
    /// <param name="sequenceIds">[B, T] packed-sequence ids (no cache): attention never crosses sequences.</param>
    public static Tensor? Build(long batch, long queryLength, long pastLength, Tensor? keyPadding, Tensor? sequenceIds, Device device)
    {
        if (keyPadding is null && sequenceIds is null)
            return pastLength == 0 || queryLength == 1 ? null : Causal(queryLength, pastLength, device).expand(batch, 1, queryLength, pastLength + queryLength);

        if (queryLength == 1 && sequenceIds is null)
        {
            // One query (a decoding step): it may see every real key, and always itself, the newest key.
            var single = keyPadding!.ne(0).view(batch, 1, 1, pastLength + 1);
            single.narrow(3, pastLength, 1).fill_(true);
            return single;
        }
        using var scope = NewDisposeScope();
        long keyLength = pastLength + queryLength;
        var mask = Causal(queryLength, pastLength, device).expand(batch, 1, queryLength, keyLength);
        if (keyPadding is not null)
            mask = mask.logical_and(keyPadding.to(@bool).view(batch, 1, 1, keyLength));
        if (sequenceIds is not null)
        {
            if (pastLength != 0) throw new ArgumentException("packed sequence ids cannot be combined with a KV cache");
            mask = mask.logical_and(sequenceIds.view(batch, 1, queryLength, 1).eq(sequenceIds.view(batch, 1, 1, queryLength)));
        }
        // A padding query would attend to nothing and turn into NaN, which then leaks through 0·NaN; let it see itself.
        var diagonal = arange(queryLength, device: device).view(queryLength, 1).add(pastLength).eq(arange(keyLength, device: device).view(1, keyLength));
        return mask.logical_or(diagonal).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The mask of a sliding-window layer: <paramref name="full"/> (from <see cref="Build"/>, null = causal) where, in
    /// addition, a query sees only the <paramref name="window"/> newest keys up to itself (query − key &lt; window, as
    /// transformers and llama.cpp). The same as <paramref name="full"/> while every key is within the window.
    /// </summary>
    public static Tensor? Window(Tensor? full, long batch, long queryLength, long pastLength, int window, Device device)
    {
        long keyLength = pastLength + queryLength;
        if (keyLength <= window) return full;
        using var scope = NewDisposeScope();
        var query = arange(queryLength, device: device).view(queryLength, 1).add(pastLength);
        var key = arange(keyLength, device: device).view(1, keyLength);
        var band = (query - key).lt(window).view(1, 1, queryLength, keyLength);
        var mask = (full ?? Causal(queryLength, pastLength, device)).logical_and(band);
        return mask.expand(batch, 1, queryLength, keyLength).MoveToOuterDisposeScope();
    }

    static Tensor Causal(long queryLength, long pastLength, Device device)
    {
        var query = arange(queryLength, device: device).view(queryLength, 1).add(pastLength);
        var key = arange(pastLength + queryLength, device: device).view(1, pastLength + queryLength);
        return key.le(query).view(1, 1, queryLength, pastLength + queryLength);
    }
}
