using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>Rollouts built by hand over a tiny token table, so every metric can be checked with pencil and
/// paper.</summary>
public static class HandBuiltRollouts
{
    // One text piece per token id.
    public static readonly string[] Vocabulary =
        ["<think>", "\n", "</think>", "The answer is ", "4", "5", " step", "7", "<answer>", "</answer>", " ", "x"];

    public const int Think = 0, NewLine = 1, EndThink = 2, AnswerIs = 3, Four = 4, Five = 5, Step = 6, Seven = 7,
        Space = 10, X = 11;

    public static string Decode(IReadOnlyList<int> ids) => string.Concat(ids.Select(i => Vocabulary[i]));

    public static Example Example(string? gold) =>
        new([ChatMessage.FromUser("question")], gold, new Dictionary<string, JsonElement>(), "hand-built");

    /// <summary>A completion of <paramref name="example"/> with an "accuracy" reward (null = not applicable, totals
    /// 0).</summary>
    public static Rollout Rollout(Example example, int exampleIndex, int sampleIndex, int[] ids, float? accuracy,
        bool truncated = false) =>
        new(exampleIndex, sampleIndex, example, [1],
            new GenerationResult([1], ids, Decode(ids), new float[ids.Length],
                truncated ? FinishReason.Length : FinishReason.Stop, TimeSpan.Zero),
            accuracy ?? 0f, new Dictionary<string, float?> { ["accuracy"] = accuracy });
}
