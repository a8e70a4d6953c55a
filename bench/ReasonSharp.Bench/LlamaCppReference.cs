using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace ReasonSharp.Export;

/// <summary>Greedy tokens per prompt and the time llama.cpp spent on the prompts (one batch) and on the decode
/// steps.</summary>
public sealed record LlamaCppGreedyResult(IReadOnlyList<int[]> Tokens, TimeSpan Prefill, TimeSpan Decode)
{
    public double DecodeTokensPerSecond => Tokens.Sum(t => t.Length) / Decode.TotalSeconds;
}

/// <summary>
/// llama.cpp (through LLamaSharp's native API) as an independent reference: loads a GGUF, returns logits at every
/// position of a token sequence, and greedily decodes a batch of prompts with llama.cpp's own batched decoding (one
/// sequence id per prompt in each llama_batch). Token ids go in directly; no text is tokenized. Needs a LLamaSharp
/// backend package (e.g. LLamaSharp.Backend.Cpu) in the running application.
/// </summary>
public sealed class LlamaCppReference : IDisposable
{
    static readonly object LogGate = new();
    static readonly Queue<string> RecentErrors = new();
    static bool _logHooked;

    readonly LLamaWeights _weights;
    readonly LLamaContext _context;

    public string Path { get; }
    public int VocabSize { get; }
    public int ContextSize { get; }
    public int MaxSequences { get; }

    LlamaCppReference(string path, LLamaWeights weights, LLamaContext context, int contextSize, int maxSequences)
    {
        (Path, _weights, _context, ContextSize, MaxSequences) = (path, weights, context, contextSize, maxSequences);
        VocabSize = weights.NativeHandle.Vocab.Count;
    }

    /// <param name="contextSize">KV cells for all sequences together.</param>
    /// <param name="maxSequences">Most prompts decoded together by <see cref="GreedyBatch"/>.</param>
    /// <param name="f32Cache">Keep the KV cache in float32 (llama.cpp's default is f16), for exact comparisons.</param>
    public static LlamaCppReference Load(string ggufPath, int threads, int contextSize = 512, int maxSequences = 1,
        bool f32Cache = true)
    {
        if (!File.Exists(ggufPath)) throw new ReasonSharpException($"{ggufPath}: GGUF file not found");
        HookLog();
        // One llama_batch may hold the whole context; llama.cpp computes it in micro-batches of 512 (its default),
        // which keeps the compute buffer small even for large vocabularies.
        uint batch = (uint)Math.Max(contextSize, 32);
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = (uint)contextSize,
            BatchSize = batch,
            UBatchSize = Math.Min(batch, 512u),
            SeqMax = (uint)maxSequences,
            KVUnified = true,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            FlashAttention = false,
            TypeK = f32Cache ? GGMLType.GGML_TYPE_F32 : GGMLType.GGML_TYPE_F16,
            TypeV = f32Cache ? GGMLType.GGML_TYPE_F32 : GGMLType.GGML_TYPE_F16,
        };
        LLamaWeights? weights = null;
        try
        {
            weights = LLamaWeights.LoadFromFile(parameters);
            var context = weights.CreateContext(parameters);
            return new LlamaCppReference(ggufPath, weights, context, contextSize, maxSequences);
        }
        catch (Exception e) when (e is not ReasonSharpException)
        {
            weights?.Dispose();
            throw new ReasonSharpException($"{ggufPath}: llama.cpp could not load the file: {e.Message}{LastErrors()}",
                e);
        }
    }

    /// <summary>Logits [position][vocab] for <paramref name="tokens"/> decoded from position 0 in one batch.</summary>
    public float[][] Logits(IReadOnlyList<int> tokens)
    {
        if (tokens.Count > ContextSize) throw new ArgumentException($"{tokens.Count} tokens exceed the context " +
            $"size {ContextSize}");
        var handle = _context.NativeHandle;
        handle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, logits: true);
        Decode(batch);
        return Enumerable.Range(0, tokens.Count).Select(i => handle.GetLogitsIth(i).ToArray()).ToArray();
    }

    /// <summary>
    /// Greedy continuation of <paramref name="newTokens"/> tokens for each prompt (never stopping early): all prompts
    /// in one batch, then one batch per step holding each sequence's last token.
    /// </summary>
    public LlamaCppGreedyResult GreedyBatch(IReadOnlyList<IReadOnlyList<int>> prompts, int newTokens)
    {
        if (prompts.Count == 0 || prompts.Count > MaxSequences) throw new ArgumentException($"1 to {MaxSequences} " +
            $"prompts, got {prompts.Count}");
        if (prompts.Sum(p => p.Count + newTokens) > ContextSize)
            throw new ArgumentException($"prompts and {newTokens} new tokens each need " +
                $"{prompts.Sum(p => p.Count + newTokens)} KV cells; the context holds {ContextSize}");
        var handle = _context.NativeHandle;
        handle.MemoryClear(true);
        var outputs = prompts.Select(_ => new int[newTokens]).ToArray();
        var logitIndex = new int[prompts.Count];
        var batch = new LLamaBatch();

        var clock = Stopwatch.StartNew();
        for (int s = 0; s < prompts.Count; s++)
            for (int i = 0; i < prompts[s].Count; i++)
            {
                int index = batch.Add(prompts[s][i], i, (LLamaSeqId)s, logits: i == prompts[s].Count - 1);
                if (i == prompts[s].Count - 1) logitIndex[s] = index;
            }
        Decode(batch);
        var prefill = clock.Elapsed;

        clock.Restart();
        for (int step = 0; step < newTokens; step++)
        {
            for (int s = 0; s < prompts.Count; s++) outputs[s][step] = ArgMax(handle.GetLogitsIth(logitIndex[s]));
            if (step == newTokens - 1) break;
            batch.Clear();
            for (int s = 0; s < prompts.Count; s++)
                logitIndex[s] = batch.Add(outputs[s][step], prompts[s].Count + step, (LLamaSeqId)s, logits: true);
            Decode(batch);
        }
        return new LlamaCppGreedyResult(outputs, prefill, clock.Elapsed);
    }

    void Decode(LLamaBatch batch)
    {
        var result = _context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok) throw new ReasonSharpException($"{Path}: llama_decode failed with " +
            $"{result}{LastErrors()}");
        _context.NativeHandle.Synchronize();
    }

    static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>Silences llama.cpp's chatter but keeps its last warnings and errors for the messages of
    /// failures.</summary>
    static void HookLog()
    {
        lock (LogGate)
        {
            if (_logHooked) return;
            NativeLogConfig.llama_log_set((level, message) =>
            {
                if (level is not (LLamaLogLevel.Error or LLamaLogLevel.Warning)) return;
                lock (RecentErrors)
                {
                    RecentErrors.Enqueue(message.TrimEnd());
                    while (RecentErrors.Count > 8) RecentErrors.Dequeue();
                }
            });
            _logHooked = true;
        }
    }

    static string LastErrors()
    {
        lock (RecentErrors) return RecentErrors.Count == 0 ? "" : "\n  llama.cpp: "
            + string.Join("\n  llama.cpp: ", RecentErrors);
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
