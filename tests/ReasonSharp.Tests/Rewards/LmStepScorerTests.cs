using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Steps;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Rewards;

public class LmStepScorerTests(JudgeFixture fixture) : IClassFixture<JudgeFixture>
{
    /// <summary>Step k's score from its own forward pass over the prefix ending at the k-th tag, via the full logits of
    /// CausalLM.Forward.</summary>
    public static float[] PrefixByPrefixScores(LmStepScorer scorer, JudgeInput input)
    {
        var model = scorer.Judge.Model;
        model.eval();
        using var _ = no_grad();
        return input.TagPositions.Select(tag =>
        {
            using var scope = NewDisposeScope();
            var prefix = tensor(input.Ids[..(tag + 1)].Select(i => (long)i).ToArray()).unsqueeze(0);
            var last = model.Forward(prefix)[0, -1];
            var good = last[scorer.GoodTokenId].exp();
            return (good / (good + last[scorer.BadTokenId].exp())).item<float>();
        }).ToArray();
    }

    /// <summary>A random judge with large initial weights, so its step scores spread over (0, 1) instead of sitting at
    /// 0.5.</summary>
    LmStepScorer SpreadRandomScorer() => new(fixture.NewJudge(seed: 11, initializerRange: 0.12), ownsJudge: true);

    static SumSteps Sums(Random random, int count, int wrongStep = -1) =>
        SumSteps.Generate(random, SumSteps.AllPairs, count, wrongStep);

    [Fact]
    public async Task One_pass_scores_equal_scores_of_separate_prefix_passes()
    {
        using var scorer = SpreadRandomScorer();
        var random = new Random(1);
        var all = new List<float>();
        foreach (var chain in Enumerable.Range(0, 6).Select(i => Sums(random, 2 + i % 3, i % 2 == 0 ? 1 : -1)))
        {
            var input = scorer.Encode(SumSteps.Prompt, chain.Steps);
            Assert.Equal(chain.JudgeText(" ки"), scorer.Judge.Tokenizer.Decode(input.Ids));
            Assert.All(input.TagPositions, p => Assert.Equal(scorer.StepTagId, input.Ids[p]));
            var onePass = await scorer.ScoreStepsAsync(SumSteps.Prompt, chain.Steps);
            var expected = PrefixByPrefixScores(scorer, input);
            Assert.Equal(chain.Steps.Length, onePass.Count);
            for (var k = 0; k < expected.Length; k++) Assert.InRange(Math.Abs(onePass[k] - expected[k]), 0, 1e-5);
            all.AddRange(onePass);
        }
        Assert.True(all.Max() - all.Min() > 0.2, $"the scores hardly vary ({all.Min()}..{all.Max()}), so the " +
            $"comparison proves little");
    }

    [Fact]
    public async Task A_left_padded_batch_scores_like_one_completion_at_a_time()
    {
        using var scorer = SpreadRandomScorer();
        var random = new Random(2);
        var items = Enumerable.Range(0, 5).Select(i => Sums(random, 1 + i, i == 3 ? 2 : -1))
            .Select(c => (SumSteps.Prompt, (IReadOnlyList<string>)c.Steps)).ToList();
        var batched = await scorer.ScoreBatchAsync(items);
        for (var i = 0; i < items.Count; i++)
        {
            var alone = await scorer.ScoreStepsAsync(items[i].Prompt, items[i].Item2);
            Assert.Equal(alone.Count, batched[i].Count);
            for (var k = 0; k < alone.Count; k++) Assert.InRange(Math.Abs(alone[k] - batched[i][k]), 0, 1e-5);
        }
    }

