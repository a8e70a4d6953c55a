namespace ReasonSharp.Rewards.Builtins;

/// <summary>
/// Kimi 1.5's length reward (Open-R1's len_reward): within a group, λ = 0.5 − (len − min)/(max − min); correct
/// completions get λ, wrong ones min(0, λ); 0 for all when every length is equal. Differences from Open-R1, both
/// following the Kimi paper: lengths are in tokens (unit=chars measures characters instead) and min/max are taken
/// over the completions of the same prompt (group_by=batch uses the whole batch, as Open-R1). A completion whose
/// gold answer does not parse gets null (Open-R1 counts it as correct) and is left out of min/max.
/// </summary>
public sealed class LengthReward : IRewardFunction, IRewardMetadata, IVerifyingReward
{
    readonly AnswerChecker _checker;

    /// <summary>How the verifications ended so far.</summary>
    public VerifierCounts Counts => _checker.Counts;
    readonly bool _tokens;
    readonly bool _perPrompt;
    public string Name { get; }

    /// <summary>How the answer checks ended so far (timed out, too large, unusable gold, …).</summary>
    public Task<IReadOnlyDictionary<string, string>> GetMetadataAsync() =>
        Task.FromResult(_checker.Counts.ToMetadata());

    public LengthReward(string name, RewardOptions options)
    {
        Name = name;
        _checker = new AnswerChecker(name, options);
        _tokens = LengthUnit.IsTokens(name, options);
        var groupBy = options.GetString("group_by", "prompt");
        _perPrompt = groupBy switch
        {
            "prompt" => true,
            "batch" => false,
            _ => throw new ReasonSharpException($"reward '{name}': group_by must be prompt or batch, got '{groupBy}'"),
        };
    }

    public Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken = default)
    {
        var correct = _checker.Check(batch, cancellationToken);
        var lengths = batch.Select((input, i) => LengthUnit.Measure(input, i, _tokens, Name)).ToArray();
        var scores = new float?[batch.Count];
        var groups = Enumerable.Range(0, batch.Count).Where(i => correct[i] != null)
            .GroupBy(i => _perPrompt ? batch[i].Prompt.AsText() : "");
        foreach (var group in groups)
        {
            var min = group.Min(i => lengths[i]);
            var max = group.Max(i => lengths[i]);
            foreach (var i in group)
            {
                if (max == min) { scores[i] = 0f; continue; }
                var lambda = 0.5f - (float)(lengths[i] - min) / (max - min);
                scores[i] = correct[i] == true ? lambda : Math.Min(0f, lambda);
            }
        }
        return Task.FromResult(scores);
    }
}

/// <summary>
/// Open-R1's cosine-scaled reward, with length in tokens: reward = min + ½(max − min)(1 + cos(π·len/max_len)),
/// where (min, max) is (min_value_correct, max_value_correct) for a correct answer and (max_value_wrong,
/// min_value_wrong) for a wrong one, so short correct answers score highest and short wrong ones lowest.
/// Differences: len/max_len is clipped at 1 (Open-R1's cosine turns back up past max_len), and an unparseable gold
/// gives null instead of 1.0. Defaults are those of Open-R1's get_cosine_scaled_reward (min_value_wrong −1); its
/// recipe arguments default min_value_wrong to 0.0, which would rank short wrong answers above long ones.
/// </summary>
public sealed class CosineReward : IRewardFunction, IRewardMetadata, IVerifyingReward
{
    readonly AnswerChecker _checker;

    /// <summary>How the verifications ended so far.</summary>
    public VerifierCounts Counts => _checker.Counts;
    readonly double _minWrong, _maxWrong, _minCorrect, _maxCorrect;
    readonly int _maxLength;
    public string Name { get; }

    /// <summary>How the answer checks ended so far (timed out, too large, unusable gold, …).</summary>
    public Task<IReadOnlyDictionary<string, string>> GetMetadataAsync() =>
        Task.FromResult(_checker.Counts.ToMetadata());

