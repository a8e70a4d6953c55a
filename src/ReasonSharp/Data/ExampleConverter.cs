using System.Text;
using System.Text.Json;

namespace ReasonSharp.Data;

/// <summary>
/// Turns raw rows into <see cref="Example"/>s. The schema is fixed by the mapping or recognised from the first row's
/// columns; every later row must fit it. Errors name the file, line and field.
/// </summary>
public sealed class ExampleConverter(SchemaMapping? mapping = null)
{
    static readonly string[] GoldCandidates = ["answer", "solution", "gold", "ground_truth"];

    readonly SchemaMapping mapping = mapping ?? new SchemaMapping();
    ResolvedColumns? columns;

    /// <summary>The schema in use, known once the first row was converted.</summary>
    public SchemaKind? Kind => columns?.Kind;

    /// <summary>Converts a row or throws a <see cref="ReasonSharpException"/> naming the file, line and
    /// field.</summary>
    public Example Convert(DataRow row)
    {
        var c = columns ??= Resolve(row);
        var messages = new List<ChatMessage>();
        string? gold = null;
        switch (c.Kind)
        {
            case SchemaKind.Messages:
                messages.AddRange(ReadMessageList(row, c.Conversation!, row.Require(c.Conversation!), "role", "content",
                    MessagesRole));
                break;
            case SchemaKind.ShareGpt:
                messages.AddRange(ReadMessageList(row, c.Conversation!, row.Require(c.Conversation!), "from", "value",
                    ShareGptRole));
                break;
            case SchemaKind.PromptCompletion:
                messages.AddRange(ReadTurns(row, c.Prompt!, ChatMessage.User));
                if (c.Completion != null) messages.AddRange(ReadTurns(row, c.Completion, ChatMessage.Assistant));
                break;
            case SchemaKind.QuestionAnswer:
                messages.Add(ChatMessage.FromUser(row.RequireString(c.Prompt!)));
                var answer = row.RequireString(c.Completion!);
                gold = c.Gold != null ? GoldOf(row, c.Gold) : GoldAnswers.AfterHashes(answer)
                    ?? throw row.FieldError(c.Completion!, "expected the gold answer after '####' at the end " +
                        "(GSM8K format)");
                messages.Add(ChatMessage.FromAssistant(SolutionText(GoldAnswers.BeforeHashes(answer), gold, answer)));
                break;
            case SchemaKind.ProblemSolution:
                messages.Add(ChatMessage.FromUser(row.RequireString(c.Prompt!)));
                if (c.Completion != null)
                {
                    var solution = row.RequireString(c.Completion);
                    gold = c.Gold != null
                        ? GoldOf(row, c.Gold)
                        : GoldAnswers.LastBoxed(solution)
                            ?? throw row.FieldError(c.Completion, "expected a \\boxed{…} answer in the solution " +
                            "(MATH format)");
                    messages.Add(ChatMessage.FromAssistant(SolutionText(solution, gold, solution)));
                }
                break;
        }
        if (c.Gold != null) gold ??= GoldOf(row, c.Gold);
        AddSystem(row, c, messages);
        if (!messages.Any(m => m.Role == ChatMessage.User))
            throw row.FieldError(c.MainColumn, "empty conversation: expected at least one user turn");
        var consumed = c.Consumed;
        var extra =
            row.Json.EnumerateObject().Where(p => !consumed.Contains(p.Name)).ToDictionary(p => p.Name, p => p.Value);
        return new Example(messages, gold, extra, row.Origin.ToString());
    }

    /// <summary>Converts a row, or reports it to <paramref name="bad"/> and returns null when skipping bad
    /// rows.</summary>
    public Example? TryConvert(DataRow row, BadRowLog bad)
    {
        try { return Convert(row); }
        catch (ReasonSharpException e) { bad.Report(e); return null; }
    }

    string SolutionText(string worked, string gold, string verbatim) =>
        mapping.SolutionStyle is { } style ? new ReasoningTrace(worked, gold).Render(style) : verbatim;

    static string GoldOf(DataRow row, string column)
    {
        var value = row.Require(column);
        return value.ValueKind == JsonValueKind.Number ? value.GetRawText()
            : GoldAnswers.FromText(row.AsString(value, column));
    }

    void AddSystem(DataRow row, ResolvedColumns c, List<ChatMessage> messages)
    {
        string? system = null;
        if (c.System != null)
        {
            var value = row.Require(c.System);
            if (value.ValueKind != JsonValueKind.Null) system = row.AsString(value, c.System);
        }
        var hasSystemTurn = messages.Any(m => m.Role == ChatMessage.System);
        if (hasSystemTurn && !string.IsNullOrWhiteSpace(system))
            throw row.FieldError(c.System!, "the conversation already has a system turn; expected the system " +
                "prompt in one place only");
        if (hasSystemTurn) return;
        if (string.IsNullOrWhiteSpace(system)) system = mapping.SystemPrompt;
        if (!string.IsNullOrEmpty(system)) messages.Insert(0, ChatMessage.FromSystem(system));
    }

    // A string becomes one turn of the given role; a list is read as {role, content} messages.
    internal static IEnumerable<ChatMessage> ReadTurns(DataRow row, string column, string role)
    {
        var value = row.Require(column);
        return value.ValueKind == JsonValueKind.Array
            ? ReadMessageList(row, column, value, "role", "content", MessagesRole)
            : [new ChatMessage(role, row.AsString(value, column))];
    }

