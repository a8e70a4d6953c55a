using System.Text.Json;

namespace ReasonSharp.Serving;

/// <summary>
/// The fields of a /v1/chat/completions or /v1/completions request the server reads, type-checked (a wrong type or
/// value is a 400 naming the field). Fields it does not know are ignored, as vLLM does; ones it knows but cannot
/// honour (tools, penalties, logit_bias, echo) are refused rather than silently dropped.
/// </summary>
public sealed record CompletionRequest
{
    public string? Model { get; init; }
    /// <summary>Chat: the conversation. Null for /v1/completions.</summary>
    public IReadOnlyList<ChatMessage>? Messages { get; init; }
    /// <summary>/v1/completions: the prompt texts (one or more).</summary>
    public IReadOnlyList<string>? Prompts { get; init; }
    public int? MaxTokens { get; init; }
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 1.0;
    public int N { get; init; } = 1;
    public IReadOnlyList<string> Stop { get; init; } = [];
    public long? Seed { get; init; }
    /// <summary>Alternatives per token (0: only the sampled token's log-probability; −1: no
    /// log-probabilities).</summary>
    public int TopLogProbs { get; init; } = -1;
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    /// <summary>vLLM's ignore_eos: run to max_tokens whatever the model samples (benchmarks).</summary>
    public bool IgnoreEos { get; init; }
    /// <summary>chat_template_kwargs.enable_thinking, when given.</summary>
    public bool? EnableThinking { get; init; }
    /// <summary>Other chat_template_kwargs, passed to the chat template.</summary>
    public IReadOnlyDictionary<string, object?> TemplateKwargs { get; init; } = new Dictionary<string, object?>();

    static readonly string[] Unsupported = ["tools", "functions", "tool_choice", "logit_bias", "response_format"];

