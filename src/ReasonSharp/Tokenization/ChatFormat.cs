using ReasonSharp.Templates;

namespace ReasonSharp.Tokenization;

/// <summary>What a chat template does, found by rendering small conversations with it (never by its name).</summary>
/// <param name="EnableThinking">The output changes with `enable_thinking` (Qwen3, SmolLM3, dual-mode).</param>
/// <param name="SystemThinkFlags">`/think` and `/no_think` in the system message switch the mode (SmolLM3,
/// dual-mode).</param>
/// <param name="WritesEmptyThinkBlock">In no-think mode the template itself writes an empty think block before an
/// answer that has none.</param>
/// <param name="GenerationBlocks">The template marks assistant text with {% generation %} blocks.</param>
public sealed record ChatCapabilities(bool EnableThinking, bool SystemThinkFlags, bool WritesEmptyThinkBlock,
    bool GenerationBlocks)
{
    /// <summary>Whether the template can switch thinking off at all.</summary>
    public bool CanSwitchThinkingOff => EnableThinking || SystemThinkFlags;

    public override string ToString()
    {
        var parts = new List<string>();
        if (EnableThinking) parts.Add("enable_thinking");
        if (SystemThinkFlags) parts.Add("/think and /no_think system flags");
        if (WritesEmptyThinkBlock) parts.Add("writes the empty think block of no-think mode");
        parts.Add(GenerationBlocks ? "{% generation %} assistant masks" : "assistant masks from rendered prefixes");
        return string.Join(", ", parts);
    }
}

/// <summary> Renders conversations with the tokenizer's chat template (a Jinja template run as transformers'
/// apply_chat_template does) to text, token ids and an assistant mask. The mask comes from the template's {% generation
/// %} blocks when it has them; otherwise each assistant turn starts where the conversation before it, rendered with the
/// generation prompt, ends (which must be a prefix of the whole rendering) and runs through its end-of-turn token. Text
/// is encoded segment by segment, so the ids always equal encoding the whole text.
/// </summary>
public sealed class ChatFormat
{
    static readonly string[] ExtraTokenKeys = ["unk_token", "pad_token", "sep_token"];

    readonly Tokenizer? tokenizer;
    readonly Dictionary<string, object?> baseVariables = new(StringComparer.Ordinal);
    readonly IReadOnlyDictionary<string, object?> defaultKwargs;
    readonly string[] endOfTurn;
    ChatCapabilities? capabilities;

    /// <summary>A format with <paramref name="chatTemplate"/>, or the tokenizer's own template when null.</summary>
    /// <param name="templateName">How errors name the template; default: its file.</param>
    public ChatFormat(Tokenizer tokenizer, string? chatTemplate = null, string? templateName = null,
        IReadOnlyDictionary<string, object?>? chatTemplateKwargs = null)
    {
        this.tokenizer = tokenizer;
        var source = chatTemplate ?? tokenizer.ChatTemplate ?? throw new ReasonSharpException(
            $"{Path.Combine(tokenizer.Folder, TokenizerConfig.FileName)}: key 'chat_template' is missing (and there "
                + $"is no "
            + $"{TokenizerConfig.ChatTemplateFileName}); give a chat template: chatml, dual-mode, or a .jinja file");
        Name = templateName ?? (chatTemplate is null ? OwnTemplateName(tokenizer) : "chat template");
        Template = Templates.Template.Parse(source, Name);
        defaultKwargs = chatTemplateKwargs ?? new Dictionary<string, object?>();
        var config = tokenizer.Config;
        if (config.BosToken is { } bos) baseVariables["bos_token"] = bos;
        if (config.EosToken is { } eos) baseVariables["eos_token"] = eos;
        foreach (var (key, value) in ExtraTokenKeys.Zip([config.UnkToken, config.PadToken, config.SepToken]))
            if (value is not null) baseVariables[key] = value;
        endOfTurn = tokenizer.StopTokenIds.Select(id => tokenizer.IdToToken(id)).Distinct().ToArray();
    }