    [Fact]
    public async Task The_registry_reward_loads_the_judge_folder_and_aggregates_its_step_scores()
    {
        var registry = RewardRegistry.CreateDefault();
        var minReward =
            registry.Create("process_lm", new Dictionary<string, string> { ["model"] = fixture.RandomJudgeFolder });
        var meanReward = registry.Create("process_lm", new Dictionary<string, string> { ["model"] = fixture.RandomJudgeFolder, ["aggregation"] = "mean", ["batch_size"] = "2" });
        using var scorer = LmStepScorer.Load(fixture.RandomJudgeFolder, device: "cpu");
        var random = new Random(3);
        var chains = Enumerable.Range(0, 3).Select(i => Sums(random, 2 + i)).ToList();
        var batch =
            chains.Select(c =>
            RewardInput.Create(c.Completion, prompt: SumSteps.Prompt)).Append(RewardInput.Create("   ")).ToList();
        var mins = await minReward.ScoreAsync(batch);
        var means = await meanReward.ScoreAsync(batch);
        for (var i = 0; i < chains.Count; i++)
        {
            var steps = await scorer.ScoreStepsAsync(SumSteps.Prompt, chains[i].Steps);
            Assert.Equal(steps.Min(), mins[i]!.Value, 1e-5);
            Assert.Equal(steps.Average(), means[i]!.Value, 1e-5);
        }
        Assert.Null(mins[^1]);
    }

    [Fact]
    public void Tags_and_labels_must_be_single_distinct_tokens()
    {
        using var judge = fixture.NewJudge(seed: 1);
        var tag =
            Assert.Throws<ReasonSharpException>(() =>
            new LmStepScorer(judge, new LmStepScorerOptions { StepTag = " <step-end>" }));
        Assert.Contains("option 'step_tag'", tag.Message);
        Assert.Contains("not a single token", tag.Message);
        var good =
            Assert.Throws<ReasonSharpException>(() =>
            new LmStepScorer(judge, new LmStepScorerOptions { GoodToken = "correct" }));
        Assert.Contains("option 'good_token'", good.Message);
        var bad =
            Assert.Throws<ReasonSharpException>(() =>
            new LmStepScorer(judge, new LmStepScorerOptions { BadToken = "wrong" }));
        Assert.Contains("option 'bad_token'", bad.Message);
        Assert.Contains("same token",
            Assert.Throws<ReasonSharpException>(() =>
            new LmStepScorer(judge, new LmStepScorerOptions { BadToken = "+" })).Message);
        Assert.Contains("option 'step_tag' is empty",
            Assert.Throws<ReasonSharpException>(() =>
            new LmStepScorer(judge, new LmStepScorerOptions { StepTag = "" })).Message);
    }

    [Fact]
    public void Registry_options_are_checked_with_clear_errors()
    {
        var registry = RewardRegistry.CreateDefault();
        ReasonSharpException Fails(params (string Key, string Value)[] options) =>
            Assert.Throws<ReasonSharpException>(() =>
            registry.Create("process_lm", options.ToDictionary(o => o.Key, o => o.Value)));

        Assert.Contains("option 'model' is required", Fails().Message);
        var missingFolder = Fails(("model", fixture.NewFolder("no-such-judge"))).Message;
        Assert.Contains("option 'model': cannot load the judge model", missingFolder);
        Assert.Contains("no-such-judge", missingFolder);
        Assert.Contains("option 'aggregation': expected one of min, last, mean, product, got 'median'",
            Fails(("model", fixture.RandomJudgeFolder), ("aggregation", "median")).Message);
        Assert.Contains("option 'good_token'",
            Fails(("model", fixture.RandomJudgeFolder), ("good_token", "yes")).Message);
        Assert.Contains("unknown option 'temperature'",
            Fails(("model", fixture.RandomJudgeFolder), ("temperature", "1")).Message);
        // As the CLI and GRPO's reward_funcs name it.
        var reward = registry.CreateComposite($"process_lm(model={fixture.RandomJudgeFolder},aggregation=last,split=lines,device=cpu,weight=0.5)");
        Assert.Equal(("process_lm", 0.5f), (reward.Rewards[0].Function.Name, reward.Rewards[0].Weight));
    }
}
