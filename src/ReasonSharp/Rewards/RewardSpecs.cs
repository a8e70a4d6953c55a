namespace ReasonSharp.Rewards;

/// <summary>Creating the reward functions named by an options record, with errors naming the option.</summary>
public static class RewardSpecs
{
    public static CompositeReward Create(RewardRegistry registry, string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new ReasonSharpException("reward: expected one or more reward " +
            "names, e.g. accuracy or accuracy,format");
        try { return registry.CreateComposite(spec); }
        catch (ReasonSharpException e) { throw new ReasonSharpException($"reward: {e.Message}", e); }
    }

    /// <summary>The library's `format` reward in a style (think or think_answer).</summary>
    public static IRewardFunction Format(string style)
    {
        try { return RewardRegistry.CreateDefault().Create("format", new Dictionary<string, string> { ["style"] = style }); }
        catch (ReasonSharpException e) { throw new ReasonSharpException($"format_style: {e.Message}", e); }
    }
}
