using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Tests.Modeling;

namespace ReasonSharp.Tests.Generation;

public class ContinuousBatchTests
{
    /// <summary>A random model with a wide init, so its next-token distributions are peaked and argmax ties do not
    /// occur.</summary>
    static CausalLM PeakedModel(string arch = "qwen2") =>
        new(TinyModels.Config(arch) with { InitializerRange = 0.4 }, seed: 7);

    static readonly int[][] Prompts = [[5, 6, 7], [11, 12, 13, 14, 15, 16, 17], [20], [30, 31, 32, 33], [40, 41]];

    /// <summary>Runs until every sequence is done, adding sequence i before step
    /// <paramref name="joinAt"/>[i].</summary>
    static List<BatchSequence> RunStaggered(ContinuousBatch batch, SamplingOptions[] options, int[] joinAt,
        int topLogProbs = -1)
    {
        var sequences = Prompts.Select((p, i) => new BatchSequence(p, options[i], topLogProbs)).ToList();
        for (int step = 0; step < 200 && (sequences.Any(s => !s.Done) || step <= joinAt.Max()); step++)
        {
            for (int i = 0; i < sequences.Count; i++)
                if (joinAt[i] == step) batch.Add(sequences[i]);
            batch.Step();
        }
        Assert.All(sequences, s => Assert.True(s.Done));
        return sequences;
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    public void SequencesJoiningBetweenStepsGiveTheGreedyOutputOfEachPromptAlone(string arch)
    {
        using var model = PeakedModel(arch);
        var engine = new GenerationEngine(model);
        var options = Prompts.Select((_, i) => SamplingOptions.Greedy(10 + 3 * i, eos: [1])).ToArray();
        using var batch = new ContinuousBatch(model);
        var sequences = RunStaggered(batch, options, joinAt: [0, 0, 2, 5, 9]);
        for (int i = 0; i < Prompts.Length; i++)
        {
            var alone = engine.Generate([Prompts[i]], options[i]).Single();
            Assert.Equal(alone.CompletionIds, sequences[i].CompletionIds);
            Assert.Equal(alone.FinishReason, sequences[i].Finish);
        }
        Assert.Equal(0, batch.Count);
    }

    [Fact]
    public void TheCacheGrowsInStepsAndTheOutputStaysTheSame()
    {
        using var model = PeakedModel();
        var engine = new GenerationEngine(model);
        var options = Prompts.Select((_, i) => SamplingOptions.Greedy(15 + 2 * i)).ToArray();
        using var batch = new ContinuousBatch(model, capacityStep: 3);
        var sequences = RunStaggered(batch, options, joinAt: [0, 1, 1, 4, 6]);
        for (int i = 0; i < Prompts.Length; i++)
            Assert.Equal(engine.Generate([Prompts[i]], options[i]).Single().CompletionIds, sequences[i].CompletionIds);
    }

    [Fact]
    public void ARemovedSequenceLeavesAndTheOthersGoOnUnchanged()
    {
        using var model = PeakedModel();
        var engine = new GenerationEngine(model);
        var options = SamplingOptions.Greedy(20);
        using var batch = new ContinuousBatch(model);
        var a = new BatchSequence(Prompts[1], options);
        var b = new BatchSequence(Prompts[3], options);
        batch.Add(a);
        batch.Add(b);
        for (int i = 0; i < 3; i++) batch.Step();
        batch.Remove(a);
        batch.Step();
        Assert.Equal(1, batch.RunningRows);
        Assert.Equal(4, a.CompletionIds.Count);
        Assert.Null(a.Finish);
        while (!b.Done) batch.Step();
        Assert.Equal(engine.Generate([Prompts[3]], options).Single().CompletionIds, b.CompletionIds);
    }

    [Fact]
    public void SampledSequencesFollowTheirOwnSeedWhateverTheBatch()
    {
        using var model = PeakedModel();
        var sampled = new SamplingOptions { MaxNewTokens = 12, Temperature = 1.5, Seed = 3 };
        var options = Prompts.Select((_, i) => i == 2 ? sampled : SamplingOptions.Greedy(8)).ToArray();
        using var batch = new ContinuousBatch(model);
        var together = RunStaggered(batch, options, joinAt: [0, 1, 1, 2, 3])[2];
        var alone = new BatchSequence(Prompts[2], sampled);
        using var single = new ContinuousBatch(model);
        single.Add(alone);
        while (!alone.Done) single.Step();
        Assert.Equal(alone.CompletionIds, together.CompletionIds);
    }

    [Fact]
    public void LogProbsAreTheRawDistributionsWithSortedAlternatives()
    {
        using var model = PeakedModel();
        using var batch = new ContinuousBatch(model);
        var sequence = new BatchSequence(Prompts[0], SamplingOptions.Greedy(5), topLogProbs: 3);
        batch.Add(sequence);
        while (!sequence.Done) batch.Step();
        Assert.Equal(5, sequence.LogProbs.Count);
        foreach (var (entry, token) in sequence.LogProbs.Zip(sequence.CompletionIds))
        {
            Assert.Equal(token, entry.TokenId);
            Assert.Equal(3, entry.Top.Count);
            Assert.Equal(token, entry.Top[0].TokenId);
            Assert.Equal(entry.LogProb, entry.Top[0].LogProb, 5);
            Assert.True(entry.Top[0].LogProb >= entry.Top[1].LogProb && entry.Top[1].LogProb >= entry.Top[2].LogProb);
            Assert.True(entry.LogProb <= 0);
        }
    }

    [Fact]
    public void APromptOverTheContextIsRefused()
    {
        using var model = PeakedModel();
        using var batch = new ContinuousBatch(model);
        var tooLong = new BatchSequence(Prompts[0], SamplingOptions.Greedy(model.Config.MaxPositionEmbeddings));
        var error = Assert.Throws<ReasonSharpException>(() => batch.Add(tooLong));
        Assert.Contains("max_position_embeddings", error.Message);
    }
}
