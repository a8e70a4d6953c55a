namespace ReasonSharp.Data;

/// <summary>The dataset layouts that are recognised.</summary>
public enum SchemaKind
{
    /// <summary>`messages`: a list of {role, content}.</summary>
    Messages,
    /// <summary>ShareGPT `conversations`: a list of {from, value}, with an optional `system` column (Bespoke-Stratos,
    /// OpenThoughts).</summary>
    ShareGpt,
    /// <summary>`prompt` with optional `completion`, each a string or a message list (TRL's standard and conversational
    /// forms).</summary>
    PromptCompletion,
    /// <summary>`question`/`answer` (GSM8K): the gold answer follows `####`, the text before it is the worked
    /// solution.</summary>
    QuestionAnswer,
    /// <summary>`problem`/`solution` (MATH): the gold answer is the last `\boxed{}` of the solution (or an `answer`
    /// column).</summary>
    ProblemSolution,
}

/// <summary>
/// Which columns play which part. Every property is optional: unset ones are recognised from the first row's columns.
/// A column named here must exist in every row.
/// </summary>
public sealed record SchemaMapping
{
    public SchemaKind? Kind { get; init; }

    /// <summary>The message-list column (Messages: "messages", ShareGpt: "conversations").</summary>
    public string? ConversationColumn { get; init; }

    /// <summary>The user-turn column ("prompt", "question" or "problem").</summary>
    public string? PromptColumn { get; init; }

    /// <summary>The assistant-turn column ("completion", "answer" or "solution").</summary>
    public string? CompletionColumn { get; init; }

    /// <summary>A column holding a system prompt ("system" when present).</summary>
    public string? SystemColumn { get; init; }

    /// <summary>The gold-answer column; `####` and `\boxed{}` are extracted from it. Default: answer, solution, gold or
    /// ground_truth.</summary>
    public string? GoldColumn { get; init; }

    /// <summary>A system prompt added to examples that have none.</summary>
    public string? SystemPrompt { get; init; }

    /// <summary>For question/answer and problem/solution: render the assistant turn as (worked solution, gold) in this
    /// trace style instead of verbatim.</summary>
    public TraceStyle? SolutionStyle { get; init; }

    /// <summary>The mapping for a schema name as the CLI spells it: messages, sharegpt, prompt-completion,
    /// question-answer, problem-solution.</summary>
    public static SchemaMapping ForName(string name) => new()
    {
        Kind = name.ToLowerInvariant() switch
        {
            "messages" => SchemaKind.Messages,
            "sharegpt" or "conversations" => SchemaKind.ShareGpt,
            "prompt-completion" or "prompt" => SchemaKind.PromptCompletion,
            "question-answer" or "gsm8k" => SchemaKind.QuestionAnswer,
            "problem-solution" or "math" => SchemaKind.ProblemSolution,
            _ => throw new ReasonSharpException(
                $"--schema: unknown schema '{name}'; expected messages, sharegpt, prompt-completion, " +
                    $"question-answer or problem-solution"),
        },
    };
}
