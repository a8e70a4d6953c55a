using ReasonSharp.Modeling;
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
        bool penalty = seen is not null && options.RepetitionPenalty != 1.0;
        if (options.IsGreedy && !penalty && DecodeKernels.Greedy(logits) is { } greedy) return greedy;
        using var scope = NewDisposeScope();
        logits = logits.to(float32);
        double temperature = options.IsGreedy ? 1.0 : options.Temperature;
        var scaled = temperature == 1.0 ? logits : HeldScalars.With(temperature, t => logits / t);

        var scores = logits;
        if (penalty)
        {
            var penalised = HeldScalars.With(options.RepetitionPenalty,
                p => HeldScalars.With(0, zero => where(scores.lt(zero), scores * p, scores / p)));
            scores = where(seen!, penalised, scores);
        }

        Tensor next;
        if (options.IsGreedy)
            next = scores.argmax(-1, keepdim: true);
        else
        {
            scores = ReferenceEquals(scores, logits) ? scaled : HeldScalars.With(temperature, t => scores / t);
            if (options.TopK > 0 && options.TopK < scores.shape[^1])
            {
                var kth = scores.topk(options.TopK, dim: -1).values.narrow(-1, options.TopK - 1, 1);
                scores = HeldScalars.With(double.NegativeInfinity, inf => scores.masked_fill(scores.lt(kth), inf));
            }
            if (options.TopP < 1.0)
            {
                var (sorted, order) = scores.sort(-1, descending: true);
                var probs = sorted.softmax(-1);
                var before = probs.cumsum(-1) - probs;
                var dropSorted = HeldScalars.With(options.TopP, p => before.gt(p));
                var drop = zeros_like(dropSorted).scatter(-1, order, dropSorted);
                scores = HeldScalars.With(double.NegativeInfinity, inf => scores.masked_fill(drop, inf));
            }
            if (options.MinP > 0)
            {
                var probs = scores.softmax(-1);
                var threshold = HeldScalars.With(options.MinP, p => probs.max(-1, keepdim: true).values * p);
                scores = HeldScalars.With(double.NegativeInfinity, inf => scores.masked_fill(probs.lt(threshold), inf));
            }
            next = scores.softmax(-1).multinomial(1, generator: generator);
        }
        // log_softmax at the chosen ids only: logit − logsumexp, without a [B, V] log-probability tensor.
        var chosen = scaled.gather(-1, next) - scaled.logsumexp(-1, keepdim: true);
        return (next.squeeze(-1).cpu().data<long>().ToArray(), chosen.squeeze(-1).cpu().data<float>().ToArray());
    }
}
