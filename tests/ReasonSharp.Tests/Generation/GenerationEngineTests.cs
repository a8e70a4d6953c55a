using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Tests.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Generation;

public class GenerationEngineTests
{
    /// <summary>A random model with a wide init, so its next-token distributions are peaked and argmax ties do not
    /// occur.</summary>
    static CausalLM PeakedModel(string arch = "qwen2") =>
        new(TinyModels.Config(arch) with { InitializerRange = 0.4 }, seed: 7);

    /// <summary>Each token id decodes to two letters, so stop strings can span token boundaries.</summary>
    static string Letters(IReadOnlyList<int> ids, bool skipSpecial) =>
        string.Concat(ids.Select(i => $"{(char)('a' + i % 26)}{(char)('a' + i / 26 % 26)}"));

    static readonly int[][] Prompts = [[5, 6, 7], [11, 12, 13, 14, 15, 16, 17], [20], [30, 31, 32, 33]];

    [Fact]
    public void NoPromptsGiveNoResultsAndZeroStatsNotTheLastCallsOrNull()
    {
        using var model = PeakedModel();
        var engine = new GenerationEngine(model);
        engine.Generate(Prompts, SamplingOptions.Greedy(4, eos: [1]));
        Assert.Empty(engine.Generate([], SamplingOptions.Greedy(4, eos: [1])));
        Assert.Equal((0, 0), (engine.LastStats!.Rows, engine.LastStats.GeneratedTokens));
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("llama")]
    [InlineData("qwen3")]
    public void BatchedLeftPaddedGreedyEqualsEachPromptAlone(string arch)
    {
        using var model = PeakedModel(arch);
        var engine = new GenerationEngine(model);
        var options = SamplingOptions.Greedy(24, eos: [1]);
        var batched = engine.Generate(Prompts, options);
        foreach (var (prompt, i) in Prompts.Select((p, i) => (p, i)))
        {
            var alone = engine.Generate([prompt], options)[0];
            Assert.Equal(alone.CompletionIds, batched[i].CompletionIds);
            Assert.Equal(alone.FinishReason, batched[i].FinishReason);
        }
    }

    [Fact]
    public void LongPromptsPrefilledInSlicesGiveTheSameTokensAsAlone()
    {
        using var model = PeakedModel();
        var engine = new GenerationEngine(model);
        var random = new Random(4);
        // Four rows of up to 300 tokens go through prefill in slices of 128 positions; a row alone goes in one piece.
        int[][] prompts =
            [.. new[] { 300, 170, 290, 129 }.Select(n =>
            Enumerable.Range(0, n).Select(_ => random.Next(2, 97)).ToArray())];
        var options = SamplingOptions.Greedy(8);
        var batched = engine.Generate(prompts, options);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(engine.Generate([prompts[i]], options)[0].CompletionIds, batched[i].CompletionIds);
    }

    [Theory]
    [InlineData(0.7, false)]
    [InlineData(1.0, true)]
    public void LogProbsEqualLogSoftmaxOfAFreshForward(double temperature, bool greedy)
    {
        using var model = PeakedModel();
        var engine = new GenerationEngine(model);
        var options = new SamplingOptions { MaxNewTokens = 16, Temperature = temperature, DoSample = !greedy, TopK = 20, TopP = 0.9, Seed = 3 };
        foreach (var result in engine.Generate(Prompts, options))
        {
            using var _ = no_grad();
            var all = result.PromptIds.Concat(result.CompletionIds).Select(t => (long)t).ToArray();
            using var logits = model.Forward(tensor(all, [1, all.Length]));
            using var logProbs = (logits[0] / temperature).log_softmax(-1);
            for (int t = 0; t < result.CompletionIds.Length; t++)
            {
                float expected = logProbs[result.PromptIds.Length - 1 + t, result.CompletionIds[t]].item<float>();
                Assert.True(Math.Abs(expected - result.LogProbs[t]) < 1e-4,
                    $"token {t}: {result.LogProbs[t]} vs {expected}");
            }
        }
    }

    [Fact]
    public void SeededSamplingIsReproducibleAndSeedsMatter()
    {
        using var model = new CausalLM(TinyModels.Config("qwen2"), seed: 7);
        var engine = new GenerationEngine(model);
        var options = new SamplingOptions { MaxNewTokens = 20, Temperature = 1.0, Seed = 42 };
        var a = engine.Generate(Prompts, options);
        var b = engine.Generate(Prompts, options);
        var c = engine.Generate(Prompts, options with { Seed = 43 });
        Assert.Equal(a.Select(r => r.CompletionIds), b.Select(r => r.CompletionIds));
        Assert.NotEqual(a.Select(r => string.Join(",", r.CompletionIds)),
            c.Select(r => string.Join(",", r.CompletionIds)));
    }

