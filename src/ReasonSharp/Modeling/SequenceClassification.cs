using ReasonSharp.Tokenization;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// The input and the batched scoring of a reward model (a <see cref="CausalLM"/> with a score head), shared by
/// `reason reward-model` and the `reward_model` reward so that a completion is read exactly as it was trained on.
/// </summary>
public static class SequenceClassification
{
    /// <summary>
    /// prompt + completion rendered with <paramref name="chat"/> and tokenized, ending with the completion's last
    /// assistant token (its end-of-turn token where the template has one), so the score head reads the end of the
    /// answer. Null when the completion has no assistant token.
    /// </summary>
    public static int[]? Encode(ChatFormat chat, IReadOnlyList<ChatMessage> prompt,
        IReadOnlyList<ChatMessage> completion)
    {
        var encoding = chat.Encode([.. prompt, .. completion]);
        var mask = encoding.AssistantMask;
        int runs = 0, end = 0;
        for (int i = 0; i < mask.Length; i++)
        {
            if (!mask[i]) continue;
            runs++;
            while (i < mask.Length && mask[i]) i++;
            end = i;
        }
        return runs > prompt.Count(m => m.IsAssistant) ? encoding.InputIds[..end] : null;
    }

    /// <summary>
    /// The first label's score of each sequence, <paramref name="batchSize"/> sequences per forward pass, left-padded
    /// with an attention mask and positions counted from each sequence's first token (so padding changes nothing), in
    /// eval mode without autograd. A sequence longer than max_position_embeddings keeps its end (where the score is
    /// read), and a warning says how many were cut.
    /// </summary>
    public static float[] Score(CausalLM model, IReadOnlyList<int[]> sequences, int batchSize,
        CancellationToken cancellationToken = default)
    {
        var scores = new float[sequences.Count];
        int limit = model.Config.MaxPositionEmbeddings;
        long pad = model.Config.PadTokenId ?? 0;
        var cut = sequences.Count(s => s.Length > limit);
        if (cut > 0)
            Warnings.Report($"reward model: {cut} of {sequences.Count} sequences are longer than its " +
                $"max_position_embeddings ({limit} tokens) and were scored on their last {limit} tokens");
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            for (int start = 0; start < sequences.Count; start += batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var chunk = sequences.Skip(start).Take(batchSize)
                    .Select(s => s.Length > limit ? s[^limit..] : s).ToList();
                int batch = chunk.Count, length = chunk.Max(s => s.Length);
                var ids = new long[batch * length];
                var mask = new long[batch * length];
                var positions = new long[batch * length];
                Array.Fill(ids, pad);
                for (int b = 0; b < batch; b++)
                {
                    int offset = length - chunk[b].Length;
                    for (int t = 0; t < chunk[b].Length; t++)
                    {
                        ids[b * length + offset + t] = chunk[b][t];
                        mask[b * length + offset + t] = 1;
                        positions[b * length + offset + t] = t;
                    }
                }
                bool padded = chunk.Any(s => s.Length != length);
                using var scope = NewDisposeScope();
                var device = model.Device;
                var values = model.SequenceScores(tensor(ids, [batch, length], device: device), null,
                    tensor(positions, [batch, length], device: device),
                    padded ? tensor(mask, [batch, length], device: device) : null);
                var first = values.select(1, 0).cpu().data<float>().ToArray();
                first.CopyTo(scores, start);
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return scores;
    }
}