    public CosineReward(string name, RewardOptions options)
    {
        Name = name;
        _checker = new AnswerChecker(name, options);
        _minWrong = options.GetDouble("min_value_wrong", -1.0);
        _maxWrong = options.GetDouble("max_value_wrong", -0.5);
        _minCorrect = options.GetDouble("min_value_correct", 0.5);
        _maxCorrect = options.GetDouble("max_value_correct", 1.0);
        _maxLength = options.GetInt("max_len", 1000);
        if (_maxLength <= 0) throw new ReasonSharpException($"reward '{name}': max_len must be positive, got " +
            $"{_maxLength}");
    }

    public Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken = default)
    {
        var correct = _checker.Check(batch, cancellationToken);
        var scores = new float?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var length = RewardBatch.At(i, () => batch[i].RequireCompletionIds(Name).Count);
            if (correct[i] is not { } isCorrect) continue;
            var progress = Math.Min(1.0, (double)length / _maxLength);
            var cosine = Math.Cos(progress * Math.PI);
            var (low, high) = isCorrect ? (_minCorrect, _maxCorrect) : (_maxWrong, _minWrong);
            scores[i] = (float)(low + 0.5 * (high - low) * (1.0 + cosine));
        }
        return Task.FromResult(scores);
    }
}

/// <summary>
/// DAPO's soft overlong punishment (TRL/Open-R1 get_soft_overlong_punishment), in tokens: 0 up to
/// max_completion_len − soft_punish_cache, then falling linearly to −1 at max_completion_len, −1 beyond.
/// </summary>
public sealed class SoftOverlongReward : SampleReward
{
    readonly int _maxLength;
    readonly int _cache;

    public SoftOverlongReward(string name, RewardOptions options) : base(name)
    {
        _maxLength = options.GetInt("max_completion_len", 16384);
        _cache = options.GetInt("soft_punish_cache", 4096);
        if (_cache < 0 || _cache > _maxLength)
            throw new ReasonSharpException($"reward '{name}': soft_punish_cache must be within " +
                $"0..max_completion_len ({_maxLength}), got {_cache}");
    }

    protected override float? Score(RewardInput input)
    {
        var length = input.RequireCompletionIds(Name).Count;
        if (length <= _maxLength - _cache) return 0f;
        if (length <= _maxLength) return (float)(_maxLength - _cache - length) / _cache;
        return -1f;
    }
}

/// <summary>
/// Open-R1's repetition penalty (Demystifying long CoT, App. C.2): words are the lower-cased whitespace-split
/// completion; reward = (1 − distinct n-grams / n-grams) · max_penalty; 0 for empty text or fewer than n words.
/// </summary>
public sealed class RepetitionReward : SampleReward
{
    readonly int _n;
    readonly double _maxPenalty;

    public RepetitionReward(string name, RewardOptions options) : base(name)
    {
        _n = options.GetInt("ngram_size", 3);
        _maxPenalty = options.GetDouble("max_penalty", -1.0);
        if (_maxPenalty > 0) throw new ReasonSharpException($"reward '{name}': max_penalty {_maxPenalty} should " +
            $"not be positive");
        if (_n < 1) throw new ReasonSharpException($"reward '{name}': ngram_size must be at least 1, got {_n}");
    }

    protected override float? Score(RewardInput input)
    {
        var words = input.Completion.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < _n) return 0f;
        var total = words.Length - _n + 1;
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < total; i++) distinct.Add(string.Join('\u0001', words, i, _n));
        return (float)((1.0 - (double)distinct.Count / total) * _maxPenalty);
    }
}

internal static class LengthUnit
{
    public static bool IsTokens(string reward, RewardOptions options) => options.GetString("unit", "tokens") switch
    {
        "tokens" => true,
        "chars" => false,
        var other => throw new ReasonSharpException($"reward '{reward}': unit must be tokens or chars, got '{other}'"),
    };

    public static int Measure(RewardInput input, int index, bool tokens, string reward) =>
        tokens ? RewardBatch.At(index, () => input.RequireCompletionIds(reward).Count) : input.Completion.Length;
}
