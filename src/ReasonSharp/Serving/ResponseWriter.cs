using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;

namespace ReasonSharp.Serving;

/// <summary>Writes a completion's choices as OpenAI does: one JSON response, or server-sent events ending in
/// `data: [DONE]`.</summary>
internal sealed class ResponseWriter(HttpContext context, bool chat, string id, long created, string model,
    CompletionRequest request, int promptTokens, int choiceCount)
{
    static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    sealed class Choice
    {
        public readonly StringBuilder Reasoning = new(), Content = new();
        public readonly List<TokenLogProbInfo> LogProbs = [];
        public string? Finish;
        public int Tokens;
    }

    /// <summary>Collects every update, then writes one response.</summary>
    public async Task WholeAsync(ChannelReader<ChoiceUpdate> updates)
    {
        var choices = Enumerable.Range(0, choiceCount).Select(_ => new Choice()).ToArray();
        await foreach (var update in updates.ReadAllAsync(context.RequestAborted))
        {
            var choice = choices[update.Index];
            choice.Reasoning.Append(update.Reasoning);
            choice.Content.Append(update.Content);
            choice.LogProbs.AddRange(update.LogProbs);
            choice.Finish = update.FinishReason ?? choice.Finish;
            choice.Tokens = update.CompletionTokens;
        }
        await OpenAiServer.WriteJson(context, 200, w =>
        {
            Header(w, chat ? "chat.completion" : "text_completion");
            w.WriteStartArray("choices");
            for (int i = 0; i < choices.Length; i++)
            {
                var c = choices[i];
                w.WriteStartObject();
                w.WriteNumber("index", i);
                if (chat)
                {
                    w.WriteStartObject("message");
                    w.WriteString("role", "assistant");
                    w.WriteString("content", c.Content.ToString());
                    if (c.Reasoning.Length > 0) w.WriteString("reasoning_content", c.Reasoning.ToString());
                    else w.WriteNull("reasoning_content");
                    w.WriteEndObject();
                }
                else w.WriteString("text", c.Content.ToString());
                LogProbs(w, c.LogProbs, 0);
                w.WriteString("finish_reason", c.Finish ?? "length");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            Usage(w, choices.Sum(c => c.Tokens));
        });
    }

    /// <summary>Writes each update as a chunk as soon as it comes.</summary>
    public async Task StreamAsync(ChannelReader<ChoiceUpdate> updates)
    {
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        var offsets = new int[choiceCount];
        var tokens = new int[choiceCount];
        if (chat)
            for (int i = 0; i < choiceCount; i++)
            {
                int index = i;
                await Chunk(w => Delta(w, index, role: true, "", "", [], null, 0));
            }
        else await response.Body.FlushAsync(context.RequestAborted);
        await foreach (var update in updates.ReadAllAsync(context.RequestAborted))
        {
            tokens[update.Index] = update.CompletionTokens;
            if (update.Reasoning.Length > 0 || update.Content.Length > 0 || update.LogProbs.Count > 0)
            {
                int offset = offsets[update.Index];
                await Chunk(w => Delta(w, update.Index, false, update.Reasoning, update.Content, update.LogProbs, null,
                    offset));
                offsets[update.Index] += update.Content.Length;
            }
            if (update.FinishReason is { } finish)
                await Chunk(w => Delta(w, update.Index, false, "", "", [], finish, 0));
        }
        if (request.IncludeUsage)
            await Chunk(w =>
            {
                Header(w, chat ? "chat.completion.chunk" : "text_completion");
                w.WriteStartArray("choices");
                w.WriteEndArray();
                Usage(w, tokens.Sum());
            });
        await response.Body.WriteAsync(Done, context.RequestAborted);
        await response.Body.FlushAsync(context.RequestAborted);
    }

    /// <summary>An error after the stream began: one `data: {"error": …}` event, then [DONE].</summary>
    public async Task StreamErrorAsync(OpenAiError error)
    {
        await Event(w =>
        {
            w.WriteStartObject("error");
            w.WriteString("message", error.Message);
            w.WriteString("type", error.Type);
            w.WriteNull("param");
            if (error.Code is null) w.WriteNull("code"); else w.WriteString("code", error.Code);
            w.WriteEndObject();
        });
        await context.Response.Body.WriteAsync(Done);
    }

    void Delta(Utf8JsonWriter w, int index, bool role, string reasoning, string content,
        IReadOnlyList<TokenLogProbInfo> logProbs, string? finish, int textOffset)
    {
        Header(w, chat ? "chat.completion.chunk" : "text_completion");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        if (chat)
        {
            w.WriteStartObject("delta");
            if (role) w.WriteString("role", "assistant");
            if (role || content.Length > 0) w.WriteString("content", content);
            if (reasoning.Length > 0) w.WriteString("reasoning_content", reasoning);
            w.WriteEndObject();
        }
        else w.WriteString("text", content);
        LogProbs(w, logProbs, textOffset);
        if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
        w.WriteEndObject();
        w.WriteEndArray();
    }

    Task Chunk(Action<Utf8JsonWriter> body) => Event(body);

    async Task Event(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        buffer.Write("data: "u8);
        using (var writer = new Utf8JsonWriter(buffer, OpenAiServer.JsonOptions))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    void Header(Utf8JsonWriter w, string kind)
    {
        w.WriteString("id", id);
        w.WriteString("object", kind);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    void Usage(Utf8JsonWriter w, int completionTokens)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", promptTokens);
        w.WriteNumber("completion_tokens", completionTokens);
        w.WriteNumber("total_tokens", promptTokens + completionTokens);
        w.WriteEndObject();
    }

    /// <summary>Chat: {"content": [{token, logprob, bytes, top_logprobs}]}; completions: the legacy parallel
    /// lists.</summary>
    void LogProbs(Utf8JsonWriter w, IReadOnlyList<TokenLogProbInfo> entries, int textOffset)
    {
        if (request.TopLogProbs < 0)
        {
            w.WriteNull("logprobs");
            return;
        }
        w.WriteStartObject("logprobs");
        if (chat)
        {
            w.WriteStartArray("content");
            foreach (var entry in entries)
            {
                w.WriteStartObject();
                Token(w, entry.Chosen);
                w.WriteStartArray("top_logprobs");
                foreach (var top in entry.Top)
                {
                    w.WriteStartObject();
                    Token(w, top);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        else
        {
            w.WriteStartArray("tokens");
            foreach (var e in entries) w.WriteStringValue(e.Chosen.Token);
            w.WriteEndArray();
            w.WriteStartArray("token_logprobs");
            foreach (var e in entries) w.WriteNumberValue(e.Chosen.LogProb);
            w.WriteEndArray();
            w.WriteStartArray("top_logprobs");
            foreach (var e in entries)
            {
                w.WriteStartObject();
                foreach (var top in e.Top.DistinctBy(t => t.Token)) w.WriteNumber(top.Token, top.LogProb);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("text_offset");
            int offset = textOffset;
            foreach (var e in entries)
            {
                w.WriteNumberValue(offset);
                offset += e.Chosen.Token.Length;
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    static void Token(Utf8JsonWriter w, TokenInfo token)
    {
        w.WriteString("token", token.Token);
        w.WriteNumber("logprob", token.LogProb);
        w.WriteStartArray("bytes");
        foreach (var b in token.Bytes) w.WriteNumberValue(b);
        w.WriteEndArray();
    }
}
