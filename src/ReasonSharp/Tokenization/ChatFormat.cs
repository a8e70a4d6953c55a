using System.Text.RegularExpressions;

namespace ReasonSharp.Tokenization;

/// <summary>The chat-template families ReasonSharp renders natively (no Jinja engine).</summary>
public enum ChatFamily
{
    /// <summary>ChatML as Qwen2.5 writes it, with the template's default system prompt when there is one.</summary>
    ChatML,
    /// <summary>Qwen3: ChatML with &lt;think&gt; blocks, `enable_thinking`, and thinking stripped from earlier turns.</summary>
    Qwen3,
    /// <summary>Llama 3: header tokens and &lt;|eot_id|&gt;; 3.1+ templates add the knowledge-date system block.</summary>
    Llama3,
    /// <summary>SmolLM3's convention on ChatML: `/think` or `/no_think` in the system message picks the mode.</summary>
    DualMode,
}

/// <summary>
/// Renders conversations in one chat family to token ids with an assistant mask. Text is built segment by segment
/// and each segment encoded, so the mask is exact; the ids always equal encoding the whole rendered text.
/// </summary>
public sealed partial class ChatFormat
{
    /// <summary>Names accepted by <see cref="ParseFamily"/>, with what each means (for help and error messages).</summary>
    public static IReadOnlyList<(string Name, ChatFamily Family, string Description)> Families { get; } =
    [
        ("chatml", ChatFamily.ChatML, "ChatML as in Qwen2.5 (<|im_start|>role\\n…<|im_end|>)"),
        ("qwen3", ChatFamily.Qwen3, "Qwen3 with <think> blocks and enable_thinking"),
        ("llama3", ChatFamily.Llama3, "Llama 3 (<|start_header_id|>role<|end_header_id|>\\n\\n…<|eot_id|>)"),
        ("dual-mode", ChatFamily.DualMode, "SmolLM3's /think and /no_think in the system message, on ChatML"),
    ];

    static string Choices => string.Join("; ", Families.Select(f => $"{f.Name}: {f.Description}"));

    readonly Tokenizer tokenizer;
    readonly string? defaultSystemPrompt;
    readonly bool llamaKnowledgeDate;
    readonly bool llamaDateIsToday;
    readonly string bosToken;

    public ChatFamily Family { get; }
    public string Name => Families.First(f => f.Family == Family).Name;

    public ChatFormat(Tokenizer tokenizer, ChatFamily family)
    {
        this.tokenizer = tokenizer;
        Family = family;
        var template = tokenizer.ChatTemplate ?? "";
        defaultSystemPrompt = family == ChatFamily.ChatML ? FindDefaultSystemPrompt(template) : null;
        llamaKnowledgeDate = template.Contains("Cutting Knowledge Date", StringComparison.Ordinal);
        llamaDateIsToday = template.Contains("strftime_now", StringComparison.Ordinal);
        bosToken = tokenizer.Config.BosToken ?? "<|begin_of_text|>";
        RequireSingleTokens(family == ChatFamily.Llama3 ? [bosToken, "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"] : ["<|im_start|>", "<|im_end|>"]);
    }

    /// <summary>The format named by the tokenizer's chat template, or <paramref name="family"/> when given.</summary>
    public static ChatFormat For(Tokenizer tokenizer, ChatFamily? family = null) =>
        new(tokenizer, family ?? Detect(tokenizer.ChatTemplate, Path.Combine(tokenizer.Folder, TokenizerConfig.FileName)));

    /// <summary>Recognises a family from distinctive parts of a Jinja chat template; an unknown one is an error listing the choices.</summary>
    public static ChatFamily Detect(string? chatTemplate, string source)
    {
        if (string.IsNullOrEmpty(chatTemplate))
            throw new ReasonSharpException($"{source}: key 'chat_template' is missing; choose the chat format explicitly, one of: {Choices}");
        if (chatTemplate.Contains("<|start_header_id|>", StringComparison.Ordinal)) return ChatFamily.Llama3;
        if (chatTemplate.Contains("<|im_start|>", StringComparison.Ordinal))
        {
            if (chatTemplate.Contains("/no_think", StringComparison.Ordinal)) return ChatFamily.DualMode;
            if (chatTemplate.Contains("enable_thinking", StringComparison.Ordinal) || chatTemplate.Contains("reasoning_content", StringComparison.Ordinal))
                return ChatFamily.Qwen3;
            return ChatFamily.ChatML;
        }
        var start = chatTemplate.Length > 80 ? chatTemplate[..80] + "…" : chatTemplate;
        throw new ReasonSharpException($"{source}: key 'chat_template' is not a chat format ReasonSharp recognises (it starts \"{start.ReplaceLineEndings(" ")}\"); "
            + $"choose one explicitly: {Choices}");
    }

