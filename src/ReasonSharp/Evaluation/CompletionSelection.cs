namespace ReasonSharp.Evaluation;

/// <summary>Which verified completions of a prompt rejection sampling keeps.</summary>
public enum SelectionMode
{
    /// <summary>The first K in sample order.</summary>
    First,
    /// <summary>The K with the fewest completion tokens (ties: sample order).</summary>
    Shortest,
    /// <summary>K chosen greedily to be far apart: start with the first, then repeatedly add the one whose smallest
    /// token-set Jaccard distance to those chosen is largest (ties: sample order).</summary>
    Diverse,
    /// <summary>Every completion above the threshold.</summary>
    All,
    /// <summary>The K with the highest total reward (ties: sample order): best-of-N with a reward model, e.g.
    /// reward_model(model=rm), a threshold below every score and keep 1.</summary>
    Best,
}

/// <summary>Deduplication and selection among one prompt's verified completions.</summary>
public static class CompletionSelection
{
    /// <summary>Keeps the first of each group of texts that are equal once whitespace is normalised.</summary>
    public static IReadOnlyList<T> Deduplicate<T>(IReadOnlyList<T> items, Func<T, string> text)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return items.Where(item => seen.Add(CompletionAnalyzer.NormaliseWhitespace(text(item)))).ToList();
    }

    /// <summary>The chosen items, in the order they were chosen (sample order for first and all, best first for
    /// best).</summary>
    public static IReadOnlyList<T> Select<T>(IReadOnlyList<T> items, SelectionMode mode, int keep,
        Func<T, IReadOnlyList<int>> tokens, Func<T, double>? reward = null)
    {
        if (keep < 1) throw new ReasonSharpException($"keep must be at least 1, got {keep}");
        return mode switch
        {
            SelectionMode.Best => reward is null
                ? throw new ArgumentException("selection best needs the completions' rewards", nameof(reward))
                : items.Select((item, i) => (item, i)).OrderByDescending(p => reward(p.item)).ThenBy(p => p.i)
                    .Take(keep).Select(p => p.item).ToList(),
            SelectionMode.All => items.ToList(),
            SelectionMode.First => items.Take(keep).ToList(),
            SelectionMode.Shortest =>
                items.Select((item, i) => (item, i)).OrderBy(p => tokens(p.item).Count).ThenBy(p =>
                p.i).Take(keep).Select(p => p.item).ToList(),
            _ => MostDiverse(items, keep, tokens),
        };
    }

    static List<T> MostDiverse<T>(IReadOnlyList<T> items, int keep, Func<T, IReadOnlyList<int>> tokens)
    {
        if (items.Count == 0) return [];
        var sets = items.Select(item => tokens(item).ToHashSet()).ToList();
        var chosen = new List<int> { 0 };
        // Distance from each candidate to its nearest chosen item.
        var nearest = sets.Select(s => JaccardDistance(s, sets[0])).ToArray();
        while (chosen.Count < Math.Min(keep, items.Count))
        {
            int best = -1;
            for (int i = 0; i < items.Count; i++)
                if (!chosen.Contains(i) && (best < 0 || nearest[i] > nearest[best])) best = i;
            chosen.Add(best);
            for (int i = 0; i < items.Count; i++) nearest[i] =
                Math.Min(nearest[i], JaccardDistance(sets[i], sets[best]));
        }
        return chosen.Select(i => items[i]).ToList();
    }

    /// <summary>1 − |A ∩ B| / |A ∪ B|; two empty sets are at distance 0.</summary>
    public static double JaccardDistance(IReadOnlySet<int> a, IReadOnlySet<int> b)
    {
        if (a.Count == 0 && b.Count == 0) return 0;
        int common = a.Count(b.Contains);
        return 1.0 - (double)common / (a.Count + b.Count - common);
    }
}
