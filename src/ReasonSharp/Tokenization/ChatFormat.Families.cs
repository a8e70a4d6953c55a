using System.Globalization;

namespace ReasonSharp.Tokenization;

/// <summary>The per-family rendering rules, each a transcription of that family's reference chat template
/// (conversations of system, user and assistant turns; tool calls are not rendered).</summary>
public sealed partial class ChatFormat
{
    internal readonly record struct Segment(string Text, bool Assistant);

    /// <summary>Collects rendered text, merging neighbours with the same assistant flag.</summary>
    sealed class SegmentList
    {
        public List<Segment> Items { get; } = [];

        public void Add(string text, bool assistant = false)
        {
            if (text.Length == 0) return;
            if (Items.Count > 0 && Items[^1].Assistant == assistant) Items[^1] = new Segment(Items[^1].Text + text, assistant);
            else Items.Add(new Segment(text, assistant));
        }
    }

    const string ThinkOpen = ReasoningTokens.ThinkOpen;
    const string ThinkClose = ReasoningTokens.ThinkClose;

    List<Segment> Segments(IReadOnlyList<ChatMessage> messages, ChatRenderOptions options)
    {
        for (var i = 0; i < messages.Count; i++)
            if (messages[i].Role is not ("system" or "user" or "assistant"))
                throw new ReasonSharpException($"message {i}: role '{messages[i].Role}' is not supported by the {Name} chat format (expected system, user or assistant)");
        var output = new SegmentList();
        switch (Family)
        {
            case ChatFamily.ChatML: RenderChatML(messages, options, output); break;
            case ChatFamily.Qwen3: RenderQwen3(messages, options, output); break;
            case ChatFamily.Llama3: RenderLlama3(messages, options, output); break;
            case ChatFamily.DualMode: RenderDualMode(messages, options, output); break;
        }
        return output.Items;
    }

    static void ChatMLTurn(SegmentList output, string role, string content) => output.Add($"<|im_start|>{role}\n{content}<|im_end|>\n");

    /// <summary>An assistant turn: the header is prompt, the body and its end token are the assistant's, the newline after is not.</summary>
    /// <summary>An assistant turn; <paramref name="prefill"/> is text the template writes before the body (e.g. an empty
    /// think block in no-think mode), part of the prompt at generation, so not in the assistant mask.</summary>
    static void ChatMLAssistantTurn(SegmentList output, string body, string prefill = "")
    {
        output.Add("<|im_start|>assistant\n" + prefill);
        output.Add(body + "<|im_end|>", assistant: true);
        output.Add("\n");
    }

    /// <summary>Qwen2.5: the first system message (or the template's default) opens, every later turn is plain ChatML.</summary>
    void RenderChatML(IReadOnlyList<ChatMessage> messages, ChatRenderOptions options, SegmentList output)
    {
        var hasSystem = messages.Count > 0 && messages[0].Role == "system";
        if (hasSystem) ChatMLTurn(output, "system", messages[0].Content);
        else if (defaultSystemPrompt is not null) ChatMLTurn(output, "system", defaultSystemPrompt);
        for (var i = hasSystem ? 1 : 0; i < messages.Count; i++)
        {
            if (messages[i].Role == "assistant") ChatMLAssistantTurn(output, messages[i].Content);
            else ChatMLTurn(output, messages[i].Role, messages[i].Content);
        }
        if (options.AddGenerationPrompt) output.Add("<|im_start|>assistant\n");
    }

