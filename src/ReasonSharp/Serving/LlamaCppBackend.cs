using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using ReasonSharp.Export;
using ReasonSharp.Native;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Serving;

/// <summary>
/// A GGUF file run by llama.cpp (LLamaSharp, CPU), for quantized deployment. Prompts are rendered with the file's own
/// tokenizer.chat_template through our Jinja engine (as training rendered them, `/think` and `/no_think` included)
/// and tokenized by llama.cpp. One request runs at a time on one thread, its n choices one after the other; others
/// wait in the queue (max_queue, then 429). Sampling (greedy, temperature, top_p, seed) is done here on llama.cpp's
/// logits; log-probabilities (logprobs, top_logprobs) are log_softmax of llama.cpp's logits, as our engine reports
/// them.
/// </summary>
public sealed class LlamaCppBackend : IInferenceBackend
{
    /// <summary>KV cells when the file's training context is longer (the cache is allocated up front).</summary>
    public const int DefaultMaxContext = 8192;

    readonly LLamaWeights weights;
    readonly LLamaContext context;
    readonly string path;
    readonly RequestQueue queue;
    readonly Action<string> log;
    int running;

    public ChatFormat Chat { get; }
    public int ContextLength { get; }
    public IReadOnlyList<int> StopTokenIds { get; }
    public string? LogProbsUnsupported => null;
    public string Batching => "one request at a time (llama.cpp), n choices one after the other";
    public int Waiting => queue.Waiting;
    public int Running => Volatile.Read(ref running);

    LlamaCppBackend(string path, LLamaWeights weights, LLamaContext context, ChatFormat chat, int contextLength,
        int maxQueue, Action<string> log)
    {
        (this.path, this.weights, this.context, Chat, ContextLength, this.log) =
            (path, weights, context, chat, contextLength, log);
        queue = new RequestQueue(maxQueue);
        var vocab = weights.NativeHandle.Vocab;
        StopTokenIds = Enumerable.Range(0, vocab.Count)
            .Where(id => ((LLamaToken)id).IsEndOfGeneration(vocab)).ToArray();
        queue.Start(Run, "reason serve llama.cpp");
    }

    /// <param name="maxContext">Most KV cells (the file's training context if smaller).</param>
    /// <param name="f32Cache">Keep the KV cache in float32 (llama.cpp's default, used otherwise, is f16).</param>
    public static LlamaCppBackend Load(string ggufPath, int maxQueue, Action<string>? log = null,
        int maxContext = DefaultMaxContext, bool f32Cache = false)
    {
        if (!File.Exists(ggufPath)) throw new ReasonSharpException($"model {ggufPath}: GGUF file not found");
        RequestQueue.CheckMaxQueue(maxQueue);
        var metadata = GgufReader.Open(ggufPath).Metadata;
        if (!metadata.TryGetValue("tokenizer.chat_template", out var templateValue) || templateValue is not string
            template)
            throw new ReasonSharpException($"model {ggufPath}: the GGUF has no tokenizer.chat_template; export it "
                + "with `reason export gguf` from a model folder whose tokenizer has a chat template");
        GgufQuantizer.HookLog();
        var parameters = new ModelParams(ggufPath) { GpuLayerCount = 0 };
        LLamaWeights? weights = null;
        try
        {
            weights = LLamaWeights.LoadFromFile(parameters);
            int contextLength = Math.Min(weights.ContextSize, maxContext);
            int threads = ThreadPolicy.RequestedThreads ?? ThreadPolicy.ForModel((long)weights.ParameterCount);
            parameters.ContextSize = (uint)contextLength;
            parameters.BatchSize = (uint)contextLength;
            parameters.UBatchSize = (uint)Math.Min(contextLength, 512);
            parameters.SeqMax = 1;
            parameters.Threads = threads;
            parameters.BatchThreads = threads;
            parameters.TypeK = parameters.TypeV = f32Cache ? GGMLType.GGML_TYPE_F32 : GGMLType.GGML_TYPE_F16;
            var context = weights.CreateContext(parameters);
            var vocab = weights.NativeHandle.Vocab;
            string? Piece(LLamaToken? token) => token is { } t ? Text(weights, [(int)t], special: true) : null;
            var endOfTurn = new[] { Piece(vocab.EOS), Piece(vocab.EOT) }.OfType<string>().ToList();
            var chat = new ChatFormat(template, $"{ggufPath} tokenizer.chat_template", Piece(vocab.BOS),
                Piece(vocab.EOS), endOfTurn);
            return new LlamaCppBackend(ggufPath, weights, context, chat, contextLength, maxQueue, log ?? (_ => { }));
        }
        catch (Exception e) when (e is not ReasonSharpException)
        {
            weights?.Dispose();
            throw new ReasonSharpException($"model {ggufPath}: llama.cpp could not load the file: {e.Message}"
                + string.Concat(GgufQuantizer.LastWarnings().Select(w => "; llama.cpp: " + w)), e);
        }
    }