    [Fact]
    public void TopKOfOneAndTinyTopPAreGreedy()
    {
        using var model = new CausalLM(TinyModels.Config("llama"), seed: 3);
        var engine = new GenerationEngine(model);
        var greedy = engine.Generate(Prompts, SamplingOptions.Greedy(12));
        var topK = engine.Generate(Prompts, new SamplingOptions { MaxNewTokens = 12, TopK = 1, Seed = 9 });
        var topP = engine.Generate(Prompts, new SamplingOptions { MaxNewTokens = 12, TopP = 1e-6, Seed = 9 });
        Assert.Equal(greedy.Select(r => r.CompletionIds), topK.Select(r => r.CompletionIds));
        Assert.Equal(greedy.Select(r => r.CompletionIds), topP.Select(r => r.CompletionIds));
    }

    [Fact]
    public void StopStringsSpanningTokenBoundariesStopTheRow()
    {
        using var model = PeakedModel();
        var engine = new GenerationEngine(model, Letters);
        var free = engine.Generate([Prompts[1]], SamplingOptions.Greedy(20))[0];
        Assert.Equal(FinishReason.Length, free.FinishReason);
        // A stop string made of the second letter of token 3 and the first letter of token 4.
        var text = Letters(free.CompletionIds, false);
        var stop = text.Substring(5, 2);
        Assert.DoesNotContain(stop, text[..6]);
        var stopped = engine.Generate([Prompts[1]], SamplingOptions.Greedy(20) with { StopStrings = [stop] })[0];
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Equal(free.CompletionIds.Take(4), stopped.CompletionIds);
        Assert.EndsWith(stop, stopped.CompletionText);
        Assert.Equal(text[..7], stopped.CompletionText);
    }

    [Fact]
    public void EosStopsARowAndKeepsTheEosId()
    {
        using var model = PeakedModel();
        var engine = new GenerationEngine(model);
        var free = engine.Generate(Prompts, SamplingOptions.Greedy(10));
        int eos = free[1].CompletionIds[3];
        var results = engine.Generate(Prompts, SamplingOptions.Greedy(10, eos: [eos]));
        var row = results[1];
        int first = Array.IndexOf(free[1].CompletionIds, eos);
        Assert.Equal(first + 1, row.CompletionIds.Length);
        Assert.Equal(eos, row.CompletionIds[^1]);
        Assert.Equal(FinishReason.Stop, row.FinishReason);
        foreach (var (r, f) in results.Zip(free))
        {
            int at = Array.IndexOf(f.CompletionIds, eos);
            Assert.Equal(at < 0 ? f.CompletionIds : f.CompletionIds[..(at + 1)], r.CompletionIds);
        }
    }

    [Fact]
    public void StreamedDeltasConcatenateToTheFinalText()
    {
        using var model = PeakedModel();
        var engine = new GenerationEngine(model, Letters);
        var streamed = new Dictionary<int, string>();
        var results = engine.Generate(Prompts, new SamplingOptions { MaxNewTokens = 15, Seed = 1 },
            e => streamed[e.Row] = streamed.GetValueOrDefault(e.Row, "") + e.TextDelta);
        for (int i = 0; i < results.Count; i++) Assert.Equal(results[i].CompletionText, streamed[i]);
    }

    [Fact]
    public void RepetitionPenaltyReducesRepeats()
    {
        using var model = new CausalLM(TinyModels.Config("qwen2") with { InitializerRange = 0.1 }, seed: 11);
        var engine = new GenerationEngine(model);
        static double RepeatFraction(IEnumerable<GenerationResult> rs) =>
            rs.Average(r => 1 - (double)r.CompletionIds.Distinct().Count() / r.CompletionIds.Length);
        var plain = RepeatFraction(engine.Generate(Prompts, SamplingOptions.Greedy(40)));
        var penalised =
            RepeatFraction(engine.Generate(Prompts, SamplingOptions.Greedy(40) with { RepetitionPenalty = 3.0 }));
        Assert.True(penalised < plain, $"repeat fraction {penalised} not below {plain}");
    }

    [Fact]
    public void BadOptionsAreClearErrors()
    {
        using var model = PeakedModel();
        var engine = new GenerationEngine(model);
        Assert.Contains("top_p",
            Assert.Throws<ReasonSharpException>(() =>
            engine.Generate(Prompts, new SamplingOptions { TopP = 0 })).Message);
        Assert.Contains("tokenizer",
            Assert.Throws<ReasonSharpException>(() =>
            engine.Generate(Prompts, new SamplingOptions { StopStrings = ["x"] })).Message);
        Assert.Contains("max_position_embeddings",
            Assert.Throws<ReasonSharpException>(() => engine.Generate(Prompts, SamplingOptions.Greedy(5000))).Message);
    }
}
