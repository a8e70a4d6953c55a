using System.Diagnostics;
using ReasonSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Generation;

/// <summary>
/// Batched generation with a preallocated KV cache. Prompts are left-padded; each row finishes on an eos id, a stop string
/// or max_new_tokens, and finished rows are dropped from the batch so they stop costing compute.
/// </summary>
public sealed class GenerationEngine(CausalLM model, Func<IReadOnlyList<int>, bool, string>? decode = null)
{
    /// <summary>Rows are compacted once this fraction of the batch has finished (or the batch is small).</summary>
    const double CompactFraction = 0.25;
    /// <summary>Prompt tokens (rows × positions) per prefill forward, as llama.cpp's micro-batch: bounds the activation memory.</summary>
    const int PrefillTokens = 512;

    public CausalLM Model => model;
    public GenerationStats? LastStats { get; private set; }

    sealed class Row(int index, int[] prompt)
    {
        public readonly int Index = index;
        public readonly int[] Prompt = prompt;
        public readonly List<int> Completion = [];
        public readonly List<float> LogProbs = [];
        public FinishReason? Finish;
        public TimeSpan Elapsed;
        public int StreamedLength;
    }

    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<int[]> prompts, SamplingOptions options,
        Action<TokenEvent>? onToken = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (prompts.Count == 0)
        {
            LastStats = new GenerationStats(0, 0, 0, TimeSpan.Zero, TimeSpan.Zero);
            return [];
        }
        if (prompts.Any(p => p.Length == 0)) throw new ReasonSharpException("every prompt needs at least one token");
        if ((options.StopStrings.Count > 0 || onToken is not null) && decode is null)
            throw new ReasonSharpException("stop strings and streaming need a tokenizer to decode text");
        int maxPrompt = prompts.Max(p => p.Length);
        if (maxPrompt + options.MaxNewTokens > model.Config.MaxPositionEmbeddings)
            throw new ReasonSharpException($"prompt ({maxPrompt} tokens) + max_new_tokens ({options.MaxNewTokens}) exceeds the model's max_position_embeddings ({model.Config.MaxPositionEmbeddings})");