    public int[] Encode(string text) =>
        weights.Tokenize(text, add_bos: false, special: true, Encoding.UTF8).Select(t => (int)t).ToArray();

    /// <summary>The UTF-8 bytes of one token's text (none for a control token).</summary>
    static byte[] Bytes(LLamaWeights weights, int id)
    {
        Span<byte> piece = stackalloc byte[256];
        int n = (int)weights.NativeHandle.TokenToSpan((LLamaToken)id, piece, 0, false);
        if (n <= piece.Length) return piece[..n].ToArray();
        var large = new byte[n];
        weights.NativeHandle.TokenToSpan((LLamaToken)id, large, 0, false);
        return large;
    }

    /// <summary>The text of tokens; control tokens are left out unless <paramref name="special"/>.</summary>
    static string Text(LLamaWeights weights, IReadOnlyList<int> ids, bool special)
    {
        var bytes = new List<byte>();
        Span<byte> piece = stackalloc byte[256];
        foreach (var id in ids)
        {
            int n = (int)weights.NativeHandle.TokenToSpan((LLamaToken)id, piece, 0, special);
            if (n > piece.Length)
            {
                var large = new byte[n];
                weights.NativeHandle.TokenToSpan((LLamaToken)id, large, 0, special);
                bytes.AddRange(large);
            }
            else bytes.AddRange(piece[..n].ToArray());
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public bool TrySubmit(InferenceRequest request) => queue.TrySubmit(request);

    void Run()
    {
        while (!queue.Stopping)
        {
            if (!queue.TryTake(out var request))
            {
                try { queue.Wait(); }
                catch (OperationCanceledException) { break; }
                continue;
            }
            Exception? error = null;
            try
            {
                for (int c = 0; c < request.ChoicePrompts.Count && error is null; c++) error = RunChoice(request, c);
            }
            catch (Exception e)
            {
                log($"serve: generation failed: {e.Message}");
                error = new OpenAiError(500, $"generation failed: {e.Message}", "server_error");
            }
            Volatile.Write(ref running, 0);
            request.Updates.Writer.TryComplete(error);
        }
        queue.Drain();
    }

    /// <summary>Decodes one choice to its end; an error to end the request with, or null.</summary>
    Exception? RunChoice(InferenceRequest request, int c)
    {
        var prompt = request.ChoicePrompts[c];
        var sampling = request.Sampling[c];
        var text = new ChoiceText(ids => Text(weights, ids, special: false), request.Stop, request.SplitReasoning,
            request.ThinkingOpen[c]);
        var random = new Random(unchecked((int)(sampling.Seed ^ (sampling.Seed >> 32))));
        var eos = sampling.EosTokenIds.ToHashSet();
        var handle = context.NativeHandle;
        handle.MemoryClear(true);
        var batch = new LLamaBatch();
        int last = 0;
        for (int i = 0; i < prompt.Length; i++)
            last = batch.Add((LLamaToken)prompt[i], i, LLamaSeqId.Zero, logits: i == prompt.Length - 1);
        Volatile.Write(ref running, 1);
        Decode(batch);
        int produced = 0;
        var logProbs = new List<TokenLogProbInfo>();
        while (true)
        {
            if (request.Cancellation.IsCancellationRequested)
                return new OperationCanceledException("the client went away");
            if (queue.Stopping) return RequestQueue.ShuttingDown();
            var logits = handle.GetLogitsIth(last);
            int token = Sample(logits, sampling, random);
            if (request.TopLogProbs >= 0) logProbs.Add(LogProbs(logits, token, request.TopLogProbs));
            produced++;
            var (reasoning, content) = text.Add(token);
            string? finish = text.Stopped || eos.Contains(token) ? "stop"
                : produced >= sampling.MaxNewTokens ? "length" : null;
            if (finish is not null)
            {
                var (r, t) = text.Finish();
                (reasoning, content) = (reasoning + r, content + t);
            }
            if (reasoning.Length > 0 || content.Length > 0 || finish is not null)
            {
                request.Updates.Writer.TryWrite(new ChoiceUpdate(c, reasoning, content, logProbs.ToList(), finish,
                    produced));
                logProbs.Clear();
            }
            if (finish is not null) return null;
            batch.Clear();
            last = batch.Add((LLamaToken)token, prompt.Length + produced - 1, LLamaSeqId.Zero, logits: true);
            Decode(batch);
        }
    }

    void Decode(LLamaBatch batch)
    {
        var result = context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok)
            throw new ReasonSharpException($"{path}: llama_decode failed with {result}"
                + string.Concat(GgufQuantizer.LastWarnings().Select(w => "; llama.cpp: " + w)));
    }

    /// <summary>The chosen token's log-probability and the <paramref name="top"/> most likely tokens':
    /// log_softmax of the logits (no temperature), as OpenAI and our engine report them.</summary>
    TokenLogProbInfo LogProbs(ReadOnlySpan<float> logits, int chosen, int top)
    {
        double max = double.NegativeInfinity;
        foreach (var l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        double logZ = max + Math.Log(sum);
        var best = new List<int>(top + 1);
        for (int i = 0; i < logits.Length && top > 0; i++)
        {
            int at = best.Count;
            while (at > 0 && logits[best[at - 1]] < logits[i]) at--;
            if (at < top) best.Insert(at, i);
            if (best.Count > top) best.RemoveAt(top);
        }
        TokenInfo Info(int id, float logit)
        {
            var bytes = Bytes(weights, id);
            return new TokenInfo(Encoding.UTF8.GetString(bytes), bytes, (float)(logit - logZ));
        }
        var topInfos = new List<TokenInfo>(best.Count);
        foreach (var i in best) topInfos.Add(Info(i, logits[i]));
        return new TokenLogProbInfo(Info(chosen, logits[chosen]), topInfos);
    }

    /// <summary>Greedy (argmax) or, with sampling, top-p sampling of softmax(logits / temperature).</summary>
    static int Sample(ReadOnlySpan<float> logits, Generation.SamplingOptions sampling, Random random)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        if (sampling.IsGreedy) return best;
        var probabilities = new (int Id, double P)[logits.Length];
        double sum = 0, max = logits[best];
        for (int i = 0; i < logits.Length; i++)
        {
            var p = Math.Exp((logits[i] - max) / sampling.Temperature);
            probabilities[i] = (i, p);
            sum += p;
        }
        Array.Sort(probabilities, (a, b) => b.P.CompareTo(a.P));
        int keep = 0;
        double kept = 0;
        while (keep < probabilities.Length && (keep == 0 || kept < sampling.TopP * sum))
            kept += probabilities[keep++].P;
        double draw = random.NextDouble() * kept;
        for (int i = 0; i < keep; i++)
        {
            draw -= probabilities[i].P;
            if (draw <= 0) return probabilities[i].Id;
        }
        return probabilities[keep - 1].Id;
    }

    public void Dispose()
    {
        queue.Stop();
        context.Dispose();
        weights.Dispose();
    }
}
