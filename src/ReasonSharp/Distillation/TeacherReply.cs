using System.Text.Json;
using ReasonSharp.Data;

namespace ReasonSharp.Distillation;

/// <summary>Tokens a request cost, as the teacher's `usage` reports them.</summary>
public readonly record struct TokenUsage(long PromptTokens, long CompletionTokens)
{
    public static TokenUsage operator +(TokenUsage a, TokenUsage b) =>
        new(a.PromptTokens + b.PromptTokens, a.CompletionTokens + b.CompletionTokens);

    /// <summary>The price at the given rates per million tokens; null when neither rate is given.</summary>
    public double? Cost(double? promptPerMillion, double? completionPerMillion) =>
        promptPerMillion is null && completionPerMillion is null
            ? null
            : (PromptTokens * (promptPerMillion ?? 0) + CompletionTokens * (completionPerMillion ?? 0)) / 1e6;
}

/// <summary>
/// One completion of an OpenAI-compatible chat response: the reasoning (from `reasoning_content`, `reasoning`, or a
/// &lt;think&gt; block in the content), the answer, why it stopped, and the usage.
/// </summary>
public sealed record TeacherReply(string Thinking, string Answer, string? FinishReason, TokenUsage Usage)
{
    /// <summary>
    /// The completion in the project's trace format (<see cref="TraceStyle.ThinkAnswer"/>):
    /// `&lt;think&gt;\n…\n&lt;/think&gt;\n&lt;answer&gt;\n…\n&lt;/answer&gt;`; an answer already in &lt;answer&gt;
    /// tags keeps only their inside.
    /// </summary>
    public string Trace => new ReasoningTrace(Thinking, AnswerInside(Answer)).Render(TraceStyle.ThinkAnswer);

    /// <summary>Reads the first choice of a chat completion body. <paramref name="where"/> names the request in
    /// errors.</summary>
    public static TeacherReply Parse(string json, string where)
    {
        JsonElement root;
        try { root = JsonDocument.Parse(json).RootElement; }
        catch (JsonException e)
        {
            throw new ReasonSharpException($"{where}: response: not JSON ({e.Message}); expected an OpenAI chat " +
                "completion");
        }
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("choices", out var choices)
            || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
            throw new ReasonSharpException($"{where}: response: no choices; expected an OpenAI chat completion " +
                "with choices[0].message");
        var choice = choices[0];
        if (!choice.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
            throw new ReasonSharpException($"{where}: response: choices[0].message: missing; expected a message");
        var content = Text(message, "content") ?? "";
        var reasoning = Text(message, "reasoning_content") ?? Text(message, "reasoning");
        string? finish = choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String
            ? f.GetString() : null;
        var usage = new TokenUsage(0, 0);
        if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
            usage = new TokenUsage(Number(u, "prompt_tokens"), Number(u, "completion_tokens"));
        var (thinking, answer) = Split(content, reasoning);
        return new TeacherReply(thinking, answer, finish, usage);
    }

    /// <summary>
    /// The reasoning and the answer: `reasoning_content` when the teacher sends it (a think block left in the content
    /// is moved into it too), else every &lt;think&gt;…&lt;/think&gt; block of the content; a &lt;/think&gt; without
    /// its opening tag (a template that prefilled &lt;think&gt;) closes reasoning that starts the content. An
    /// unclosed &lt;think&gt; (cut off) is all reasoning and no answer.
    /// </summary>
    public static (string Thinking, string Answer) Split(string content, string? reasoningContent)
    {
        var thoughts = new List<string>();
        if (!string.IsNullOrWhiteSpace(reasoningContent)) thoughts.Add(reasoningContent.Trim());
        var rest = content;
        int close = rest.IndexOf(ReasoningTrace.ThinkClose, StringComparison.Ordinal);
        int open = rest.IndexOf(ReasoningTrace.ThinkOpen, StringComparison.Ordinal);
        if (close >= 0 && (open < 0 || close < open))
        {
            thoughts.Add(rest[..close].Trim());
            rest = rest[(close + ReasoningTrace.ThinkClose.Length)..];
        }
        var answer = new System.Text.StringBuilder();
        while (true)
        {
            open = rest.IndexOf(ReasoningTrace.ThinkOpen, StringComparison.Ordinal);
            if (open < 0) { answer.Append(rest); break; }
            answer.Append(rest[..open]);
            var inside = rest[(open + ReasoningTrace.ThinkOpen.Length)..];
            close = inside.IndexOf(ReasoningTrace.ThinkClose, StringComparison.Ordinal);
            if (close < 0) { thoughts.Add(inside.Trim()); break; }
            thoughts.Add(inside[..close].Trim());
            rest = inside[(close + ReasoningTrace.ThinkClose.Length)..];
        }
        return (string.Join("\n\n", thoughts.Where(t => t.Length > 0)), answer.ToString().Trim());
    }

    static string AnswerInside(string answer)
    {
        int open = answer.IndexOf(ReasoningTrace.AnswerOpen, StringComparison.Ordinal);
        if (open < 0) return answer.Trim();
        var inside = answer[(open + ReasoningTrace.AnswerOpen.Length)..];
        int close = inside.IndexOf(ReasoningTrace.AnswerClose, StringComparison.Ordinal);
        return (close < 0 ? inside : inside[..close]).Trim();
    }

    static string? Text(JsonElement message, string name) =>
        message.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString() : null;

    static long Number(JsonElement usage, string name) =>
        usage.TryGetProperty(name, out var value) && value.TryGetInt64(out var n) ? n : 0;
}