        var stops = new StopStrings(options.StopStrings, ids => decode!(ids, options.SkipSpecialTokens));
        var rows = prompts.Select((p, i) => new Row(i, p)).ToList();
        var clock = Stopwatch.StartNew();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var generator = options.IsGreedy ? null : new torch.Generator((ulong)options.Seed, model.Device);
            Decode(rows, options, stops, generator, onToken, clock, cancellationToken);
        }
        finally
        {
            if (wasTraining) model.train();
        }

        return rows.Select(r =>
        {
            var text = decode is null ? "" : decode(r.Completion, options.SkipSpecialTokens);
            if (stops.Any && r.Finish == FinishReason.Stop) text = stops.Truncate(text);
            return new GenerationResult(r.Prompt, r.Completion.ToArray(), text, r.LogProbs.ToArray(), r.Finish ?? FinishReason.Length, r.Elapsed);
        }).ToList();
    }

    void Decode(List<Row> rows, SamplingOptions options, StopStrings stops, torch.Generator? generator, Action<TokenEvent>? onToken,
        Stopwatch clock, CancellationToken cancellationToken)
    {
        var device = model.Device;
        int batch = rows.Count, promptLength = rows.Max(r => r.Prompt.Length);
        int capacity = promptLength + options.MaxNewTokens;
        bool padded = rows.Any(r => r.Prompt.Length != promptLength);
        var eos = options.EosTokenIds.ToHashSet();

        var ids = new long[batch * promptLength];
        var mask = new long[batch * capacity];
        var positions = new long[batch * promptLength];
        var nextPosition = new long[batch];
        for (int b = 0; b < batch; b++)
        {
            var prompt = rows[b].Prompt;
            int pad = promptLength - prompt.Length;
            for (int t = 0; t < prompt.Length; t++)
            {
                ids[b * promptLength + pad + t] = prompt[t];
                mask[b * capacity + pad + t] = 1;
                positions[b * promptLength + pad + t] = t;
            }
            nextPosition[b] = prompt.Length;
        }

        using var cache = model.NewCache(batch, capacity);
        var attention = padded ? tensor(mask, [batch, capacity], device: device).DetachFromDisposeScope() : null;
        var seen = options.RepetitionPenalty != 1.0 ? SeenTokens(rows, device) : null;
        var active = rows.ToList();
        var prefillTime = TimeSpan.Zero;
        int generated = 0;
        Tensor logits = null!;
        using (var scope = NewDisposeScope())
        {
            var promptIds = tensor(ids, [batch, promptLength], device: device);
            var promptPositions = tensor(positions, [batch, promptLength], device: device);
            // The prompts go through in slices of about PrefillTokens tokens, each attending to the cache of the slices before.
            int slice = Math.Max(1, PrefillTokens / batch);
            for (int start = 0; start < promptLength; start += slice)
            {
                using var sliceScope = NewDisposeScope();
                int length = Math.Min(slice, promptLength - start);
                var hidden = model.Model.Forward(promptIds.narrow(1, start, length), promptPositions.narrow(1, start, length),
                    attention?.narrow(1, 0, start + length), cache: cache);
                if (start + length == promptLength) logits = model.Logits(hidden.select(1, -1)).DetachFromDisposeScope();
            }
        }
        prefillTime = clock.Elapsed;

        try
        {
            for (int step = 0; step < options.MaxNewTokens; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (tokens, logProbs) = Sampler.Sample(logits, options, seen, generator);
                logits.Dispose();
                for (int i = 0; i < active.Count; i++)
                {
                    var row = active[i];
                    if (row.Finish is not null) continue;
                    int token = (int)tokens[i];
                    row.Completion.Add(token);
                    row.LogProbs.Add(logProbs[i]);
                    generated++;
                    if (eos.Contains(token) || stops.Hit(row.Completion)) row.Finish = FinishReason.Stop;
                    else if (row.Completion.Count >= options.MaxNewTokens) row.Finish = FinishReason.Length;
                    if (row.Finish is not null) row.Elapsed = clock.Elapsed;
                    if (onToken is not null) Stream(row, token, options, onToken);
                }

                int finished = active.Count(r => r.Finish is not null);
                if (finished == active.Count) return;
                using var scope = NewDisposeScope();
                if (finished > 0 && (finished >= CompactFraction * active.Count || active.Count - finished <= 4))
                {
                    var keep = Enumerable.Range(0, active.Count).Where(i => active[i].Finish is null).Select(i => (long)i).ToArray();
                    var index = tensor(keep, device: device);
                    cache.KeepRows(index);
                    Replace(ref attention, attention?.index_select(0, index));
                    Replace(ref seen, seen?.index_select(0, index));
                    tokens = keep.Select(i => tokens[i]).ToArray();
                    active = keep.Select(i => active[(int)i]).ToList();
                }

                var input = tensor(tokens, [active.Count, 1], device: device);
                var position = tensor(active.Select(r => nextPosition[r.Index]++).ToArray(), [active.Count, 1], device: device);
                seen?.scatter_(1, input, ones_like(input, dtype: @bool));
                attention?.narrow(1, cache.Length, 1).fill_(HeldScalars.One);
                var hidden = model.Model.Forward(input, position, attention?.narrow(1, 0, cache.Length + 1), cache: cache);
                logits = model.Logits(hidden.select(1, -1)).DetachFromDisposeScope();
            }
        }
        finally
        {
            attention?.Dispose();
            seen?.Dispose();
            LastStats = new GenerationStats(rows.Count, rows.Sum(r => r.Prompt.Length), generated, prefillTime, clock.Elapsed - prefillTime);
        }
    }

    static void Replace(ref Tensor? field, Tensor? value)
    {
        if (field is null || value is null) return;
        field.Dispose();
        field = value.DetachFromDisposeScope();
    }

    Tensor SeenTokens(List<Row> rows, Device device)
    {
        var seen = zeros([rows.Count, model.Config.VocabSize], @bool, device);
        for (int b = 0; b < rows.Count; b++)
        {
            using var idx = tensor(rows[b].Prompt.Select(t => (long)t).ToArray(), device: device);
            seen[b].index_fill_(0, idx, true);
        }
        return seen;
    }

    void Stream(Row row, int token, SamplingOptions options, Action<TokenEvent> onToken)
    {
        var text = decode!(row.Completion, options.SkipSpecialTokens);
        if (row.Finish == FinishReason.Stop && options.StopStrings.Count > 0) text = new StopStrings(options.StopStrings, _ => "").Truncate(text);
        // Hold back a trailing replacement character: the next token may complete a multi-byte character.
        int end = row.Finish is null && text.EndsWith('\uFFFD') ? text.Length - 1 : text.Length;
        if (end < row.StreamedLength) return;
        onToken(new TokenEvent(row.Index, token, text[row.StreamedLength..end]));
        row.StreamedLength = end;
    }
}
