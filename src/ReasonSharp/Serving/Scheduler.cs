using System.Text;
using System.Threading.Channels;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Serving;

/// <summary>A token of a choice as OpenAI's logprobs report it: its text, its UTF-8 bytes and its
/// log-probability.</summary>
public sealed record TokenInfo(string Token, byte[] Bytes, float LogProb);

/// <summary>A token's log-probability entry with its alternatives.</summary>
public sealed record TokenLogProbInfo(TokenInfo Chosen, IReadOnlyList<TokenInfo> Top);

/// <summary>What one choice gained since its last update; FinishReason is set on its last one (stop or
/// length).</summary>
public sealed record ChoiceUpdate(int Index, string Reasoning, string Content,
    IReadOnlyList<TokenLogProbInfo> LogProbs, string? FinishReason, int CompletionTokens);

/// <summary>One HTTP request's work for the scheduler: its choices (prompt × n), settings, and where updates
/// go.</summary>
public sealed class InferenceRequest
{
    /// <summary>Choices in order: each prompt's n choices, one after the other.</summary>
    public required IReadOnlyList<int[]> ChoicePrompts { get; init; }
    /// <summary>Per choice: the prompt already opened a think block (the template's generation prompt ends in
    /// it).</summary>
    public required IReadOnlyList<bool> ThinkingOpen { get; init; }
    /// <summary>Per choice: its sampling settings (seed included).</summary>
    public required IReadOnlyList<SamplingOptions> Sampling { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public int TopLogProbs { get; init; } = -1;
    public bool SplitReasoning { get; init; }
    public CancellationToken Cancellation { get; init; }
    public Channel<ChoiceUpdate> Updates { get; } =
        Channel.CreateUnbounded<ChoiceUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    internal BatchSequence[] Sequences = [];
    internal ChoiceText[] Texts = [];
    internal int[] Published = [];
    internal bool[] Finished = [];
}

/// <summary>
/// The thread that owns the model: it admits queued requests into a <see cref="ContinuousBatch"/> (up to max_batch
/// sequences), runs decode steps, and hands each choice's new text to its request. A request whose client is gone
/// leaves the batch before the next step; requests beyond max_queue waiting are refused.
/// </summary>
public sealed class Scheduler : IInferenceBackend
{
    readonly LanguageModel model;
    readonly int maxBatch;
    readonly Action<string> log;
    readonly RequestQueue queue;
    readonly List<InferenceRequest> active = [];
    ContinuousBatch batch;
    int running;

    public Scheduler(LanguageModel model, int maxBatch, int maxQueue, Action<string> log)
    {
        (this.model, this.maxBatch, this.log) = (model, maxBatch, log);
        queue = new RequestQueue(maxQueue);
        batch = new ContinuousBatch(model.Model);
        queue.Start(Run, "reason serve scheduler");
    }

    /// <summary>Requests waiting to join the batch.</summary>
    public int Waiting => queue.Waiting;
    /// <summary>Sequences in the batch.</summary>
    public int Running => Volatile.Read(ref running);
    public int MaxBatch => maxBatch;
    public ChatFormat Chat => model.Chat;
    public int ContextLength => model.Model.Config.MaxPositionEmbeddings;
    public IReadOnlyList<int> StopTokenIds => model.StopTokenIds;
    public string? LogProbsUnsupported => null;
    public string Batching => $"continuous batching, max_batch {maxBatch}";
    public int[] Encode(string text) => model.Tokenizer.Encode(text);

    /// <summary>Queues a request; false when max_queue requests are already waiting.</summary>
    public bool TrySubmit(InferenceRequest request)
    {
        if (request.ChoicePrompts.Count > maxBatch)
            throw new OpenAiError(400,
                $"n × prompts = {request.ChoicePrompts.Count} choices exceed the server's max_batch ({maxBatch})",
                param: "n");
        return queue.TrySubmit(request);
    }

    void Run()
    {
        while (!queue.Stopping)
        {
            try
            {
                Admit();
                if (active.Count == 0)
                {
                    queue.Wait();
                    continue;
                }
                foreach (var request in active.Where(r => r.Cancellation.IsCancellationRequested).ToList())
                {
                    foreach (var sequence in request.Sequences) batch.Remove(sequence);
                    Complete(request, new OperationCanceledException("the client went away"));
                }
                batch.Step();
                foreach (var request in active.ToList()) Publish(request);
                Volatile.Write(ref running, batch.Count);
            }
            catch (OperationCanceledException) when (queue.Stopping) { break; }
            catch (Exception e)
            {
                log($"serve: generation failed: {e.Message}");
                foreach (var request in active.ToList())
                    Complete(request, new OpenAiError(500, $"generation failed: {e.Message}", "server_error"));
                batch.Dispose();
                batch = new ContinuousBatch(model.Model);
                Volatile.Write(ref running, 0);
            }
        }
        foreach (var request in active.ToList()) Complete(request, RequestQueue.ShuttingDown());
        queue.Drain();
        batch.Dispose();
    }

