using System.Text;
using ReasonSharp.Data;

namespace ReasonSharp.Serving;

/// <summary>
/// Turns one choice's tokens into text pieces as they come: incremental detokenization (a piece ends on whole
/// characters), OpenAI stop strings (the text ends before the first one, and a tail that may start one is held back),
/// and, for chat, the split of a `&lt;think&gt;…&lt;/think&gt;` block into reasoning_content, with the answer after it
/// as content, both trimmed as <see cref="ReasoningTrace.Parse(string)"/> trims them. Streaming and non-streaming
/// responses are the concatenation of the same pieces.
/// </summary>
internal sealed class ChoiceText(Func<IReadOnlyList<int>, string> decode, IReadOnlyList<string> stops,
    bool splitReasoning, bool thinkingOpen)
{
    readonly List<int> ids = [];
    int prefixOffset, readOffset;
    readonly StringBuilder raw = new();
    int released;
    readonly ReasoningSplitter splitter = new(splitReasoning, thinkingOpen);

    /// <summary>True once a stop string was found: the choice is finished.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds a token; returns the (reasoning, content) text it releases.</summary>
    public (string Reasoning, string Content) Add(int token)
    {
        if (Stopped) return ("", "");
        ids.Add(token);
        var prefix = decode(ids.GetRange(prefixOffset, readOffset - prefixOffset));
        var full = decode(ids.GetRange(prefixOffset, ids.Count - prefixOffset));
        if (full.Length <= prefix.Length || full.EndsWith('\uFFFD')) return ("", "");
        raw.Append(full, prefix.Length, full.Length - prefix.Length);
        prefixOffset = readOffset;
        readOffset = ids.Count;
        return Release(final: false);
    }

    /// <summary>The rest of the text at the end of the choice.</summary>
    public (string Reasoning, string Content) Finish()
    {
        if (!Stopped && readOffset < ids.Count)
        {
            var prefix = decode(ids.GetRange(prefixOffset, readOffset - prefixOffset));
            var full = decode(ids.GetRange(prefixOffset, ids.Count - prefixOffset));
            if (full.Length > prefix.Length) raw.Append(full, prefix.Length, full.Length - prefix.Length);
            readOffset = ids.Count;
        }
        return Release(final: true);
    }

    (string, string) Release(bool final)
    {
        var text = raw.ToString();
        int end = text.Length;
        if (stops.Count > 0)
        {
            int from = Math.Max(0, released - stops.Max(s => s.Length));
            int hit = -1;
            foreach (var stop in stops)
            {
                int at = text.IndexOf(stop, from, StringComparison.Ordinal);
                if (at >= 0 && (hit < 0 || at < hit)) hit = at;
            }
            if (hit >= 0)
            {
                Stopped = true;
                end = hit;
                final = true;
            }
            else if (!final) end -= HeldForStop(text);
        }
        end = Math.Max(end, released);
        var piece = text[released..end];
        released = end;
        return splitter.Add(piece, final);
    }

    /// <summary>The length of the longest tail of <paramref name="text"/> that begins a stop string.</summary>
    int HeldForStop(string text)
    {
        int held = 0;
        foreach (var stop in stops)
            for (int k = Math.Min(stop.Length - 1, text.Length); k > held; k--)
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k))) { held = k; break; }
        return held;
    }
}

/// <summary>
/// Splits streamed text into reasoning (inside a think block: opened by `&lt;think&gt;` at the start, or by the
/// prompt) and content (the rest), trimming each part's surrounding whitespace without knowing the end in advance.
/// </summary>
internal sealed class ReasoningSplitter(bool enabled, bool thinkingOpen)
{
    enum Part { Undecided, Reasoning, Content }

    const string Open = ReasoningTrace.ThinkOpen, Close = ReasoningTrace.ThinkClose;
    Part part = !enabled ? Part.Content : thinkingOpen ? Part.Reasoning : Part.Undecided;
    string pending = "";
    bool reasoningStarted, contentStarted;
    readonly bool trim = enabled;

    public (string Reasoning, string Content) Add(string text, bool final)
    {
        pending += text;
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        while (true)
        {
            if (part == Part.Undecided)
            {
                var start = pending.TrimStart();
                if (start.StartsWith(Open, StringComparison.Ordinal))
                {
                    pending = start[Open.Length..];
                    part = Part.Reasoning;
                    continue;
                }
                if (!final && Open.StartsWith(start, StringComparison.Ordinal)) break;
                part = Part.Content;
                continue;
            }
            if (part == Part.Reasoning)
            {
                int close = pending.IndexOf(Close, StringComparison.Ordinal);
                if (close >= 0)
                {
                    Emit(reasoning, pending[..close].TrimEnd(), ref reasoningStarted);
                    pending = pending[(close + Close.Length)..];
                    part = Part.Content;
                    continue;
                }
                int held = final ? 0 : Held(pending);
                var ready = pending[..^held];
                // Trailing whitespace waits: it is dropped if the block closes next.
                var body = ready.TrimEnd();
                int keep = final ? pending.Length : body.Length;
                Emit(reasoning, body, ref reasoningStarted);
                pending = final ? "" : pending[keep..];
                break;
            }
            {
                if (!trim)
                {
                    content.Append(pending);
                    pending = "";
                    break;
                }
                var body = pending.TrimEnd();
                Emit(content, body, ref contentStarted);
                pending = final ? "" : pending[body.Length..];
                break;
            }
        }
        return (reasoning.ToString(), content.ToString());
    }

    /// <summary>Appends text, dropping leading whitespace until the part has started.</summary>
    static void Emit(StringBuilder to, string text, ref bool started)
    {
        if (!started) text = text.TrimStart();
        if (text.Length == 0) return;
        started = true;
        to.Append(text);
    }

    /// <summary>Length of the tail that may begin the closing tag.</summary>
    static int Held(string text)
    {
        for (int k = Math.Min(Close.Length - 1, text.Length); k > 0; k--)
            if (text.AsSpan(text.Length - k).SequenceEqual(Close.AsSpan(0, k))) return k;
        return 0;
    }
}
