using ReasonSharp.Rewards.Builtins;

namespace ReasonSharp.Rewards;

/// <summary>
/// Maps reward names used in recipes (<c>reward_funcs: [accuracy, format]</c>) to reward functions. The default
/// registry holds the built-ins; add your own with
/// <see cref="Register(string, Func{RewardOptions, IRewardFunction}, string)"/>.
/// </summary>
public sealed class RewardRegistry
{
    readonly Dictionary<string, (Func<RewardOptions, IRewardFunction> Factory, string Description)> _entries =
        new(StringComparer.Ordinal);

    public static RewardRegistry CreateDefault()
    {
        var registry = new RewardRegistry();
        registry.Register("accuracy", o => new AccuracyReward("accuracy", o),
            "1 if the answer is mathematically equivalent to the 'solution'/'answer' column, 0 if not, null if the " +
            "gold does not parse");
        registry.Register("format", o => new FormatReward("format", o),
            "1 if the completion is <think>…</think><answer>…</answer> (style=think_answer) or <think>…</think> " +
            "then the answer (style=think)");
        registry.Register("tag_count", o => new TagCountReward("tag_count", o),
            "0.25 for each of <think>, </think>, <answer>, </answer> placed once on its own line");
        registry.Register("reasoning_steps", o => new ReasoningStepsReward("reasoning_steps", o),
            "min(1, steps/3) counting 'Step k:', numbered lines, bullets and First/Second/Next/Finally");
        registry.Register("length", o => new LengthReward("length", o),
            "Kimi 1.5 length reward within each prompt's group, using correctness");
        registry.Register("cosine", o => new CosineReward("cosine", o),
            "cosine-scaled length reward in tokens: short correct answers best, short wrong ones worst");
        registry.Register("repetition", o => new RepetitionReward("repetition", o),
            "negative n-gram repetition penalty");
        registry.Register("repetition_penalty", o => new RepetitionReward("repetition_penalty", o),
            "alias of repetition (Open-R1's name)");
        registry.Register("soft_overlong", o => new SoftOverlongReward("soft_overlong", o),
            "DAPO soft overlong punishment in tokens");
        registry.Register("soft_overlong_punishment", o => new SoftOverlongReward("soft_overlong_punishment", o),
            "alias of soft_overlong (TRL's name)");
        registry.Register("countdown", o => new CountdownReward("countdown", o),
            "TinyZero countdown: 1 for an exact equation using every number once, 0.1 for a wrong one, 0 for none");
        registry.Register("process_lm", o => Steps.LmStepScorer.CreateReward("process_lm", o),
            "Math-Shepherd process reward: a judge LM's P(+)/(P(+)+P(-)) at each step tag, aggregated " +
            "(min|last|mean|product); needs model=FOLDER");
        registry.Register("reward_model", o => RewardModelReward.Create("reward_model", o),
            "an outcome reward model's score of prompt + completion (reason reward-model); needs model=FOLDER");
        registry.Register("confidence", o => new ConfidenceReward("confidence", o),
            "the generator's confidence: its least likely token's probability (aggregation=min) or the geometric mean "
            + "(mean); for eval's selection_reward");
        registry.Register("code", o => new CodeReward("code", o, binary: false),
            "fraction of test cases passed, run in a sandbox");
        registry.Register("binary_code", o => new CodeReward("binary_code", o, binary: true),
            "1 if all test cases pass (fraction > 0.99), else 0");
        return registry;
    }

    public void Register(string name, Func<RewardOptions, IRewardFunction> factory, string description = "")
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ReasonSharpException("a reward name cannot be empty");
        _entries[name] = (factory, description);
    }

    /// <summary>Registers a ready instance under its own name; it takes no options.</summary>
    public void Register(IRewardFunction reward, string description = "") =>
        Register(reward.Name, _ => reward, description);

    public IReadOnlyList<(string Name, string Description)> List() =>
        _entries.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => (e.Key, e.Value.Description)).ToList();

    public bool Contains(string name) => _entries.ContainsKey(name);

    public IRewardFunction Create(string name, IReadOnlyDictionary<string, string>? options = null)
    {
        if (!_entries.TryGetValue(name, out var entry))
            throw new ReasonSharpException($"unknown reward '{name}'; known rewards: " +
                $"{string.Join(", ", _entries.Keys.Order(StringComparer.Ordinal))}");
        var reader = new RewardOptions(options);
        var reward = entry.Factory(reader);
        reader.ThrowIfUnused(name);
        return reward;
    }

    public CompositeReward CreateComposite(IEnumerable<RewardSpec> specs) =>
        new(specs.Select(s => new WeightedReward(Create(s.Name, s.Options), s.Weight)).ToList());

    /// <summary>From "accuracy,format(style=think),cosine(max_len=512,weight=0.5)".</summary>
    public CompositeReward CreateComposite(string specList) => CreateComposite(RewardSpec.ParseList(specList));
}
