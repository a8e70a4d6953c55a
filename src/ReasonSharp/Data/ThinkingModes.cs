using ReasonSharp.Tokenization;

namespace ReasonSharp.Data;

/// <summary>
/// Reasoning-trace conversions on whole examples: re-style every assistant turn, strip the thinking (no-think
/// examples), and mix think and no-think examples for dual-mode training with SmolLM3's `/think` and `/no_think`
/// system flags.
/// </summary>
public static class ThinkingModes
{
    public const string ThinkFlag = ReasoningFlags.Think;
    public const string NoThinkFlag = ReasoningFlags.NoThink;

    /// <summary>Every assistant turn re-rendered in <paramref name="style"/>.</summary>
    public static Example ConvertTraces(Example example, TraceStyle style) =>
        MapAssistant(example, content => ReasoningTrace.Convert(content, style));

    /// <summary>Every assistant turn keeps only its answer, behind an empty thinking block in
    /// <paramref name="style"/>.</summary>
    public static Example StripThinking(Example example, TraceStyle style) =>
        MapAssistant(example, content => ReasoningTrace.Parse(content).WithoutThinking().Render(style));

    /// <summary>Every assistant turn keeps only its answer, with no thinking block: for chat templates that add the
    /// empty block themselves.</summary>
    public static Example KeepOnlyAnswer(Example example, TraceStyle style) =>
        MapAssistant(example, content => ReasoningTrace.Parse(content).RenderAnswer(style));

    /// <summary>Sets the system flag: appended to the system message (replacing an earlier flag), or a system message
    /// of its own.</summary>
    public static Example WithSystemFlag(Example example, string flag) =>
        example.WithMessages(ReasoningFlags.Set(example.Messages, flag));

    /// <summary>
    /// Dual-mode mix: exactly round(n × <paramref name="thinkFraction"/>) examples, chosen with
    /// <paramref name="seed"/>, keep their thinking and get `/think`; the others are stripped and get `/no_think`.
    /// Order is kept. With
    /// <paramref name="templateAddsEmptyThink"/> (SmolLM3's dual-mode template opens no-think turns with an empty
    /// block) the stripped turns keep only the answer, so the rendered turn has one empty block, not two.
    /// </summary>
    public static IReadOnlyList<Example> MixDualMode(IReadOnlyList<Example> examples, double thinkFraction, int seed,
        TraceStyle style,
        bool templateAddsEmptyThink = false)
    {
        if (thinkFraction is < 0 or > 1 || double.IsNaN(thinkFraction))
            throw new ReasonSharpException($"think fraction: expected a number from 0 to 1, got {thinkFraction}");
        var thinkCount = (int)Math.Round(examples.Count * thinkFraction, MidpointRounding.AwayFromZero);
        var think = Enumerable.Range(0, examples.Count).ToList().ShuffleExact(seed).Take(thinkCount).ToHashSet();
        return examples.Select((example, i) => think.Contains(i)
            ? WithSystemFlag(ConvertTraces(example, style), ThinkFlag)
            : WithSystemFlag(templateAddsEmptyThink ? KeepOnlyAnswer(example, style) : StripThinking(example, style),
                NoThinkFlag)).ToList();
    }

    static Example MapAssistant(Example example, Func<string, string> map) =>
        example.WithMessages(example.Messages.Select(m => m.IsAssistant ? m with { Content = map(m.Content) }
            : m).ToList());
}
