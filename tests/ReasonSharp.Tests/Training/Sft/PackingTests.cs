using ReasonSharp.Training;
using ReasonSharp.Training.Sft;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training.Sft;

public class PackingTests
{
    [Fact]
    public void BestFitDecreasingPutsEachSequenceInTheFullestRowThatFits()
    {
        // Longest first: 5 opens A (3 left), 4 opens B (4 left), 3 fills A exactly, 3 goes to B (1 left),
        // 2 opens C, 2 joins C, and 1 goes to B, the fullest row with room.
        var bins = SequencePacker.BestFitDecreasing([5, 4, 3, 3, 2, 2, 1], 8);
        Assert.Equal([[0, 2], [1, 3, 6], [4, 5]], bins.Select(b => b.ToArray()));

        var random = new Random(3);
        var lengths = Enumerable.Range(0, 500).Select(_ => random.Next(1, 200)).ToList();
        var packed = SequencePacker.BestFitDecreasing(lengths, 256);
        Assert.Equal(Enumerable.Range(0, 500), packed.SelectMany(b => b).Order());
        Assert.All(packed, bin => Assert.True(bin.Sum(i => lengths[i]) <= 256));
        int lowerBound = (lengths.Sum() + 255) / 256;
        Assert.True(packed.Count <= lowerBound * 1.05 + 1, $"{packed.Count} rows for a lower bound of {lowerBound}");
        Assert.Throws<ReasonSharpException>(() => SequencePacker.BestFitDecreasing([300], 256));
    }

    [Fact]
    public void PackedLossAndGradientsEqualTheUnpackedOnes()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var data = SftFixtures.Arithmetic(12, seed: 5);
        var config = new SftConfig { MaxLength = 300 };
        var plain = SftDataset.Encode(data.Examples, data.PromptCompletion, lm.Chat, config, pack: false);
        var packed = SftDataset.Encode(data.Examples, data.PromptCompletion, lm.Chat, config, pack: true);
        Assert.Equal(12, plain.Stats.Rows);
        Assert.InRange(packed.Stats.Rows, 2, 8);
        Assert.Equal(plain.Stats.Tokens, packed.Stats.Tokens);
        Assert.Equal(plain.Stats.LossTokens, packed.Stats.LossTokens);

        var (plainLoss, plainWeight, plainGradients) = SftFixtures.OneBatch(lm.Model, plain.Sequences);
        var (packedLoss, packedWeight, packedGradients) = SftFixtures.OneBatch(lm.Model, packed.Sequences);
        Assert.Equal(plain.Stats.LossTokens, plainWeight);
        Assert.Equal(plainWeight, packedWeight);
        Assert.True(Math.Abs(plainLoss - packedLoss) <= 1e-5, $"packed loss {packedLoss} vs unpacked {plainLoss}");
        Assert.Equal(plainGradients.Keys.Order(), packedGradients.Keys.Order());
        foreach (var (name, gradient) in plainGradients)
        {
            double scale = gradient.abs().max().item<float>();
            double difference = (gradient - packedGradients[name]).abs().max().item<float>();
            Assert.True(difference <= 1e-4 * scale + 1e-7, $"{name}: gradients differ by {difference} (scale {scale})");
        }
    }

    [Fact]
    public void PackedSequencesRestartPositionsAndNeverAttendAcrossEachOther()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var data = SftFixtures.Arithmetic(6, seed: 8);
        var config = new SftConfig { MaxLength = 1000 };
        var alone = SftDataset.Encode(data.Examples, true, lm.Chat, config, pack: false).Sequences;
        var row = Assert.Single(SftDataset.Encode(data.Examples, true, lm.Chat, config, pack: true).Sequences);
        Assert.Equal(6, row.PackedLengths!.Length);

        var task = new LanguageModelingTask([row], shuffle: false);
        var context = new TrainingContext { Model = lm.Model, Options = new TrainingOptions { PerDeviceTrainBatchSize = 1 }, Random = new TrainingRandom(0) };
        task.Initialize(context);
        using var batch = (TokenBatch)Assert.Single(task.NextStep(context).MicroBatches);
        var positions = batch.PositionIds!.data<long>().ToArray();
        var sequenceIds = batch.SequenceIds!.data<long>().ToArray();
        var labels = batch.Labels.data<long>().ToArray();

        lm.Model.eval();
        using var _ = no_grad();
        using var packedHidden =
            lm.Model.Model.Forward(batch.InputIds, batch.PositionIds, sequenceIds: batch.SequenceIds);
        int start = 0;
        for (int k = 0; k < row.PackedLengths.Length; k++)
        {
            int length = row.PackedLengths[k];
            var original = alone.Single(s => s.InputIds.SequenceEqual(row.InputIds[start..(start + length)]));
            Assert.Equal(Enumerable.Range(0, length).Select(i => (long)i), positions[start..(start + length)]);
            Assert.All(sequenceIds[start..(start + length)], id => Assert.Equal(k, id));
            Assert.Equal(LanguageModelLoss.IgnoreIndex, labels[start]);  // never predicted from the previous sequence

            using var single = lm.Model.Model.Forward(tensor(original.InputIds, [1, length]));
            double difference = (packedHidden[0, start..(start + length)] - single[0]).abs().max().item<float>();
            Assert.True(difference <= 1e-5, $"sequence {k} differs by {difference} when packed");
            start += length;
        }
    }
}
