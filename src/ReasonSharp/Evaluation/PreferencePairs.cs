using System.Text.Json.Nodes;
using ReasonSharp.Generation;

namespace ReasonSharp.Evaluation;

/// <summary>How sampled preference pairs are formed from one prompt's verified and failed completions.</summary>
public enum PairSelection
{
    /// <summary>The shortest verified against the longest failed, then the next-shortest against the next-longest
    /// (length in completion tokens; ties: sample order).</summary>
    ShortestLongest,
    /// <summary>Verified and failed completions each in a seeded random order, paired in turn.</summary>
    Random,
}

/// <summary>Which modes a prompt is sampled in: think, no_think, or both (SmolLM3's dual mode).</summary>
public enum SampleMode { Think, NoThink, Both }

/// <summary>A preference pair from one prompt's samples in one mode: a verified completion against a failed
/// one.</summary>
public sealed record SampledPair(KeptCompletion Chosen, KeptCompletion Rejected);

/// <summary>Pairing rules and the pairs.jsonl row (TRL's conversational preference format, explicit prompt).</summary>
public static class PreferencePairs
{
    /// <summary>The thinking modes, in sampling order (think first).</summary>
    public static IReadOnlyList<ThinkingMode> Modes(this SampleMode mode) => mode switch
    {
        SampleMode.Think => [ThinkingMode.Think],
        SampleMode.NoThink => [ThinkingMode.NoThink],
        _ => [ThinkingMode.Think, ThinkingMode.NoThink],
    };

    /// <summary>
    /// Up to <paramref name="maxPairs"/> pairs, each verified and each failed item used at most once; none when either
    /// list is empty. <paramref name="seed"/> drives <see cref="PairSelection.Random"/> only.
    /// </summary>
    public static IReadOnlyList<(T Chosen, T Rejected)> Select<T>(IReadOnlyList<T> verified, IReadOnlyList<T> failed,
        PairSelection selection, int maxPairs, Func<T, int> length, int seed)
    {
        if (maxPairs < 1) throw new ReasonSharpException($"max_pairs_per_prompt must be at least 1, got {maxPairs}");
        IReadOnlyList<T> chosen, rejected;
        if (selection == PairSelection.ShortestLongest)
        {
            chosen = verified.Select((v, i) => (v, i)).OrderBy(p => length(p.v)).ThenBy(p => p.i)
                .Select(p => p.v).ToList();
            rejected = failed.Select((f, i) => (f, i)).OrderByDescending(p => length(p.f)).ThenBy(p => p.i)
                .Select(p => p.f).ToList();
        }
        else
        {
            // One generator for both lists, so the two orders are independent.
            var random = new Random(seed);
            chosen = Shuffle(verified, random);
            rejected = Shuffle(failed, random);
        }
        return chosen.Zip(rejected, (c, r) => (Chosen: c, Rejected: r)).Take(maxPairs).ToList();
    }

    /// <summary>The random pairing's seed for one prompt and mode: the same in a resumed run and whatever the
    /// chunking.</summary>
    public static int PairSeed(long seed, int promptIndex, ThinkingMode mode)
    {
        // SplitMix64 finaliser over the three values.
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)promptIndex * 2 + (ulong)mode);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return unchecked((int)(z ^ (z >> 31)));
    }

    /// <summary>
    /// A pairs.jsonl row: <c>prompt</c> (the prompt messages as the model saw them, dual-mode flag included),
    /// <c>chosen</c> and <c>rejected</c> (one assistant turn each: template prefill + completion), then the mode,
    /// prompt index, both rewards and both completion lengths in tokens.
    /// </summary>
    public static JsonObject Row(IReadOnlyList<ChatMessage> prompt, int promptIndex, ThinkingMode mode,
        SampledPair pair) => new()
        {
            ["prompt"] = Messages(prompt),
            ["chosen"] = Messages([ChatMessage.FromAssistant(pair.Chosen.Response)]),
            ["rejected"] = Messages([ChatMessage.FromAssistant(pair.Rejected.Response)]),
            ["mode"] = mode.Name(),
            ["prompt_index"] = promptIndex,
            ["chosen_reward"] = pair.Chosen.Rollout.Reward,
            ["rejected_reward"] = pair.Rejected.Rollout.Reward,
            ["chosen_tokens"] = pair.Chosen.Rollout.Generation.CompletionIds.Length,
            ["rejected_tokens"] = pair.Rejected.Rollout.Generation.CompletionIds.Length,
        };

    static JsonArray Messages(IEnumerable<ChatMessage> messages) =>
        new(messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray());

    static List<T> Shuffle<T>(IReadOnlyList<T> items, Random random)
    {
        var list = items.ToList();
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
        return list;
    }
}
