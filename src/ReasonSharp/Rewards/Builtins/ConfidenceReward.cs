namespace ReasonSharp.Rewards.Builtins;

/// <summary>
/// The generator's own confidence in a completion, from the log-probabilities it sampled the tokens with:
/// aggregation=min (default) gives the probability of its least likely token, mean the geometric mean of its tokens'
/// probabilities; both in (0, 1]. As eval's selection_reward it picks the most confident sample (best_of_k) and
/// weights votes (weighted_maj@k). Null for an empty completion; an error for a completion without log-probabilities
/// (one not made by our engine).
/// </summary>
public sealed class ConfidenceReward : SampleReward
{
    readonly bool _mean;

    public ConfidenceReward(string name, RewardOptions options) : base(name)
    {
        _mean = options.GetString("aggregation", "min") switch
        {
            "min" => false,
            "mean" => true,
            var other => throw new ReasonSharpException(
                $"reward '{name}': aggregation: unknown value '{other}'; expected min or mean"),
        };
    }

    protected override float? Score(RewardInput input)
    {
        var logProbs = input.CompletionLogProbs ?? throw new RewardInputException("completion_logprobs",
            "missing; the confidence reward scores completions sampled by our engine (eval, sample, grpo)");
        if (logProbs.Count == 0) return null;
        return (float)Math.Exp(_mean ? logProbs.Average(p => (double)p) : logProbs.Min());
    }
}
