namespace ReasonSharp.Tokenization;

/// <summary>Options of one rendering, named after the chat templates' own variables.</summary>
public sealed record ChatRenderOptions
{
    /// <summary>Append the header that opens the assistant's next turn (`add_generation_prompt`).</summary>
    public bool AddGenerationPrompt { get; init; }
    /// <summary>Qwen3's `enable_thinking`; in the dual-mode format the default mode, which `/think` or `/no_think` in the system message overrides.</summary>
    public bool EnableThinking { get; init; } = true;
    /// <summary>Llama-3.1+ "Today Date" line; null takes the template's own default.</summary>
    public string? DateString { get; init; }
}

/// <summary>A rendered conversation: its token ids, which of them belong to assistant turns, and the text they encode.</summary>
public sealed record ChatEncoding(int[] InputIds, bool[] AssistantMask, string Text);