    static List<ChatMessage> ReadMessageList(DataRow row, string column, JsonElement list, string roleKey,
        string contentKey, Func<string, string?> normaliseRole)
    {
        if (list.ValueKind != JsonValueKind.Array)
            throw row.FieldError(column, $"expected a list of {{{roleKey}, {contentKey}}} turns, got " +
                $"{DataRow.Describe(list)}");
        var messages = new List<ChatMessage>();
        var index = 0;
        foreach (var turn in list.EnumerateArray())
        {
            var field = $"{column}[{index++}]";
            if (turn.ValueKind != JsonValueKind.Object)
                throw row.FieldError(field, $"expected an object with '{roleKey}' and '{contentKey}', got " +
                    $"{DataRow.Describe(turn)}");
            if (!turn.TryGetProperty(roleKey, out var roleValue) || roleValue.ValueKind != JsonValueKind.String)
                throw row.FieldError($"{field}.{roleKey}",
                    $"expected a string role, got " +
                    $"{(roleValue.ValueKind == JsonValueKind.Undefined ? "nothing" : DataRow.Describe(roleValue))}");
            var role = normaliseRole(roleValue.GetString()!)
                ?? throw row.FieldError($"{field}.{roleKey}", $"unknown role '{roleValue.GetString()}'");
            if (!turn.TryGetProperty(contentKey, out var content))
                throw row.FieldError($"{field}.{contentKey}", "missing");
            messages.Add(new ChatMessage(role, ContentText(row, $"{field}.{contentKey}", content)));
        }
        if (messages.Count == 0) throw row.FieldError(column, "empty conversation: expected at least one turn");
        return messages;
    }

    // A string, or OpenAI-style content parts [{type: "text", text: …}] joined together.
    static string ContentText(DataRow row, string field, JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array)
            throw row.FieldError(field, $"expected a string (or a list of text parts), got " +
                $"{DataRow.Describe(content)}");
        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("text", out var t)
                || t.ValueKind != JsonValueKind.String)
                throw row.FieldError(field, "expected text parts like {\"type\": \"text\", \"text\": \"…\"}");
            text.Append(t.GetString());
        }
        return text.ToString();
    }

    static string? MessagesRole(string role) => role switch
    {
        "system" or "user" or "assistant" or "tool" => role,
        "developer" => ChatMessage.System,
        "function" => ChatMessage.Tool,
        _ => null,
    };

    static string? ShareGptRole(string from) => from.ToLowerInvariant() switch
    {
        "human" or "user" => ChatMessage.User,
        "gpt" or "assistant" or "model" or "chatgpt" or "bot" => ChatMessage.Assistant,
        "system" => ChatMessage.System,
        "tool" or "function" or "observation" => ChatMessage.Tool,
        _ => null,
    };

    ResolvedColumns Resolve(DataRow first)
    {
        var kind = mapping.Kind ?? Detect(first);
        string? Optional(string name) => first.Has(name) ? name : null;
        var (conversation, prompt, completion, gold) = kind switch
        {
            SchemaKind.Messages =>
                (mapping.ConversationColumn ?? "messages", (string?)null, (string?)null, mapping.GoldColumn),
            SchemaKind.ShareGpt => (mapping.ConversationColumn ?? "conversations", null, null, mapping.GoldColumn),
            SchemaKind.PromptCompletion =>
                (null, mapping.PromptColumn ?? "prompt", mapping.CompletionColumn ?? Optional("completion"),
                mapping.GoldColumn),
            SchemaKind.QuestionAnswer =>
                (null, mapping.PromptColumn ?? "question", mapping.CompletionColumn ?? "answer", mapping.GoldColumn),
            _ => (null, mapping.PromptColumn ?? "problem", mapping.CompletionColumn ?? Optional("solution"),
                mapping.GoldColumn ?? Optional("answer")),
        };
        var system = mapping.SystemColumn ?? Optional("system");
        string?[] used = [conversation, prompt, completion, system];
        if (gold == null && kind is SchemaKind.Messages or SchemaKind.ShareGpt or SchemaKind.PromptCompletion)
            gold = GoldCandidates.FirstOrDefault(name => first.Has(name) && !used.Contains(name));
        return new ResolvedColumns(kind, conversation, prompt, completion, system, gold);
    }

    static SchemaKind Detect(DataRow row) =>
        row.Has("messages") ? SchemaKind.Messages
        : row.Has("conversations") ? SchemaKind.ShareGpt
        : row.Has("prompt") ? SchemaKind.PromptCompletion
        : row.Has("question") && row.Has("answer") ? SchemaKind.QuestionAnswer
        : row.Has("problem") ? SchemaKind.ProblemSolution
        : throw new ReasonSharpException(
            $"{row.Origin}: cannot recognise the schema from columns [{string.Join(", ", row.ColumnNames)}]; " +
            $"expected 'messages', 'conversations', 'prompt' (+ 'completion'), 'question' + 'answer' or 'problem' " +
            $"(+ 'solution'), or a SchemaMapping / --schema");

    sealed record ResolvedColumns(SchemaKind Kind, string? Conversation, string? Prompt, string? Completion,
        string? System, string? Gold)
    {
        public string MainColumn => Conversation ?? Prompt!;

        // Columns turned into messages; everything else (the gold column included) stays in Example.Extra.
        public HashSet<string> Consumed { get; } =
            new[] { Conversation, Prompt, Completion, System }.OfType<string>().ToHashSet();
    }
}