    /// <summary>Parses a request body; <paramref name="chat"/>: /v1/chat/completions, else /v1/completions.</summary>
    public static CompletionRequest Parse(ReadOnlyMemory<byte> body, bool chat)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(body); }
        catch (JsonException e)
        {
            throw new OpenAiError(400, $"malformed JSON in the request body: {e.Message}", code: "invalid_json");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new OpenAiError(400, $"the request body must be a JSON object, got {root.ValueKind}",
                    code: "invalid_json");
            foreach (var name in Unsupported)
                if (root.TryGetProperty(name, out var value)
                    && value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined)
                    && !(value.ValueKind == JsonValueKind.Object && !value.EnumerateObject().Any())
                    && !(value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 0))
                    throw new OpenAiError(400, $"{name}: not supported by this server", param: name,
                        code: "unsupported_parameter");
            foreach (var name in new[] { "frequency_penalty", "presence_penalty" })
                if (Number(root, name) is { } penalty && penalty != 0)
                    throw new OpenAiError(400, $"{name}: not supported by this server (only 0)", param: name,
                        code: "unsupported_parameter");

            bool logprobs;
            int top = -1;
            if (chat)
            {
                logprobs = Bool(root, "logprobs") ?? false;
                if (Integer(root, "top_logprobs") is { } k)
                {
                    if (k is < 0 or > 20) throw OpenAiError.BadField("top_logprobs", $"expected 0 to 20, got {k}");
                    if (!logprobs) throw OpenAiError.BadField("top_logprobs", "needs logprobs: true");
                    top = (int)k;
                }
                if (logprobs && top < 0) top = 0;
            }
            else
            {
                if (Bool(root, "echo") == true)
                    throw new OpenAiError(400, "echo: not supported by this server", param: "echo",
                        code: "unsupported_parameter");
                if (Integer(root, "logprobs") is { } k)
                {
                    if (k is < 0 or > 20) throw OpenAiError.BadField("logprobs", $"expected 0 to 20, got {k}");
                    top = (int)k;
                }
            }

            var maxTokens = Integer(root, "max_completion_tokens") ?? Integer(root, "max_tokens");
            if (maxTokens is < 1) throw OpenAiError.BadField("max_tokens", $"expected at least 1, got {maxTokens}");
            var temperature = Number(root, "temperature") ?? 1.0;
            if (temperature is < 0 or > 2)
                throw OpenAiError.BadField("temperature", $"expected 0 to 2, got {temperature}");
            var topP = Number(root, "top_p") ?? 1.0;
            if (topP is <= 0 or > 1) throw OpenAiError.BadField("top_p", $"expected a number in (0, 1], got {topP}");
            var n = Integer(root, "n") ?? 1;
            if (n is < 1 or > 128) throw OpenAiError.BadField("n", $"expected 1 to 128, got {n}");

            bool? enableThinking = null;
            var kwargs = new Dictionary<string, object?>();
            if (Field(root, "chat_template_kwargs") is { } templateKwargs)
            {
                if (templateKwargs.ValueKind != JsonValueKind.Object)
                    throw OpenAiError.BadField("chat_template_kwargs",
                        $"expected an object, got {templateKwargs.ValueKind}");
                foreach (var property in templateKwargs.EnumerateObject())
                {
                    if (property.Name == "enable_thinking")
                        enableThinking =
                            Bool(templateKwargs, "enable_thinking", "chat_template_kwargs.enable_thinking");
                    else kwargs[property.Name] = Plain(property.Value);
                }
            }

            var stream = Bool(root, "stream") ?? false;
            var includeUsage = false;
            if (Field(root, "stream_options") is { } streamOptions)
            {
                if (streamOptions.ValueKind != JsonValueKind.Object)
                    throw OpenAiError.BadField("stream_options", $"expected an object, got {streamOptions.ValueKind}");
                includeUsage = Bool(streamOptions, "include_usage", "stream_options.include_usage") ?? false;
            }

            return new CompletionRequest
            {
                Model = String(root, "model"),
                Messages = chat ? ParseMessages(root) : null,
                Prompts = chat ? null : ParsePrompts(root),
                MaxTokens = (int?)maxTokens,
                Temperature = temperature,
                TopP = topP,
                N = (int)n,
                Stop = ParseStop(root),
                Seed = Integer(root, "seed"),
                TopLogProbs = top,
                Stream = stream,
                IncludeUsage = includeUsage,
                IgnoreEos = Bool(root, "ignore_eos") ?? false,
                EnableThinking = enableThinking,
                TemplateKwargs = kwargs,
            };
        }
    }

    static IReadOnlyList<ChatMessage> ParseMessages(JsonElement root)
    {
        var messages = Field(root, "messages")
            ?? throw OpenAiError.BadField("messages", "missing; expected a list of messages");
        if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            throw OpenAiError.BadField("messages", "expected a non-empty list of messages");
        var list = new List<ChatMessage>();
        int i = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var name = $"messages[{i++}]";
            if (message.ValueKind != JsonValueKind.Object)
                throw OpenAiError.BadField(name, $"expected an object, got {message.ValueKind}");
            var role = String(message, "role", $"{name}.role") ?? throw OpenAiError.BadField($"{name}.role", "missing");
            if (role == "developer") role = ChatMessage.System;
            if (role is not (ChatMessage.System or ChatMessage.User or ChatMessage.Assistant or ChatMessage.Tool))
                throw OpenAiError.BadField($"{name}.role",
                    $"expected system, developer, user, assistant or tool, got '{role}'");
            list.Add(new ChatMessage(role, Content(Field(message, "content"), $"{name}.content")));
        }
        return list;
    }

    /// <summary>A message's content: a string, null (empty) or a list of text parts.</summary>
    static string Content(JsonElement? content, string name)
    {
        if (content is not { } value || value.ValueKind == JsonValueKind.Null) return "";
        if (value.ValueKind == JsonValueKind.String) return value.GetString()!;
        if (value.ValueKind != JsonValueKind.Array)
            throw OpenAiError.BadField(name, $"expected a string or a list of parts, got {value.ValueKind}");
        var text = new System.Text.StringBuilder();
        int i = 0;
        foreach (var part in value.EnumerateArray())
        {
            var partName = $"{name}[{i++}]";
            if (part.ValueKind != JsonValueKind.Object) throw OpenAiError.BadField(partName, "expected an object");
            var type = String(part, "type", $"{partName}.type");
            if (type != "text")
                throw OpenAiError.BadField($"{partName}.type", $"only text parts are supported, got '{type}'");
            text.Append(String(part, "text", $"{partName}.text")
                ?? throw OpenAiError.BadField($"{partName}.text", "missing"));
        }
        return text.ToString();
    }

    static IReadOnlyList<string> ParsePrompts(JsonElement root)
    {
        var prompt = Field(root, "prompt")
            ?? throw OpenAiError.BadField("prompt", "missing; expected a string or a list of strings");
        if (prompt.ValueKind == JsonValueKind.String) return [prompt.GetString()!];
        if (prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() > 0
            && prompt.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String))
            return prompt.EnumerateArray().Select(p => p.GetString()!).ToList();
        throw OpenAiError.BadField("prompt",
            $"expected a string or a non-empty list of strings, got {prompt.ValueKind}");
    }

    static IReadOnlyList<string> ParseStop(JsonElement root)
    {
        if (Field(root, "stop") is not { } stop) return [];
        if (stop.ValueKind == JsonValueKind.String) return stop.GetString() is { Length: > 0 } s ? [s] : [];
        if (stop.ValueKind == JsonValueKind.Array
            && stop.EnumerateArray().All(s => s.ValueKind == JsonValueKind.String))
            return stop.EnumerateArray().Select(s => s.GetString()!).Where(s => s.Length > 0).ToList();
        throw OpenAiError.BadField("stop", $"expected a string or a list of strings, got {stop.ValueKind}");
    }

    /// <summary>The property, or null when it is absent or JSON null.</summary>
    static JsonElement? Field(JsonElement o, string name) =>
        o.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    static string? String(JsonElement o, string name, string? param = null) => Field(o, name) is not { } v ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : throw OpenAiError.BadField(param ?? name, $"expected a string, got {v.ValueKind}");

    static bool? Bool(JsonElement o, string name, string? param = null) => Field(o, name) is not { } v ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw OpenAiError.BadField(param ?? name, $"expected true or false, got {v.ValueKind}");

    static double? Number(JsonElement o, string name) => Field(o, name) is not { } v ? null
        : v.ValueKind == JsonValueKind.Number ? v.GetDouble()
        : throw OpenAiError.BadField(name, $"expected a number, got {v.ValueKind}");

    static long? Integer(JsonElement o, string name) => Field(o, name) is not { } v ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n
        : throw OpenAiError.BadField(name,
            $"expected an integer, got {(v.ValueKind == JsonValueKind.Number ? v.GetRawText() : v.ValueKind)}");

    /// <summary>A JSON value as the template engine's plain values (string, bool, long, double, list,
    /// dictionary).</summary>
    static object? Plain(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number => v.TryGetInt64(out var n) ? n : v.GetDouble(),
        JsonValueKind.Array => v.EnumerateArray().Select(Plain).ToList(),
        JsonValueKind.Object => v.EnumerateObject().ToDictionary(p => p.Name, p => Plain(p.Value)),
        _ => null,
    };
}