    void Admit()
    {
        while (queue.TryPeek(out var request))
        {
            int choices = request.ChoicePrompts.Count;
            if (!request.Cancellation.IsCancellationRequested && batch.Count > 0 && batch.Count + choices > maxBatch)
                return;
            queue.TryTake(out _);
            if (request.Cancellation.IsCancellationRequested)
            {
                request.Updates.Writer.TryComplete(new OperationCanceledException("the client went away"));
                continue;
            }
            request.Sequences = new BatchSequence[choices];
            request.Texts = new ChoiceText[choices];
            request.Published = new int[choices];
            request.Finished = new bool[choices];
            active.Add(request);
            try
            {
                for (int c = 0; c < choices; c++)
                {
                    request.Texts[c] =
                        new ChoiceText(Decode, request.Stop, request.SplitReasoning, request.ThinkingOpen[c]);
                    request.Sequences[c] =
                        new BatchSequence(request.ChoicePrompts[c], request.Sampling[c], request.TopLogProbs);
                    batch.Add(request.Sequences[c]);
                }
            }
            catch (ReasonSharpException e)
            {
                foreach (var sequence in request.Sequences.Where(s => s is not null)) batch.Remove(sequence);
                Complete(request, new OpenAiError(400, e.Message));
                continue;
            }
            Publish(request);
            Volatile.Write(ref running, batch.Count);
        }
    }

    string Decode(IReadOnlyList<int> ids) => model.Decode(ids, skipSpecialTokens: true);

    /// <summary>Hands each choice's new tokens to its request; finishes choices that stopped or ran out.</summary>
    void Publish(InferenceRequest request)
    {
        for (int c = 0; c < request.Sequences.Length; c++)
        {
            if (request.Finished[c]) continue;
            var sequence = request.Sequences[c];
            var text = request.Texts[c];
            var reasoning = new StringBuilder();
            var content = new StringBuilder();
            var logProbs = new List<TokenLogProbInfo>();
            while (request.Published[c] < sequence.CompletionIds.Count && !text.Stopped)
            {
                int i = request.Published[c]++;
                var (r, t) = text.Add(sequence.CompletionIds[i]);
                reasoning.Append(r);
                content.Append(t);
                if (request.TopLogProbs >= 0) logProbs.Add(Info(sequence.LogProbs[i]));
            }
            string? finish = null;
            if (text.Stopped)
            {
                batch.Remove(sequence);
                finish = "stop";
            }
            else if (sequence.Finish is { } reason) finish = reason == FinishReason.Stop ? "stop" : "length";
            if (finish is not null)
            {
                var (r, t) = text.Finish();
                reasoning.Append(r);
                content.Append(t);
                request.Finished[c] = true;
            }
            if (reasoning.Length > 0 || content.Length > 0 || logProbs.Count > 0 || finish is not null)
                request.Updates.Writer.TryWrite(new ChoiceUpdate(c, reasoning.ToString(), content.ToString(), logProbs,
                    finish, request.Published[c]));
        }
        if (request.Finished.All(f => f)) Complete(request, null);
    }

    TokenLogProbInfo Info(TokenLogProb entry) =>
        new(Token(entry.TokenId, entry.LogProb), entry.Top.Select(t => Token(t.TokenId, t.LogProb)).ToList());

    TokenInfo Token(int id, float logProb)
    {
        var tokenizer = model.Tokenizer;
        var text = tokenizer.Decode([id]);
        var bytes = tokenizer.Json.AddedTokenAt(id) is null
            ? Tokenization.ByteLevel.TryDecode(tokenizer.IdToToken(id))
            : null;
        return new TokenInfo(text, bytes ?? Encoding.UTF8.GetBytes(text), logProb);
    }

    void Complete(InferenceRequest request, Exception? error)
    {
        active.Remove(request);
        request.Updates.Writer.TryComplete(error);
    }

    public void Dispose()
    {
        queue.Stop();
    }
}
