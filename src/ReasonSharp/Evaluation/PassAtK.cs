namespace ReasonSharp.Evaluation;

/// <summary>Sampling-based accuracy estimators: unbiased pass@k (Chen et al., 2021) and majority voting.</summary>
public static class PassAtK
{
    /// <summary>
    /// Probability that at least one of k samples drawn without replacement from n (c of them correct) is correct:
    /// 1 − C(n−c, k) / C(n, k), computed as a stable product.
    /// </summary>
    public static double Estimate(int n, int c, int k)
    {
        if (n < 1 || c < 0 || c > n) throw new ArgumentException($"need 0 ≤ c ≤ n and n ≥ 1 (n={n}, c={c})");
        if (k < 1 || k > n) throw new ArgumentException($"k must be in 1..n (k={k}, n={n})");
        if (n - c < k) return 1.0;
        double missAll = 1.0;
        for (int i = n - c + 1; i <= n; i++) missAll *= 1.0 - (double)k / i;
        return 1.0 - missAll;
    }

    /// <summary>
    /// The answer most samples agree on (ties go to the earliest such answer), or null when no sample has one.
    /// Answers are compared by their normalised form.
    /// </summary>
    public static string? MajorityAnswer(IEnumerable<string?> normalisedAnswers)
    {
        var counts = new Dictionary<string, (int Count, int First)>();
        int index = 0;
        foreach (var answer in normalisedAnswers)
        {
            if (answer is not null)
                counts[answer] = counts.TryGetValue(answer, out var c) ? (c.Count + 1, c.First) : (1, index);
            index++;
        }
        return counts.Count == 0 ? null
            : counts.OrderByDescending(kv => kv.Value.Count).ThenBy(kv => kv.Value.First).First().Key;
    }
}
