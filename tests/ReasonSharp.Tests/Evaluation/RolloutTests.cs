using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Rewards;

namespace ReasonSharp.Tests.Evaluation;

public class RolloutTests
{
    [Fact]
    public async Task EachExampleGetsNSamplesScoredWithItsOwnColumns()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var examples = TinyLanguageModels.ArithmeticExamples(5, seed: 3);
        // A reward that reads the example's gold column and the completion's length, so mixing up rows would show.
        var reward = new CompositeReward(
            new DelegateReward("gold_length",
                input => input.RequireString("answer").Length + input.Completion.Length / 1000f),
            RewardRegistry.CreateDefault().Create("accuracy"));
        var runner = new RolloutRunner(lm, reward);
        var rollouts = await runner.RunAsync(examples, new RolloutOptions
        {
            NumSamples = 3, GenerationBatchSize = 4, Sampling = new SamplingOptions { MaxNewTokens = 12, Seed = 1 },
        });
        Assert.Equal(15, rollouts.Count);
        Assert.Equal(Enumerable.Range(0, 5).SelectMany(i => Enumerable.Repeat(i, 3)),
            rollouts.Select(r => r.ExampleIndex));
        Assert.Equal(Enumerable.Range(0, 15).Select(i => i % 3), rollouts.Select(r => r.SampleIndex));
        foreach (var r in rollouts)
        {
            Assert.Equal(runner.EncodePrompt(r.Example, true), r.PromptIds);
            float expected = r.Example.Extra["answer"].GetString()!.Length + r.Generation.CompletionText.Length / 1000f;
            Assert.Equal(expected, r.Rewards["gold_length"]!.Value, 4);
            Assert.Equal(expected + r.Rewards["accuracy"].GetValueOrDefault(), r.Reward, 4);
        }
    }
}
