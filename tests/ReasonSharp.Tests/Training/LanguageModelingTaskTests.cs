using ReasonSharp.Training;

namespace ReasonSharp.Tests.Training;

public class LanguageModelingTaskTests
{
    [Fact]
    public void EpochsCoverEverySequenceOnceInASeededOrderAndStepsNeverSpanEpochs()
    {
        var data = Enumerable.Range(0, 10).Select(i => new TokenSequence([100 + i, 1, 2])).ToList();
        using var model = TrainingFixtures.Model();
        var options = new TrainingOptions { PerDeviceTrainBatchSize = 2, GradientAccumulationSteps = 2, Seed = 9 };
        List<List<long>> Epochs(long seed)
        {
            var task = new LanguageModelingTask(data);
            var context = new TrainingContext { Model = model, Options = options with { Seed = seed }, Random = new TrainingRandom(seed) };
            task.Initialize(context);
            Assert.Equal(3, task.StepsPerEpoch);  // 5 micro-batches of 2 → steps of 2, 2 and 1
            var epochs = new List<List<long>>();
            for (int epoch = 0; epoch < 2; epoch++)
            {
                var firsts = new List<long>();
                for (int step = 0; step < 3; step++)
                {
                    var batches = task.NextStep(context).MicroBatches;
                    Assert.Equal(step < 2 ? 2 : 1, batches.Count);
                    foreach (var batch in batches)
                    {
                        Assert.Equal(4, batch.Weight);  // 2 sequences × 2 predictable tokens
                        firsts.AddRange(((TokenBatch)batch).InputIds[.., 0].data<long>().ToArray());
                        batch.Dispose();
                    }
                }
                epochs.Add(firsts);
            }
            return epochs;
        }
        var a = Epochs(9);
        foreach (var epoch in a) Assert.Equal(Enumerable.Range(100, 10).Select(i => (long)i), epoch.Order());
        Assert.NotEqual(a[0], a[1]);
        Assert.Equal(a, Epochs(9));
        Assert.NotEqual(a[0], Epochs(10)[0]);
    }

    [Fact]
    public void NumTrainEpochsSetsTheStepCountAndTheMaskedTokensCarryNoLoss()
    {
        using var dir = TestEnvironment.NewTempDir();
        var data = TrainingFixtures.RandomSequences(6, 8, 8);
        // Only the last token of each sequence is a target.
        var masked =
            data.Select(s =>
            s with { LossMask = s.InputIds.Select((_, i) => i == s.InputIds.Length - 1).ToArray() }).ToList();
        using var model = TrainingFixtures.Model();
        var options = TrainingFixtures.Options(dir.Path) with { MaxSteps = -1, NumTrainEpochs = 2, PerDeviceTrainBatchSize = 2, GradientAccumulationSteps = 1, SaveStrategy = "no" };
        var result = TrainingFixtures.NewTrainer(model, new LanguageModelingTask(masked), options).Train();
        Assert.Equal(6, result.GlobalStep);
        Assert.Equal(2.0, result.LogHistory[^1]["epoch"]!.GetValue<double>());
    }
}
