using ReasonSharp.Rewards.Verification;

namespace ReasonSharp.Rewards.Builtins;

/// <summary>
/// Is a completion's answer equal to the row's gold answer? Shared by accuracy, length and cosine. The gold comes
/// from <c>gold_column</c>, else 'solution', else 'answer'; each distinct gold is extracted once per batch.
/// </summary>
internal sealed class AnswerChecker
{
    readonly string? _goldColumn;
    readonly MathVerifyOptions _options;

    public AnswerChecker(RewardOptions options)
    {
        _goldColumn = options.GetOptionalString("gold_column");
        _options = new MathVerifyOptions
        {
            FloatRounding = options.GetInt("float_rounding", 6),
            Strict = options.GetBool("strict", true),
            Timeout = TimeSpan.FromSeconds(options.GetDouble("timeout_seconds", 3)),
        };
    }

    /// <summary>True/false, or null when the gold answer has nothing extractable (the sample is skipped).</summary>
    public bool?[] Check(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken)
    {
        var golds = new Dictionary<string, ExtractedAnswer>(StringComparer.Ordinal);
        var results = new bool?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var input = batch[i];
            var goldText = RewardBatch.At(i, () => input.RequireString(GoldColumn(input)));
            if (!golds.TryGetValue(goldText, out var gold)) golds[goldText] = gold = MathVerifier.ExtractGold(goldText, _options);
            results[i] = gold.Source == null ? null : MathVerifier.Verify(gold, input.Completion, _options, cancellationToken).Equivalent;
        }
        return results;
    }

    string GoldColumn(RewardInput input) =>
        _goldColumn ?? (input.HasColumn("solution") ? "solution" : input.HasColumn("answer") ? "answer"
            : throw new RewardInputException("solution", "the column is missing: the gold answer is read from 'solution' or 'answer' (or set gold_column)"));
}

/// <summary>
/// 1 when the completion's answer is mathematically equivalent to the gold answer (see <see cref="MathVerifier"/>),
/// 0 when not, null when the gold has no extractable answer — Open-R1's accuracy_reward. Difference: the
/// completion's answer may also be a plain number, an &lt;answer&gt; tag or "the answer is …" (Open-R1 only reads
/// LaTeX, boxed first), so GSM8K-style answers count.
/// </summary>
public sealed class AccuracyReward(string name, RewardOptions options) : IRewardFunction
{
    readonly AnswerChecker _checker = new(options);
    public string Name { get; } = name;

    public Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken = default) =>
        Task.FromResult(_checker.Check(batch, cancellationToken).Select(c => c.HasValue ? (float?)(c.Value ? 1f : 0f) : null).ToArray());
}
