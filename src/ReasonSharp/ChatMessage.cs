namespace ReasonSharp;

/// <summary>One turn of a conversation. Roles are the OpenAI/TRL ones: system, user, assistant, tool.</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public const string System = "system";
    public const string User = "user";
    public const string Assistant = "assistant";
    public const string Tool = "tool";

    public static ChatMessage FromSystem(string content) => new(System, content);
    public static ChatMessage FromUser(string content) => new(User, content);
    public static ChatMessage FromAssistant(string content) => new(Assistant, content);

    public bool IsAssistant => Role == Assistant;
}
