namespace ReasonSharp.Evaluation;

/// <summary>
/// Choosing among an example's k samples by a scorer's values (a process or outcome reward model, or any reward):
/// best-of-k takes the highest-scoring sample (ties: the earliest), weighted majority voting the answer whose samples'
/// scores sum highest (ties: the answer given earliest). Samples without a score, or without an answer in the vote, do
/// not take part.
/// </summary>
public static class RewardWeightedVote
{
    /// <summary>The index of the highest-scoring sample, or null when none has a score.</summary>
    public static int? BestOfK(IReadOnlyList<float?> scores)
    {
        int? best = null;
        for (int i = 0; i < scores.Count; i++)
            if (scores[i] is { } s && !float.IsNaN(s) && (best is null || s > scores[best.Value]!.Value)) best = i;
        return best;
    }

    /// <summary>The answer with the largest sum of scores, or null when no scored sample has an answer.</summary>
    public static string? WeightedMajority(IReadOnlyList<string?> answers, IReadOnlyList<float?> scores)
    {
        if (answers.Count != scores.Count)
            throw new ArgumentException($"{answers.Count} answers but {scores.Count} scores");
        var sums = new Dictionary<string, (double Sum, int First)>();
        for (int i = 0; i < answers.Count; i++)
        {
            if (answers[i] is not { } answer || scores[i] is not { } score || float.IsNaN(score)) continue;
            sums[answer] = sums.TryGetValue(answer, out var s) ? (s.Sum + score, s.First) : (score, i);
        }
        return sums.Count == 0 ? null
            : sums.OrderByDescending(kv => kv.Value.Sum).ThenBy(kv => kv.Value.First).First().Key;
    }
}