    /// <summary>A family from its name (chatml, qwen3, llama3, dual-mode; smollm3 also names dual-mode).</summary>
    public static ChatFamily ParseFamily(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        if (key == "smollm3") return ChatFamily.DualMode;
        foreach (var f in Families) if (f.Name == key) return f.Family;
        throw new ReasonSharpException($"chat format '{name}' is unknown; choose one of: {Choices}");
    }

    /// <summary>The rendered text, as the family's chat template would produce it.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, ChatRenderOptions? options = null) =>
        string.Concat(Segments(messages, options ?? new ChatRenderOptions()).Select(s => s.Text));

    /// <summary>Token ids and assistant mask (true for the assistant's content and its end-of-turn token, false for role headers).</summary>
    public ChatEncoding Encode(IReadOnlyList<ChatMessage> messages, ChatRenderOptions? options = null)
    {
        var segments = Segments(messages, options ?? new ChatRenderOptions());
        var ids = new List<int>();
        var mask = new List<bool>();
        foreach (var segment in segments)
        {
            var segmentIds = tokenizer.Encode(segment.Text);
            ids.AddRange(segmentIds);
            mask.AddRange(Enumerable.Repeat(segment.Assistant, segmentIds.Length));
        }
        var text = string.Concat(segments.Select(s => s.Text));
        var whole = tokenizer.Encode(text);
        return whole.AsSpan().SequenceEqual(ids.ToArray())
            ? new ChatEncoding(whole, [.. mask], text)
            : new ChatEncoding(whole, AlignMask(segments, text, whole), text);
    }

    /// <summary>When a token crosses a segment boundary (say, a header's "\n" merging with content that starts with "\n"),
    /// the whole text's ids rule; each boundary falls after the tokens that lie wholly before it, and a crossing token
    /// goes to the later segment.</summary>
    bool[] AlignMask(List<Segment> segments, string text, int[] whole)
    {
        var mask = new bool[whole.Length];
        var offset = 0;
        var start = 0;
        for (var k = 0; k < segments.Count; k++)
        {
            offset += segments[k].Text.Length;
            var end = k == segments.Count - 1 ? whole.Length : CommonPrefixLength(tokenizer.Encode(text[..offset]), whole);
            for (var i = start; i < end; i++) mask[i] = segments[k].Assistant;
            start = Math.Max(start, end);
        }
        return mask;
    }

    static int CommonPrefixLength(int[] a, int[] b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }

    void RequireSingleTokens(IEnumerable<string> tokens)
    {
        var missing = tokens.Where(t => tokenizer.TokenToId(t) is null || tokenizer.Encode(t).Length != 1).ToList();
        if (missing.Count > 0)
            throw new ReasonSharpException($"chat format {Name} needs {string.Join(", ", missing)} as single tokens, which {tokenizer.Folder} lacks; choose another format: {Choices}");
    }

    /// <summary>The default system prompt a ChatML template writes when the conversation has none (Qwen2.5's
    /// "You are Qwen, created by Alibaba Cloud…"): a single string literal holding a whole system turn.</summary>
    static string? FindDefaultSystemPrompt(string template)
    {
        var match = DefaultSystemLiteral().Match(template);
        return match.Success ? UnescapeJinjaString(match.Groups["body"].Value) : null;
    }

    static string UnescapeJinjaString(string literal)
    {
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < literal.Length; i++)
        {
            if (literal[i] != '\\' || i + 1 == literal.Length) { text.Append(literal[i]); continue; }
            var c = literal[++i];
            text.Append(c switch { 'n' => '\n', 't' => '\t', 'r' => '\r', _ => c });
        }
        return text.ToString();
    }

    [GeneratedRegex(@"(?<q>['""])<\|im_start\|>system\\n(?<body>(?:(?!\k<q>)[^\\]|\\.)*?)<\|im_end\|>\\n\k<q>")]
    private static partial Regex DefaultSystemLiteral();
}
