using ReasonSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Generation;

/// <summary>A sampled token with its log-probability and the most likely alternatives (raw model
/// distribution).</summary>
public sealed record TokenLogProb(int TokenId, float LogProb, IReadOnlyList<(int TokenId, float LogProb)> Top);

/// <summary>
/// One sequence of a <see cref="ContinuousBatch"/>: its prompt, its own sampling settings (temperature, top-p, seed,
/// max_new_tokens, eos ids; stop strings are the caller's) and what it has generated so far.
/// </summary>
public sealed class BatchSequence(int[] promptIds, SamplingOptions options, int topLogProbs = -1)
{
    public int[] PromptIds { get; } = promptIds;
    public SamplingOptions Options { get; } = options;
    /// <summary>Alternatives per token to report (0: only the sampled token's log-probability; −1: none).</summary>
    public int TopLogProbs { get; } = topLogProbs;
    public List<int> CompletionIds { get; } = [];
    /// <summary>Per completion token, when <see cref="TopLogProbs"/> ≥ 0.</summary>
    public List<TokenLogProb> LogProbs { get; } = [];
    public FinishReason? Finish { get; internal set; }
    /// <summary>Taken out by the caller (a stop string, a client gone); it leaves the batch before the next
    /// step.</summary>
    public bool Left { get; private set; }
    public bool Done => Finish is not null || Left;

    internal torch.Generator? Generator;
    internal KvCache? OwnCache;
    /// <summary>Cache positions this sequence fills: its prompt and every completion token fed back so far.</summary>
    internal int Occupied;

    internal void Leave() => Left = true;
}

/// <summary>
/// Continuous batching: sequences join and leave a running batch between decode steps. A joining sequence is
/// prefilled alone (as <see cref="GenerationEngine"/> does a single prompt) and samples its first token at once; at
/// the next step the batch's KV cache is rebuilt with it (<see cref="KvCache.Gather"/>, right-aligned, left-masked)
/// and without the finished rows. Each sequence samples with its own settings and random generator. The cache holds
/// at most <paramref name="capacityStep"/> positions beyond the longest row and grows by rebuilding, so that a long
/// max_new_tokens costs memory only when used. Use it from one thread.
/// </summary>
public sealed class ContinuousBatch(CausalLM model, int capacityStep = 256) : IDisposable
{
    const int PrefillTokens = 512;

    readonly List<BatchSequence> rows = [];
    readonly List<BatchSequence> joining = [];
    KvCache? cache;
    Tensor? mask;
    bool padded;

    public CausalLM Model => model;
    /// <summary>Sequences running or about to join (not done).</summary>
    public int Count => rows.Count(r => !r.Done) + joining.Count(r => !r.Done);
    /// <summary>The rows of the last step's forward.</summary>
    public int RunningRows => rows.Count;

    /// <summary>Prefills <paramref name="sequence"/> alone and samples its first token; it joins at the next
    /// step.</summary>
    public void Add(BatchSequence sequence)
    {
        var o = sequence.Options;
        o.Validate();
        if (o.RepetitionPenalty != 1.0)
            throw new ReasonSharpException("repetition_penalty is not supported in a continuous batch");
        if (sequence.PromptIds.Length == 0) throw new ReasonSharpException("every prompt needs at least one token");
        if (sequence.PromptIds.Length + o.MaxNewTokens > model.Config.MaxPositionEmbeddings)
            throw new ReasonSharpException(
                $"prompt ({sequence.PromptIds.Length} tokens) + max_new_tokens ({o.MaxNewTokens}) "
                + $"exceeds the model's max_position_embeddings ({model.Config.MaxPositionEmbeddings})");
        using var noGrad = no_grad();
        model.eval();
        sequence.Generator = o.IsGreedy ? null : new torch.Generator((ulong)o.Seed, model.Device);
        int length = sequence.PromptIds.Length;
        var own = model.NewCache(1, length);
        try
        {
            using var scope = NewDisposeScope();
            var ids = tensor(sequence.PromptIds.Select(t => (long)t).ToArray(), [1, length], device: model.Device);
            var positions = arange(0L, length, device: model.Device).unsqueeze(0);
            Tensor logits = null!;
            for (int start = 0; start < length; start += PrefillTokens)
            {
                int count = Math.Min(PrefillTokens, length - start);
                var hidden = model.Model.Forward(ids.narrow(1, start, count), positions.narrow(1, start, count),
                    null, cache: own);
                if (start + count == length) logits = model.Logits(hidden.select(1, -1));
            }
            sequence.Occupied = length;
            Take(sequence, logits, 0);
        }
        catch
        {
            own.Dispose();
            sequence.Generator?.Dispose();
            throw;
        }
        if (sequence.Done) Release(sequence, own);
        else
        {
            sequence.OwnCache = own;
            joining.Add(sequence);
        }
    }

    /// <summary>Takes a sequence out (a stop string hit, a client gone); it leaves before the next step.</summary>
    public void Remove(BatchSequence sequence) => sequence.Leave();

