using ReasonSharp.Tokenization;

namespace ReasonSharp.Serving;

/// <summary>
/// What <see cref="OpenAiServer"/> needs from an engine: the chat template and tokenizer that render and encode
/// prompts, the context length and stop tokens, and a queue that runs <see cref="InferenceRequest"/>s and sends their
/// choices' tokens back as <see cref="ChoiceUpdate"/>s. The HTTP layer (parsing, errors, stop strings, the split of
/// reasoning_content, usage, streaming) is the same for every backend. Disposing it ends the requests in flight.
/// </summary>
public interface IInferenceBackend : IDisposable
{
    /// <summary>Renders chat prompts as training rendered them.</summary>
    ChatFormat Chat { get; }
    /// <summary>Prompt and completion tokens together may not exceed it.</summary>
    int ContextLength { get; }
    /// <summary>Tokens that end a choice (unless the request sets ignore_eos).</summary>
    IReadOnlyList<int> StopTokenIds { get; }
    /// <summary>Null when the backend reports log-probabilities; else why it does not (the 400's message).</summary>
    string? LogProbsUnsupported { get; }
    /// <summary>How requests run, for logs: e.g. "continuous batching, max_batch 32".</summary>
    string Batching { get; }
    /// <summary>Requests waiting to run.</summary>
    int Waiting { get; }
    /// <summary>Sequences being decoded.</summary>
    int Running { get; }
    /// <summary>Token ids of a prompt text (special tokens written in it are parsed as such).</summary>
    int[] Encode(string text);
    /// <summary>Queues a request; false when max_queue requests are already waiting.</summary>
    bool TrySubmit(InferenceRequest request);
}
