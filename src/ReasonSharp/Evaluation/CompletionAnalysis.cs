using System.Text.RegularExpressions;
using ReasonSharp.Data;
using ReasonSharp.Generation;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Builtins;
using ReasonSharp.Rewards.Verification;

namespace ReasonSharp.Evaluation;

/// <summary>What majority voting compares.</summary>
public enum AnswerVote
{
    /// <summary>Math when the example has a gold answer ('answer'/'solution' column), else the &lt;answer&gt; text
    /// (countdown).</summary>
    Auto,
    /// <summary>The math-verify answer extracted from the completion, in its canonical parsed form.</summary>
    Math,
    /// <summary>The last &lt;answer&gt;…&lt;/answer&gt; text with whitespace normalised.</summary>
    AnswerTag,
}

/// <summary>
/// One completion as evaluation and rejection sampling see it. <see cref="Response"/> is the whole assistant turn
/// (the template's prefill, e.g. no-think's empty think block, then the completion). <see cref="Correct"/>: total
/// reward ≥ the threshold. Token counts are of the generated ids; think tokens run from the start of the completion
/// through the token that closes &lt;/think&gt; (all of them when the block never closes, 0 without one).
/// </summary>
public sealed record ScoredSample(
    int ExampleIndex,
    int SampleIndex,
    string Response,
    float Reward,
    IReadOnlyDictionary<string, float?> Rewards,
    bool Correct,
    bool FormatOk,
    int CompletionTokens,
    int ThinkTokens,
    bool Truncated,
    string? Answer);

/// <summary>Turns rollouts into <see cref="ScoredSample"/>s: correctness, format compliance, lengths and the answer
/// voted on.</summary>
public sealed partial class CompletionAnalyzer(Func<IReadOnlyList<int>, string> decode, IRewardFunction format,
    double threshold, AnswerVote vote = AnswerVote.Auto)
{
    /// <param name="prefill">The assistant text already in each rollout's prompt (see
    /// <see cref="RolloutRunner.PromptPrefill"/>); none when null.</param>
    public async Task<IReadOnlyList<ScoredSample>> AnalyzeAsync(IReadOnlyList<Rollout> rollouts,
        Func<Rollout, string>? prefill = null,
        CancellationToken cancellationToken = default)
    {
        var responses = rollouts.Select(r => (prefill?.Invoke(r) ?? "") + r.Generation.CompletionText).ToList();
        var formatInputs =
            rollouts.Select((r, i) =>
            RolloutRunner.RewardInputFor(r.Example, r.Generation, 0) with { Completion = responses[i] }).ToList();
        var formatScores = await format.ScoreAsync(formatInputs, cancellationToken);
        return rollouts.Select((r, i) => new ScoredSample(
            r.ExampleIndex, r.SampleIndex, responses[i], r.Reward, r.Rewards,
            Correct: r.Reward >= threshold,
            FormatOk: formatScores[i] >= 1f,
            CompletionTokens: r.Generation.CompletionIds.Length,
            ThinkTokens: ThinkTokens(r.Generation.CompletionIds, r.Generation.CompletionText),
            Truncated: r.Generation.Truncated,
            Answer: AnswerKey(responses[i], r.Example, vote))).ToList();
    }

    /// <summary>Generated tokens up to and including the one that completes &lt;/think&gt;; all when only &lt;think&gt;
    /// opened; else 0.</summary>
    public int ThinkTokens(IReadOnlyList<int> ids, string completion)
    {
        if (completion.Contains(ReasoningTrace.ThinkClose, StringComparison.Ordinal))
        {
            // The shortest prefix whose text holds the closing tag (a longer prefix's text extends a shorter one's).
            int low = 1, high = ids.Count;
            while (low < high)
            {
                int mid = (low + high) / 2;
                if (decode(ids.Take(mid).ToList()).Contains(ReasoningTrace.ThinkClose, StringComparison.Ordinal)) high =
                    mid;
                else low = mid + 1;
            }
            return low;
        }
        return completion.Contains(ReasoningTrace.ThinkOpen, StringComparison.Ordinal) ? ids.Count : 0;
    }

    /// <summary>The normalised answer a completion gives, for majority voting; null when it gives none.</summary>
    public static string? AnswerKey(string response, Example example, AnswerVote vote = AnswerVote.Auto)
    {
        if (vote == AnswerVote.Math || (vote == AnswerVote.Auto && HasGold(example)))
        {
            var answer = MathVerifier.ExtractAnswer(response);
            return answer.Source is null ? null : answer.Value?.ToString() ?? answer.Normalized ?? answer.Matched;
        }
        var tag = CountdownVerifier.ExtractEquation(response);
        return tag is null ? null : NormaliseWhitespace(tag);
    }

    /// <summary>Runs of whitespace become one space; ends trimmed.</summary>
    public static string NormaliseWhitespace(string text) => Whitespace().Replace(text, " ").Trim();

    static bool HasGold(Example example) =>
        example.GoldAnswer is not null || example.Extra.ContainsKey("answer") || example.Extra.ContainsKey("solution");

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