    /// <summary>
    /// A format that only renders (no tokenizer, so <see cref="Encode"/> is unavailable): a GGUF's own
    /// tokenizer.chat_template, with the text of its special tokens, as `reason serve MODEL.gguf` renders prompts.
    /// </summary>
    public ChatFormat(string chatTemplate, string templateName, string? bosToken, string? eosToken,
        IReadOnlyList<string> endOfTurnTokens, IReadOnlyDictionary<string, object?>? chatTemplateKwargs = null)
    {
        Name = templateName;
        Template = Templates.Template.Parse(chatTemplate, Name);
        defaultKwargs = chatTemplateKwargs ?? new Dictionary<string, object?>();
        if (bosToken is not null) baseVariables["bos_token"] = bosToken;
        if (eosToken is not null) baseVariables["eos_token"] = eosToken;
        endOfTurn = [.. endOfTurnTokens.Distinct()];
    }

    /// <summary>The template the tokenizer carries, or the one <paramref name="chatTemplate"/> names (chatml,
    /// dual-mode, a .jinja file, a model folder …).</summary>
    public static ChatFormat For(Tokenizer tokenizer, string? chatTemplate = null) => chatTemplate is null
        ? new ChatFormat(tokenizer)
        : new ChatFormat(tokenizer, ChatTemplates.Resolve(chatTemplate, "chat template"), chatTemplate);

    /// <summary>The same template with <paramref name="kwargs"/> passed on every rendering (per-call ones
    /// win).</summary>
    public ChatFormat WithKwargs(IReadOnlyDictionary<string, object?> kwargs)
    {
        var merged = new Dictionary<string, object?>(defaultKwargs);
        foreach (var (key, value) in kwargs) merged[key] = value;
        return tokenizer is null
            ? new ChatFormat(Template.Source, Name, baseVariables.GetValueOrDefault("bos_token") as string,
                baseVariables.GetValueOrDefault("eos_token") as string, endOfTurn, merged)
            : new ChatFormat(tokenizer, Template.Source, Name, merged);
    }

    static string OwnTemplateName(Tokenizer tokenizer)
    {
        var jinja = Path.Combine(tokenizer.Folder, TokenizerConfig.ChatTemplateFileName);
        return File.Exists(jinja) ? jinja : Path.Combine(tokenizer.Folder, TokenizerConfig.FileName) + " chat_template";
    }

    /// <summary>How errors name the template.</summary>
    public string Name { get; }
    public Template Template { get; }
    public Tokenizer Tokenizer => tokenizer ?? throw new InvalidOperationException(
        $"{Name}: this chat format only renders text (it has no tokenizer)");

    /// <summary>What the template does with thinking modes and masks, found by rendering (once).</summary>
    public ChatCapabilities Capabilities => capabilities ??= DetectCapabilities();

    /// <summary>The messages to render in a thinking mode: a template that reads `/think` and `/no_think` in the
    /// system message gets the flag there; others get the messages unchanged (enable_thinking carries the
    /// mode).</summary>
    public IReadOnlyList<ChatMessage> InThinkingMode(IReadOnlyList<ChatMessage> messages, bool thinking) =>
        Capabilities.SystemThinkFlags
            ? ReasoningFlags.Set(messages, thinking ? ReasoningFlags.Think : ReasoningFlags.NoThink)
            : messages;

    /// <summary>The rendered text, as transformers' apply_chat_template would give it.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, ChatRenderOptions? options = null) =>
        RenderOutput(messages, options ?? new ChatRenderOptions(), Clock(options)).Text;

    /// <summary>Token ids and assistant mask (true for the assistant's text and its end-of-turn token; false for role
    /// headers, prompts and text the template writes before the assistant's own).</summary>
    public ChatEncoding Encode(IReadOnlyList<ChatMessage> messages, ChatRenderOptions? options = null)
    {
        options ??= new ChatRenderOptions();
        var now = Clock(options);
        var output = RenderOutput(messages, options, now);
        var spans = Template.HasGenerationBlocks ? output.GenerationSpans : PrefixSpans(messages, options, now,
            output.Text);
        return EncodeSegments(Segments(output.Text, spans));
    }

    /// <summary>One clock for all renderings of a call, so that prefixes agree on strftime_now.</summary>
    static Func<DateTime> Clock(ChatRenderOptions? options)
    {
        if (options?.Now is { } now) return now;
        var fixedNow = DateTime.Now;
        return () => fixedNow;
    }

