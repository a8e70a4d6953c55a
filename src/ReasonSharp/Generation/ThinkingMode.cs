using ReasonSharp.Modeling;

namespace ReasonSharp.Generation;

/// <summary>Answer with a reasoning block first (think) or directly (no_think, Qwen3's enable_thinking=false, SmolLM3's /no_think).</summary>
public enum ThinkingMode { Think, NoThink }

/// <summary>Thinking modes as recipes and the CLI spell them, and whether a model supports them.</summary>
public static class GenerationSettings
{
    public static bool EnablesThinking(this ThinkingMode mode) => mode == ThinkingMode.Think;

    /// <summary>think or no_think, as recipes and the CLI spell it.</summary>
    public static string Name(this ThinkingMode mode) => mode == ThinkingMode.Think ? "think" : "no_think";

    /// <summary>Parses "think,no_think" (also "no-think", "nothink").</summary>
    public static IReadOnlyList<ThinkingMode> ParseModes(string text, string field)
    {
        var modes = new List<ThinkingMode>();
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var mode = item.ToLowerInvariant() switch
            {
                "think" => ThinkingMode.Think,
                "no_think" or "no-think" or "nothink" => ThinkingMode.NoThink,
                _ => throw new ReasonSharpException($"{field}: unknown mode '{item}'; expected think or no_think"),
            };
            if (!modes.Contains(mode)) modes.Add(mode);
        }
        if (modes.Count == 0) throw new ReasonSharpException($"{field}: expected think, no_think or both (comma-separated), got '{text}'");
        return modes;
    }

    /// <summary>No-think mode needs a chat template that can switch thinking off; anything else would silently
    /// think.</summary>
    public static void RequireSupported(this ThinkingMode mode, LanguageModel model, string modelName)
    {
        if (mode == ThinkingMode.NoThink && !model.Chat.Capabilities.CanSwitchThinkingOff)
            throw new ReasonSharpException($"{modelName}: mode no_think needs a chat template that can switch "
                + $"thinking off (one that reads enable_thinking or a /no_think system flag), but {model.Chat.Name} "
                + "does neither; evaluate it in think mode or give it such a template (e.g. dual-mode)");
    }
}
