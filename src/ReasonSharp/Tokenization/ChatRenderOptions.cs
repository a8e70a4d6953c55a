namespace ReasonSharp.Tokenization;

/// <summary>Options of one rendering, named after the chat templates' own variables.</summary>
public sealed record ChatRenderOptions
{
    /// <summary>Append the header that opens the assistant's next turn (`add_generation_prompt`).</summary>
    public bool AddGenerationPrompt { get; init; }
    /// <summary>`enable_thinking` (Qwen3, SmolLM3, ReasonSharp's dual-mode template); null leaves it undefined, which
    /// those templates read as on.</summary>
    public bool? EnableThinking { get; init; }
    /// <summary>More template variables (transformers' chat_template_kwargs: tools, documents, date_string …); they
    /// win over the tokenizer's special tokens, and EnableThinking wins over an enable_thinking here.</summary>
    public IReadOnlyDictionary<string, object?>? ChatTemplateKwargs { get; init; }
    /// <summary>The clock strftime_now reads (Llama 3's "Today Date", Granite's); null: now.</summary>
    public Func<DateTime>? Now { get; init; }
}

/// <summary>A rendered conversation: its token ids, which of them belong to assistant turns, and the text they
/// encode.</summary>
public sealed record ChatEncoding(int[] InputIds, bool[] AssistantMask, string Text);