    TemplateOutput RenderOutput(IReadOnlyList<ChatMessage> messages, ChatRenderOptions options, Func<DateTime> now)
    {
        var variables = new Dictionary<string, object?>(baseVariables, StringComparer.Ordinal);
        foreach (var (key, value) in defaultKwargs) variables[key] = value;
        if (options.ChatTemplateKwargs is { } kwargs)
            foreach (var (key, value) in kwargs) variables[key] = value;
        if (options.EnableThinking is { } thinking) variables["enable_thinking"] = thinking;
        variables["messages"] = messages.Select(m => (object?)new Dictionary<string, object?>
        {
            ["role"] = m.Role,
            ["content"] = m.Content
        }).ToList();
        variables["add_generation_prompt"] = options.AddGenerationPrompt;
        return Template.Render(variables, new TemplateRenderOptions { Now = now });
    }

    /// <summary> Assistant spans without {% generation %}: turn i starts where messages[..i] rendered with the
    /// generation prompt ends, which must be a prefix of the whole text, and runs through the first end-of-turn token
    /// after that (or to where the next turn's prefix ends).
    /// </summary>
    List<TemplateSpan> PrefixSpans(IReadOnlyList<ChatMessage> messages, ChatRenderOptions options, Func<DateTime> now,
        string text)
    {
        var assistantTurns = Enumerable.Range(0, messages.Count).Where(i => messages[i].IsAssistant).ToList();
        var starts = new List<int>(assistantTurns.Count);
        foreach (var i in assistantTurns)
        {
            var prefix = RenderOutput(messages.Take(i).ToList(), options with { AddGenerationPrompt = true }, now).Text;
            if (!text.StartsWith(prefix, StringComparison.Ordinal))
                throw new ReasonSharpException(
                    $"{Name}: cannot tell which tokens are the assistant's in message {i}: the conversation before "
                        + $"it, rendered with "
                    + "the generation prompt, is not the start of the whole rendering (the template renders earlier "
                        + "turns "
                    + $"differently once later ones follow; differing at character "
                        + $"{CommonPrefixLength(prefix, text)}). Add "
                    + "{% generation %}…{% endgeneration %} around the assistant's text in the template, or train on "
                        + "whole texts");
            starts.Add(prefix.Length);
        }
        var spans = new List<TemplateSpan>(starts.Count);
        for (var k = 0; k < starts.Count; k++)
        {
            var bound = k + 1 < starts.Count ? starts[k + 1] : text.Length;
            var end = -1;
            foreach (var token in endOfTurn)
            {
                var at = text.IndexOf(token, starts[k], StringComparison.Ordinal);
                if (at >= 0 && at + token.Length <= bound && (end < 0 || at + token.Length < end)) end = at
                    + token.Length;
            }
            if (end < 0)
            {
                var through = RenderOutput(messages.Take(assistantTurns[k] + 1).ToList(),
                    options with { AddGenerationPrompt = false }, now).Text;
                end = text.StartsWith(through, StringComparison.Ordinal) && through.Length <= bound ? through.Length
                    : bound;
            }
            spans.Add(new TemplateSpan(starts[k], Math.Max(starts[k], end)));
        }
        return spans;
    }

    static int CommonPrefixLength(string a, string b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }

    internal readonly record struct Segment(string Text, bool Assistant);

    static List<Segment> Segments(string text, IReadOnlyList<TemplateSpan> spans)
    {
        var segments = new List<Segment>();
        var at = 0;
        foreach (var span in spans.OrderBy(s => s.Start))
        {
            var start = Math.Max(span.Start, at);
            var end = Math.Min(Math.Max(span.End, start), text.Length);
            if (start > at) segments.Add(new Segment(text[at..start], false));
            if (end > start) segments.Add(new Segment(text[start..end], true));
            at = Math.Max(at, end);
        }
        if (at < text.Length) segments.Add(new Segment(text[at..], false));
        return segments;
    }

    ChatEncoding EncodeSegments(List<Segment> segments)
    {
        var ids = new List<int>();
        var mask = new List<bool>();
        foreach (var segment in segments)
        {
            var segmentIds = Tokenizer.Encode(segment.Text);
            ids.AddRange(segmentIds);
            mask.AddRange(Enumerable.Repeat(segment.Assistant, segmentIds.Length));
        }
        var text = string.Concat(segments.Select(s => s.Text));
        var whole = Tokenizer.Encode(text);
        return whole.AsSpan().SequenceEqual(ids.ToArray())
            ? new ChatEncoding(whole, [.. mask], text)
            : new ChatEncoding(whole, AlignMask(segments, text, whole), text);
    }

