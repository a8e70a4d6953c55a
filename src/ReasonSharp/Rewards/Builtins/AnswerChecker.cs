using System.Globalization;
using ReasonSharp.Rewards.Verification;

namespace ReasonSharp.Rewards.Builtins;

/// <summary>
/// Is a completion's answer equal to the row's gold answer? Shared by accuracy, length and cosine. The gold comes
/// from <c>gold_column</c>, else 'solution', else 'answer'; each distinct gold is extracted once per batch. A bare
/// gold is parsed whole; a gold that gives no answer, does not parse or is over a cap scores null (never a prefix of
/// it), and a prediction that runs out of time or is over a cap scores false. Every outcome is counted.
/// </summary>
internal sealed class AnswerChecker
{
    readonly string? _goldColumn;
    readonly MathVerifyOptions _options;

    public VerifierCounts Counts { get; } = new();

    public AnswerChecker(string reward, RewardOptions options)
    {
        _goldColumn = options.GetOptionalString("gold_column");
        var defaults = MathVerifyOptions.Default;
        var rounding = options.GetInt("float_rounding", defaults.FloatRounding);
        var seconds = options.GetDouble("timeout_seconds", defaults.Timeout.TotalSeconds);
        var maxInput = options.GetInt("max_input_length", defaults.MaxInputLength);
        var maxDigits = options.GetInt("max_number_digits", defaults.MaxNumberDigits);
        if (rounding is < 0 or > MathVerifyOptions.MaxFloatRounding)
            throw new ReasonSharpException(
                $"reward '{reward}': float_rounding must be 0..{MathVerifyOptions.MaxFloatRounding}, got {rounding}");
        if (seconds is <= 0 or > 86_400)
            throw new ReasonSharpException(
                $"reward '{reward}': timeout_seconds must be in (0, 86400], got " +
                    $"{seconds.ToString(CultureInfo.InvariantCulture)}");
        if (maxInput < 1)
            throw new ReasonSharpException($"reward '{reward}': max_input_length must be at least 1, got {maxInput}");
        if (maxDigits < 1)
            throw new ReasonSharpException($"reward '{reward}': max_number_digits must be at least 1, got {maxDigits}");
        _options = new MathVerifyOptions
        {
            FloatRounding = rounding,
            Strict = options.GetBool("strict", true),
            Timeout = TimeSpan.FromSeconds(seconds),
            MaxInputLength = maxInput,
            MaxNumberDigits = maxDigits,
        };
    }

    /// <summary>True/false, or null when the gold cannot be used (no answer, did not parse, over a cap).</summary>
    public bool?[] Check(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken)
    {
        var golds = new Dictionary<string, ExtractedAnswer>(StringComparer.Ordinal);
        var results = new bool?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var input = batch[i];
            var goldText = RewardBatch.At(i, () => input.RequireString(GoldColumn(input)));
            if (!golds.TryGetValue(goldText, out var gold)) golds[goldText] = gold =
                MathVerifier.ExtractGold(goldText, _options);
            var result = MathVerifier.Verify(gold, input.Completion, _options, cancellationToken);
            Counts.Add(result, goldText);
            results[i] = result.Outcome switch
            {
                VerifyOutcome.Equivalent => true,
                VerifyOutcome.GoldUnusable => null,
                _ => false,
            };
        }
        return results;
    }

    string GoldColumn(RewardInput input) =>
        _goldColumn ?? (input.HasColumn("solution") ? "solution" : input.HasColumn("answer") ? "answer"
            : throw new RewardInputException("solution", "the column is missing: the gold answer is read from " +
                "'solution' or 'answer' (or set gold_column)"));
}

/// <summary>A reward that verifies answers and counts how the verifications ended.</summary>
public interface IVerifyingReward
{
    VerifierCounts Counts { get; }
}

/// <summary>
/// How a reward's verifications ended since it was created, reported as its metadata (the `reward` CLI prints it in
/// the summary): timed-out and too-large predictions score 0 and unusable golds null, and each is counted here, with
/// the first unusable gold and why.
/// </summary>
public sealed class VerifierCounts
{
    /// <summary>The outcomes trainers log per reward: each one scores 0 (or null) for a reason other than a wrong
    /// answer.</summary>
    public static readonly IReadOnlyList<(VerifyOutcome Outcome, string Name)> Unscored =
        [(VerifyOutcome.TimedOut, "timed_out"), (VerifyOutcome.TooLarge, "too_large"),
            (VerifyOutcome.GoldUnusable, "gold_unusable")];

    readonly long[] _counts = new long[Enum.GetValues<VerifyOutcome>().Length];
    string? _firstUnusableGold;

    public long this[VerifyOutcome outcome] => Interlocked.Read(ref _counts[(int)outcome]);

    public long Total => Enumerable.Range(0, _counts.Length).Sum(i => Interlocked.Read(ref _counts[i]));

    internal void Add(VerifyResult result, string goldText)
    {
        Interlocked.Increment(ref _counts[(int)result.Outcome]);
        if (result.Outcome == VerifyOutcome.GoldUnusable)
            Interlocked.CompareExchange(ref _firstUnusableGold, $"\"{Shorten(goldText)}\": {result.Decision}", null);
    }

    /// <summary>verified, equivalent, not_equivalent, timed_out, too_large, gold_unusable,
    /// gold_unusable_first.</summary>
    public IReadOnlyDictionary<string, string> ToMetadata()
    {
        var metadata = new Dictionary<string, string>
        {
            ["verified"] = Total.ToString(CultureInfo.InvariantCulture),
            ["equivalent"] = this[VerifyOutcome.Equivalent].ToString(CultureInfo.InvariantCulture),
            ["not_equivalent"] = this[VerifyOutcome.NotEquivalent].ToString(CultureInfo.InvariantCulture),
            ["timed_out"] = this[VerifyOutcome.TimedOut].ToString(CultureInfo.InvariantCulture),
            ["too_large"] = this[VerifyOutcome.TooLarge].ToString(CultureInfo.InvariantCulture),
            ["gold_unusable"] = this[VerifyOutcome.GoldUnusable].ToString(CultureInfo.InvariantCulture),
        };
        if (Volatile.Read(ref _firstUnusableGold) is { } first) metadata["gold_unusable_first"] = first;
        return metadata;
    }

    static string Shorten(string text) => text.Length <= 80 ? text : text[..77] + "...";
}

/// <summary>
/// 1 when the completion's answer is mathematically equivalent to the gold answer (see <see cref="MathVerifier"/>),
/// 0 when not (also when the prediction runs out of time or is over a size cap), null when the gold cannot be used —
/// Open-R1's accuracy_reward. Differences: the completion's answer may also be a plain number, an &lt;answer&gt; tag
/// or "the answer is …" (Open-R1 only reads LaTeX, boxed first), so GSM8K-style answers count; a bare gold is parsed
/// whole. Options: gold_column, float_rounding, strict, timeout_seconds, max_input_length, max_number_digits.
/// </summary>
public sealed class AccuracyReward(string name, RewardOptions options) : IRewardFunction, IRewardMetadata,
    IVerifyingReward
{
    readonly AnswerChecker _checker = new(name, options);
    public string Name { get; } = name;

    /// <summary>How the verifications ended so far.</summary>
    public VerifierCounts Counts => _checker.Counts;

    public Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken = default) =>
        Task.FromResult(_checker.Check(batch,
            cancellationToken).Select(c => c.HasValue ? (float?)(c.Value ? 1f : 0f) : null).ToArray());

    public Task<IReadOnlyDictionary<string, string>> GetMetadataAsync() => Task.FromResult(Counts.ToMetadata());
}
