using System.Text.Json;

namespace ReasonSharp.Data;

/// <summary>
/// The one internal training example every schema becomes. <see cref="Messages"/> is the conversation
/// (optional system, user, assistant…); prompt-only rows (GRPO) have no assistant turn. <see cref="Extra"/> holds every
/// column that was not turned into messages (the raw gold column included), <see cref="Source"/> says "file line N".
/// </summary>
public sealed record Example(
    IReadOnlyList<ChatMessage> Messages,
    string? GoldAnswer,
    IReadOnlyDictionary<string, JsonElement> Extra,
    string Source)
{
    public bool HasAssistantTurn => Messages.Any(m => m.IsAssistant);

    /// <summary>The prompt for generation: everything before the final assistant turn (all messages when there is
    /// none).</summary>
    public IReadOnlyList<ChatMessage> Prompt =>
        Messages.Count > 0 && Messages[^1].IsAssistant ? Messages.Take(Messages.Count - 1).ToList() : Messages;

    /// <summary>The final assistant turn's text, or null for prompt-only examples.</summary>
    public string? Completion => Messages.Count > 0 && Messages[^1].IsAssistant ? Messages[^1].Content : null;

    public Example WithMessages(IReadOnlyList<ChatMessage> messages) => this with { Messages = messages };
}