    /// <summary>When a token crosses a segment boundary (say, a header's "\n" merging with content that starts with
    /// "\n"), the whole text's ids rule; each boundary falls after the tokens that lie wholly before it, and a crossing
    /// token goes to the later segment.</summary>
    bool[] AlignMask(List<Segment> segments, string text, int[] whole)
    {
        var mask = new bool[whole.Length];
        var offset = 0;
        var start = 0;
        for (var k = 0; k < segments.Count; k++)
        {
            offset += segments[k].Text.Length;
            var end = k == segments.Count - 1 ? whole.Length : CommonPrefixLength(Tokenizer.Encode(text[..offset]),
                whole);
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

    /// <summary>Renders small probe conversations; a template that raises on a probe lacks that capability.</summary>
    ChatCapabilities DetectCapabilities()
    {
        var clock = Clock(null);
        string? Probe(ChatMessage[] messages, bool generationPrompt, bool? thinking)
        {
            try
            {
                return RenderOutput(messages, new ChatRenderOptions
                {
                    AddGenerationPrompt = generationPrompt,
                    EnableThinking = thinking
                }, clock).Text;
            }
            catch (ReasonSharpException) { return null; }
        }
        ChatMessage[] user = [ChatMessage.FromUser("Hi")];
        var on = Probe(user, true, true);
        var off = Probe(user, true, false);
        var enableThinking = on is not null && off is not null && on != off;

        var think = Probe([ChatMessage.FromSystem(ReasoningFlags.Think), .. user], true, null);
        var noThink = Probe([ChatMessage.FromSystem(ReasoningFlags.NoThink), .. user], true, null);
        // Echoing the flag is no switch; "/think" is not removed from the think render, where it also occurs
        // inside "</think>".
        var flags = think is not null && noThink is not null
            && think != noThink.Replace(ReasoningFlags.NoThink, ReasoningFlags.Think, StringComparison.Ordinal);

        var answered = flags
            ? Probe([ChatMessage.FromSystem(ReasoningFlags.NoThink), .. user, ChatMessage.FromAssistant("Hello")],
                false, null)
            : enableThinking ? Probe([.. user, ChatMessage.FromAssistant("Hello")], false, false) : null;
        var writesEmptyThink = answered is not null && answered.Contains(ReasoningTokens.ThinkOpen,
            StringComparison.Ordinal)
            && answered.Contains(ReasoningTokens.ThinkClose, StringComparison.Ordinal);
        return new ChatCapabilities(enableThinking, flags, writesEmptyThink, Template.HasGenerationBlocks);
    }
}

/// <summary>The system-message flags of dual-mode templates.</summary>
public static class ReasoningFlags
{
    public const string Think = "/think";
    public const string NoThink = "/no_think";

    /// <summary>The flag appended to the system message (replacing an earlier flag), or a system message of its
    /// own.</summary>
    public static IReadOnlyList<ChatMessage> Set(IReadOnlyList<ChatMessage> messages, string flag)
    {
        var result = messages.ToList();
        var at = result.FindIndex(m => m.Role == ChatMessage.System);
        if (at < 0)
        {
            result.Insert(0, ChatMessage.FromSystem(flag));
            return result;
        }
        var text = RemoveFlags(result[at].Content);
        result[at] = result[at] with { Content = text.Length == 0 ? flag : text + "\n" + flag };
        return result;
    }

    /// <summary>The last flag written in the system messages, or null (what the user asked for there).</summary>
    public static string? Find(IEnumerable<ChatMessage> messages) =>
        messages.Where(m => m.Role == ChatMessage.System)
            .SelectMany(m => m.Content.Split((char[])[' ', '\n', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries))
            .LastOrDefault(word => word is Think or NoThink);

    static string RemoveFlags(string system)
    {
        var lines = system.Split('\n').Select(line => line.Trim() is Think or NoThink ? "" : line);
        var text = string.Join('\n', lines).Trim();
        foreach (var flag in new[] { NoThink, Think })
            if (text.EndsWith(" " + flag, StringComparison.Ordinal)) text = text[..^flag.Length].TrimEnd();
        return text;
    }
}