    /// <summary>Qwen3: assistant turns after the last user message keep their reasoning in a normalised &lt;think&gt; block
    /// (the final one always gets a block, empty if need be); earlier ones keep only the answer.</summary>
    static void RenderQwen3(IReadOnlyList<ChatMessage> messages, ChatRenderOptions options, SegmentList output)
    {
        var hasSystem = messages.Count > 0 && messages[0].Role == "system";
        if (hasSystem) ChatMLTurn(output, "system", messages[0].Content);
        var lastQuery = messages.Count - 1;
        for (var i = messages.Count - 1; i >= 0; i--)
            if (messages[i].Role == "user") { lastQuery = i; break; }

        for (var i = hasSystem ? 1 : 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role != "assistant") { ChatMLTurn(output, message.Role, message.Content); continue; }
            var (reasoning, answer) = SplitThinking(message.Content);
            var keepThinking = i > lastQuery && (i == messages.Count - 1 || reasoning.Length > 0);
            var body = keepThinking ? $"{ThinkOpen}\n{Py.Strip(reasoning, '\n')}\n{ThinkClose}\n\n{Py.LStrip(answer, '\n')}" : answer;
            ChatMLAssistantTurn(output, body);
        }
        if (options.AddGenerationPrompt)
        {
            output.Add("<|im_start|>assistant\n");
            if (!options.EnableThinking) output.Add($"{ThinkOpen}\n\n{ThinkClose}\n\n");
        }
    }

    /// <summary>Qwen3's split of an assistant message: the reasoning between the last &lt;think&gt; and the first &lt;/think&gt;,
    /// and the answer after the last &lt;/think&gt;; without &lt;/think&gt; the whole message is the answer.</summary>
    static (string Reasoning, string Answer) SplitThinking(string content)
    {
        var firstClose = content.IndexOf(ThinkClose, StringComparison.Ordinal);
        if (firstClose < 0) return ("", content);
        var answer = Py.LStrip(content[(content.LastIndexOf(ThinkClose, StringComparison.Ordinal) + ThinkClose.Length)..], '\n');
        var before = Py.RStrip(content[..firstClose], '\n');
        var open = before.LastIndexOf(ThinkOpen, StringComparison.Ordinal);
        var reasoning = Py.LStrip(open < 0 ? before : before[(open + ThinkOpen.Length)..], '\n');
        return (reasoning, answer);
    }

    /// <summary>Llama 3: BOS, then header + trimmed content + &lt;|eot_id|&gt; per turn. 3.1+ templates always open with a
    /// system block holding the knowledge cutoff and today's date before the system message.</summary>
    void RenderLlama3(IReadOnlyList<ChatMessage> messages, ChatRenderOptions options, SegmentList output)
    {
        static string Header(string role) => $"<|start_header_id|>{role}<|end_header_id|>\n\n";
        if (messages.Count > 0 || llamaKnowledgeDate) output.Add(bosToken);
        var first = 0;
        if (llamaKnowledgeDate)
        {
            var system = messages.Count > 0 && messages[0].Role == "system" ? Py.Strip(messages[0].Content) : "";
            if (messages.Count > 0 && messages[0].Role == "system") first = 1;
            var date = options.DateString ?? (llamaDateIsToday ? DateTime.Today.ToString("dd MMM yyyy", CultureInfo.InvariantCulture) : "26 Jul 2024");
            output.Add($"{Header("system")}Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n{system}<|eot_id|>");
        }
        for (var i = first; i < messages.Count; i++)
        {
            var isAssistant = messages[i].Role == "assistant";
            output.Add(Header(messages[i].Role));
            output.Add(Py.Strip(messages[i].Content) + "<|eot_id|>", isAssistant);
        }
        if (options.AddGenerationPrompt) output.Add(Header("assistant"));
    }

    /// <summary>SmolLM3's dual mode on plain ChatML: `/no_think` or `/think` in the first system message sets the mode
    /// (default: <see cref="ChatRenderOptions.EnableThinking"/>) and is removed from it; in no-think mode every assistant
    /// turn and the generation prompt open with an empty think block.</summary>
    static void RenderDualMode(IReadOnlyList<ChatMessage> messages, ChatRenderOptions options, SegmentList output)
    {
        var thinking = options.EnableThinking;
        var hasSystem = messages.Count > 0 && messages[0].Role == "system";
        if (hasSystem)
        {
            var system = messages[0].Content;
            if (system.Contains("/no_think", StringComparison.Ordinal)) thinking = false;
            else if (system.Contains("/think", StringComparison.Ordinal)) thinking = true;
            var instructions = Py.RStrip(system.Replace("/no_think", "", StringComparison.Ordinal).Replace("/think", "", StringComparison.Ordinal));
            if (instructions.Length > 0) ChatMLTurn(output, "system", instructions);
        }
        var emptyThink = thinking ? "" : $"{ThinkOpen}\n\n{ThinkClose}\n";
        for (var i = hasSystem ? 1 : 0; i < messages.Count; i++)
        {
            if (messages[i].Role == "assistant") ChatMLAssistantTurn(output, Py.LStrip(messages[i].Content, '\n'), prefill: emptyThink);
            else ChatMLTurn(output, messages[i].Role, messages[i].Content);
        }
        if (options.AddGenerationPrompt) output.Add("<|im_start|>assistant\n" + emptyThink);
    }

    /// <summary>Python's str.strip family, as the Jinja templates use them.</summary>
    static class Py
    {
        static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';
        public static string Strip(string s) => RStrip(LStrip(s));
        public static string Strip(string s, char c) => s.Trim(c);
        public static string LStrip(string s, char c) => s.TrimStart(c);
        public static string RStrip(string s, char c) => s.TrimEnd(c);
        public static string LStrip(string s)
        {
            var i = 0;
            while (i < s.Length && IsSpace(s[i])) i++;
            return s[i..];
        }
        public static string RStrip(string s)
        {
            var n = s.Length;
            while (n > 0 && IsSpace(s[n - 1])) n--;
            return s[..n];
        }
    }
}
