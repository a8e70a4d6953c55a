namespace ReasonSharp.Data;

/// <summary>How a completion lays out its reasoning and its final answer.</summary>
public enum TraceStyle
{
    /// <summary>`&lt;think&gt;\n…\n&lt;/think&gt;\n&lt;answer&gt;\n…\n&lt;/answer&gt;` (Open-R1's format reward,
    /// TinyZero).</summary>
    ThinkAnswer,
    /// <summary>DeepSeek-R1 / Qwen3: `&lt;think&gt;\n…\n&lt;/think&gt;\n\n` then the answer.</summary>
    DeepSeekR1,
    /// <summary>Bespoke-Stratos / OpenThoughts: `&lt;|begin_of_thought|&gt;…&lt;|end_of_thought|&gt;` then
    /// `&lt;|begin_of_solution|&gt;…&lt;|end_of_solution|&gt;`.</summary>
    OpenThoughts,
}

/// <summary>A completion split into its reasoning and its answer. Empty thinking is a no-think completion.</summary>
public sealed record ReasoningTrace(string Thinking, string Answer)
{
    public const string ThinkOpen = "<think>", ThinkClose = "</think>";
    public const string AnswerOpen = "<answer>", AnswerClose = "</answer>";
    public const string ThoughtOpen = "<|begin_of_thought|>", ThoughtClose = "<|end_of_thought|>";
    public const string SolutionOpen = "<|begin_of_solution|>", SolutionClose = "<|end_of_solution|>";

    public bool HasThinking => Thinking.Length > 0;

    public ReasoningTrace WithoutThinking() => this with { Thinking = "" };

    /// <summary>
    /// The completion text in a style. Without thinking it keeps an empty block, as Qwen3 and SmolLM3 do in no-think
    /// mode: `&lt;think&gt;\n\n&lt;/think&gt;\n\n` + answer.
    /// </summary>
    public string Render(TraceStyle style)
    {
        var thinking = HasThinking ? Thinking + "\n" : "\n";
        return style switch
        {
            TraceStyle.ThinkAnswer => $"{ThinkOpen}\n{thinking}{ThinkClose}\n{AnswerOpen}\n{Answer}\n{AnswerClose}",
            TraceStyle.DeepSeekR1 => $"{ThinkOpen}\n{thinking}{ThinkClose}\n\n{Answer}",
            _ => $"{ThoughtOpen}\n\n{(HasThinking ? Thinking + "\n\n" : "")}{ThoughtClose}\n\n{SolutionOpen}\n\n{Answer}\n\n{SolutionClose}",
        };
    }

    /// <summary>Only the answer part of <see cref="Render"/>: no thinking block.</summary>
    public string RenderAnswer(TraceStyle style) => style switch
    {
        TraceStyle.ThinkAnswer => $"{AnswerOpen}\n{Answer}\n{AnswerClose}",
        TraceStyle.DeepSeekR1 => Answer,
        _ => $"{SolutionOpen}\n\n{Answer}\n\n{SolutionClose}",
    };

    /// <summary>
    /// Splits a completion in any of the three styles. A completion without markers is all answer (style null).
    /// A `&lt;/think&gt;` without an opening tag (the template put `&lt;think&gt;` in the prompt) still counts as
    /// thinking.
    /// </summary>
    public static ReasoningTrace Parse(string text, out TraceStyle? style)
    {
        if (text.Contains(ThoughtOpen, StringComparison.Ordinal)
            || text.Contains(SolutionOpen, StringComparison.Ordinal))
        {
            style = TraceStyle.OpenThoughts;
            var (thought, rest) = text.Contains(ThoughtOpen, StringComparison.Ordinal)
                ? Between(text, ThoughtOpen, ThoughtClose) : ("", text);
            return new ReasoningTrace(thought, Between(rest, SolutionOpen, SolutionClose).Inside);
        }
        var close = text.IndexOf(ThinkClose, StringComparison.Ordinal);
        var (thinking, afterThink) = close < 0
            ? ("", text)
            : (StripPrefix(text[..close].Trim(), ThinkOpen).Trim(), text[(close + ThinkClose.Length)..]);
        if (afterThink.Contains(AnswerOpen, StringComparison.Ordinal))
        {
            style = TraceStyle.ThinkAnswer;
            return new ReasoningTrace(thinking, Between(afterThink, AnswerOpen, AnswerClose).Inside);
        }
        style = close < 0 ? null : TraceStyle.DeepSeekR1;
        return new ReasoningTrace(thinking, afterThink.Trim());
    }

    public static ReasoningTrace Parse(string text) => Parse(text, out _);

    /// <summary>Re-renders a completion in another style (a completion without markers becomes an answer with empty
    /// thinking).</summary>
    public static string Convert(string completion, TraceStyle style) => Parse(completion).Render(style);

    // Text inside open…close (to the end when close is missing) and the text after close.
    static (string Inside, string After) Between(string text, string open, string close)
    {
        var start = text.IndexOf(open, StringComparison.Ordinal);
        start = start < 0 ? 0 : start + open.Length;
        var end = text.IndexOf(close, start, StringComparison.Ordinal);
        return end < 0
            ? (text[start..].Trim(), "")
            : (text[start..end].Trim(), text[(end + close.Length)..]);
    }

    static string StripPrefix(string text, string prefix) =>
        text.StartsWith(prefix, StringComparison.Ordinal) ? text[prefix.Length..] : text;
}