    /// <summary>One decode step: done rows leave, prefilled ones join, and every row samples one more token.</summary>
    public void Step()
    {
        using var noGrad = no_grad();
        Regroup(force: cache is not null && cache.Length >= cache.Capacity);
        if (rows.Count == 0) return;
        using var scope = NewDisposeScope();
        var device = model.Device;
        int batch = rows.Count;
        var input = tensor(rows.Select(r => (long)r.CompletionIds[^1]).ToArray(), [batch, 1], device: device);
        var position = tensor(rows.Select(r => (long)r.Occupied).ToArray(), [batch, 1], device: device);
        int length = cache!.Length;
        Tensor? attention = null;
        if (padded)
        {
            mask!.narrow(1, length, 1).fill_(HeldScalars.One);
            attention = mask.narrow(1, 0, length + 1);
        }
        var hidden = model.Model.Forward(input, position, attention, cache: cache);
        var logits = model.Logits(hidden.select(1, -1));
        for (int i = 0; i < batch; i++)
        {
            rows[i].Occupied++;
            Take(rows[i], logits, i);
        }
    }

    /// <summary>Samples row <paramref name="index"/> of <paramref name="logits"/> for the sequence, then checks eos
    /// and length.</summary>
    static void Take(BatchSequence sequence, Tensor logits, int index)
    {
        using var scope = NewDisposeScope();
        var row = logits.narrow(0, index, 1);
        var (tokens, _) = Sampler.Sample(row, sequence.Options, null, sequence.Generator);
        int token = (int)tokens[0];
        sequence.CompletionIds.Add(token);
        if (sequence.TopLogProbs >= 0)
        {
            var logProbs = row.to(float32).log_softmax(-1).squeeze(0);
            var chosen = logProbs[token].item<float>();
            var top = new List<(int, float)>();
            if (sequence.TopLogProbs > 0)
            {
                var (values, ids) = logProbs.topk(Math.Min(sequence.TopLogProbs, (int)logProbs.shape[0]));
                var v = values.cpu().data<float>().ToArray();
                var t = ids.cpu().data<long>().ToArray();
                for (int k = 0; k < v.Length; k++) top.Add(((int)t[k], v[k]));
            }
            sequence.LogProbs.Add(new TokenLogProb(token, chosen, top));
        }
        if (sequence.Options.EosTokenIds.Contains(token)) sequence.Finish = FinishReason.Stop;
        else if (sequence.CompletionIds.Count >= sequence.Options.MaxNewTokens) sequence.Finish = FinishReason.Length;
    }

    /// <summary>Rebuilds the cache when rows left or joined, or it is full: the rows that go on, then the joining
    /// ones.</summary>
    void Regroup(bool force)
    {
        bool leaving = rows.Any(r => r.Done);
        joining.RemoveAll(s =>
        {
            if (!s.Done) return false;
            Release(s, s.OwnCache);
            return true;
        });
        if (!leaving && joining.Count == 0 && !force) return;
        var kept = rows.Select((r, i) => (Row: r, Index: i)).Where(x => !x.Row.Done).ToList();
        foreach (var r in rows.Where(r => r.Done)) Release(r, null);
        var sources = kept.Select(x => (cache!, x.Index, x.Row.Occupied))
            .Concat(joining.Select(s => (s.OwnCache!, 0, s.Occupied))).ToList();
        var members = kept.Select(x => x.Row).Concat(joining).ToList();
        KvCache? next = null;
        if (members.Count > 0)
        {
            int length = members.Max(m => m.Occupied);
            int capacity = length
                + Math.Min(capacityStep, members.Max(m => m.Options.MaxNewTokens - m.CompletionIds.Count)) + 1;
            next = KvCache.Gather(model.Config, sources, length, capacity, model.Device, model.LmHeadWeight.dtype);
            padded = members.Any(m => m.Occupied != length);
            mask?.Dispose();
            mask = null;
            if (padded)
            {
                var values = new long[members.Count * capacity];
                for (int r = 0; r < members.Count; r++)
                    Array.Fill(values, 1L, r * capacity + length - members[r].Occupied, members[r].Occupied);
                mask = tensor(values, [members.Count, capacity], device: model.Device).DetachFromDisposeScope();
            }
        }
        cache?.Dispose();
        foreach (var s in joining)
        {
            s.OwnCache!.Dispose();
            s.OwnCache = null;
        }
        joining.Clear();
        cache = next;
        rows.Clear();
        rows.AddRange(members);
    }

    static void Release(BatchSequence sequence, KvCache? own)
    {
        own?.Dispose();
        sequence.OwnCache = null;
        sequence.Generator?.Dispose();
        sequence.Generator = null;
    }

    public void Dispose()
    {
        foreach (var s in rows.Concat(joining)) Release(s, s.OwnCache);
        rows.Clear();
        joining.Clear();
        cache?.Dispose();
        mask?.Dispose();
    }
}
