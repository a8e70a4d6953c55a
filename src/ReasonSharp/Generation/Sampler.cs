using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Generation;

/// <summary>Turns next-token logits [B, V] into sampled ids and their log-probabilities, on the model's device.</summary>
internal static class Sampler
{
    /// <summary>
    /// Applies repetition penalty, temperature, top-k, top-p and min-p, then samples (or takes the argmax). The returned
    /// log-probability is log_softmax(logits / T) at the chosen id: the unfiltered, temperature-scaled model distribution,
    /// which is what a policy-gradient trainer recomputes.
    /// </summary>
    public static (long[] Tokens, float[] LogProbs) Sample(Tensor logits, SamplingOptions options, Tensor? seen, torch.Generator? generator)
    {
        using var scope = NewDisposeScope();
        logits = logits.to(float32);
        double temperature = options.IsGreedy ? 1.0 : options.Temperature;
        var logProbs = (logits / temperature).log_softmax(-1);

        var scores = logits;
        if (seen is not null && options.RepetitionPenalty != 1.0)
        {
            var penalised = where(scores.lt(0), scores * options.RepetitionPenalty, scores / options.RepetitionPenalty);
            scores = where(seen, penalised, scores);
        }

        Tensor next;
        if (options.IsGreedy)
            next = scores.argmax(-1, keepdim: true);
        else
        {
            scores = scores / temperature;
            if (options.TopK > 0 && options.TopK < scores.shape[^1])
            {
                var kth = scores.topk(options.TopK, dim: -1).values.narrow(-1, options.TopK - 1, 1);
                scores = scores.masked_fill(scores.lt(kth), double.NegativeInfinity);
            }
            if (options.TopP < 1.0)
            {
                var (sorted, order) = scores.sort(-1, descending: true);
                var probs = sorted.softmax(-1);
                var before = probs.cumsum(-1) - probs;
                var dropSorted = before.gt(options.TopP);
                var drop = zeros_like(dropSorted).scatter(-1, order, dropSorted);
                scores = scores.masked_fill(drop, double.NegativeInfinity);
            }
            if (options.MinP > 0)
            {
                var probs = scores.softmax(-1);
                var threshold = probs.max(-1, keepdim: true).values * options.MinP;
                scores = scores.masked_fill(probs.lt(threshold), double.NegativeInfinity);
            }
            next = scores.softmax(-1).multinomial(1, generator: generator);
        }
        var chosen = logProbs.gather(-1, next);
        return (next.squeeze(-1).cpu().data<long>().ToArray(), chosen.squeeze(-1).cpu().data<float>().ToArray());
    }
}
