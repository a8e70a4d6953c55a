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

    /// <summary>Per position p, log p(ids[p] | ids[..p]) from CausalLM.Forward's full logits over the whole input.</summary>
    static float[] TokenLogProbs(LmStepScorer scorer, JudgeInput input)
    {
        var model = scorer.Judge.Model;
        model.eval();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var logProbs = model.Forward(tensor(input.Ids.Select(i => (long)i).ToArray()).unsqueeze(0))[0].log_softmax(1);
        return Enumerable.Range(0, input.Ids.Length)
            .Select(p => p == 0 ? 0f : logProbs[p - 1, input.Ids[p]].item<float>()).ToArray();
    }

    [Fact]
    public void With_step_join_the_judge_reads_the_chat_prompt_and_the_joined_steps_at_each_steps_last_token()
    {
        using var scorer = new LmStepScorer(fixture.NewJudge(seed: 4), new LmStepScorerOptions { StepJoin = ", " },
            ownsJudge: true);
        Assert.Equal(-1, scorer.StepTagId);
        var tokenizer = scorer.Judge.Tokenizer;
        var chain = Sums(new Random(6), 3);
        var promptIds = scorer.Judge.EncodePrompt([new ChatMessage(ChatMessage.User, SumSteps.Question)]);
        foreach (var prompt in new[] { SumSteps.Prompt, RewardPrompt.FromMessages([new(ChatMessage.User,
            SumSteps.Question)]) })
        {
            var input = scorer.Encode(prompt, chain.Steps);
            Assert.Equal(promptIds, input.Ids[..promptIds.Length]);
            Assert.Equal(string.Join(", ", chain.Steps), tokenizer.Decode(input.Ids[promptIds.Length..]));
            Assert.Equal(chain.Steps.Length, input.TagPositions.Length);
            for (var k = 0; k < chain.Steps.Length; k++)
                Assert.Equal(string.Join(", ", chain.Steps.Take(k + 1)),
                    tokenizer.Decode(input.Ids[promptIds.Length..(input.TagPositions[k] + 1)]));
            Assert.Equal(Enumerable.Range(promptIds.Length, input.Ids.Length - promptIds.Length),
                input.StepTokenPositions);
            Assert.Equal(input.TagPositions.Select(t => t + 1 - promptIds.Length), input.StepTokensThroughTag);
        }
        var (cut, kept) = scorer.Encode(SumSteps.Prompt, chain.Steps,
            new JudgeLimits(MaxLength: scorer.Encode(SumSteps.Prompt, chain.Steps).TagPositions[1] + 1));
        Assert.Equal(2, kept);
        Assert.Equal(2, cut.TagPositions.Length);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(", ")]
    public void The_likelihood_feature_adds_the_least_likely_step_tokens_log_probability_to_the_good_logit(
        string? stepJoin)
    {
        using var judge = fixture.NewJudge(seed: 11, initializerRange: 0.12);
        var plain = new LmStepScorer(judge, new LmStepScorerOptions { StepJoin = stepJoin });
        var withFeature = new LmStepScorer(judge, new LmStepScorerOptions
        {
            StepJoin = stepJoin, LikelihoodFeature = true,
        });
        var random = new Random(8);
        var inputs = Enumerable.Range(0, 4).Select(i => withFeature.Encode(SumSteps.Prompt,
            Sums(random, 1 + i, i % 2 == 0 ? 0 : -1).Steps)).ToList();
        judge.Model.eval();
        using var _ = no_grad();
        var without = plain.JudgeLogits(inputs);
        var with = withFeature.JudgeLogits(inputs);
        var expected = new List<float>();
        foreach (var input in inputs)
        {
            var logProbs = TokenLogProbs(withFeature, input);
            // Math-Shepherd's layout: the "\n" before a step and the tags are not the step's own tokens.
            if (stepJoin is null)
                Assert.All(input.StepTokenPositions, p => Assert.NotEqual(p, input.TagPositions.FirstOrDefault(t =>
                    t == p, -1)));
            expected.AddRange(input.StepTokensThroughTag.Select(n =>
                input.StepTokenPositions[..n].Min(p => logProbs[p])));
        }
        var added = (with.select(1, 0) - without.select(1, 0)).data<float>().ToArray();
        Assert.Equal(expected.Count, added.Length);
        for (var i = 0; i < added.Length; i++) Assert.InRange(Math.Abs(added[i] - expected[i]), 0, 1e-4);
        Assert.Equal(without.select(1, 1).data<float>().ToArray(), with.select(1, 1).data<float>().ToArray());
        Assert.True(expected.Max() - expected.Min() > 0.5, "the feature hardly varies, so the check proves little");
    }

    [Fact]
    public async Task The_judge_folder_settings_carry_step_join_and_the_likelihood_feature_into_process_lm()
    {
        var folder = fixture.NewFolder("likelihood-judge");
        using (var judge = fixture.NewJudge(seed: 5)) judge.Save(folder);
        var options = new LmStepScorerOptions { StepJoin = ", ", LikelihoodFeature = true };
        options.SaveTo(folder);
        Assert.Equal(options, LmStepScorerOptions.ForFolder(folder));
        using var scorer = LmStepScorer.Load(folder, device: "cpu");
        Assert.Equal(options, scorer.Options);
        var chain = Sums(new Random(9), 3);
        var expected = await scorer.ScoreStepsAsync(SumSteps.Prompt, chain.Steps);
        var reward = RewardRegistry.CreateDefault().CreateComposite(
            $"process_lm(model={folder},aggregation=min,split=separator,separator=\\x2C\\s,device=cpu)");
        var scores = await reward.Rewards[0].Function.ScoreAsync([RewardInput.Create(string.Join(", ", chain.Steps),
            prompt: SumSteps.Prompt)]);
        Assert.Equal(expected.Min(), scores[0]!.Value, 1e-5);
        var overridden = RewardRegistry.CreateDefault().CreateComposite(
            $"process_lm(model={folder},step_join=\\x2C\\x20\\x20,likelihood_feature=false,device=cpu)");
        var twoSpaces = new LmStepScorer(scorer.Judge, new LmStepScorerOptions { StepJoin = ",  " });
        var input = RewardInput.Create(string.Join("\n\n", chain.Steps), prompt: SumSteps.Prompt);
        Assert.Equal((await twoSpaces.ScoreStepsAsync(SumSteps.Prompt, chain.Steps)).Min(),
            (await overridden.Rewards[0].Function.ScoreAsync([input]))[0]!.Value, 1e-5);
        Assert.NotEqual(expected.Min(), (await overridden.Rewards[0].Function.ScoreAsync([input]))[0]!.Value);

        System.IO.File.WriteAllText(Path.Combine(folder, LmStepScorerOptions.SettingsFile),
            "{\"likelihood_feature\": \"yes\"}");
        Assert.Contains("field 'likelihood_feature': expected true or false",
            Assert.Throws<ReasonSharpException>(() => LmStepScorerOptions.ForFolder(folder)).Message);
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
        Assert.Contains("option 'step_join' is empty",
            Assert.Throws<ReasonSharpException>(() =>
            new LmStepScorer(judge, new LmStepScorerOptions { StepJoin = "" })).Message);
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
