using ReasonSharp.Data;
using ReasonSharp.Rewards;
using ReasonSharp.Tokenization;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Tests.Training.Sft;

public class SftDataTests
{
    [Fact]
    public void ExamplesAreTruncatedToMaxLengthKeepingTheStartAndThoseLeftWithoutTargetsAreCounted()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var tokenizer = Tokenizer.Load(TinyLanguageModels.Tokenizer(dir));
        var chat = ChatFormat.For(tokenizer, "chatml");
        var examples = SftFixtures.Arithmetic(20, seed: 2).Examples.ToList();
        // One example whose prompt alone is longer than max_length: nothing of its completion survives.
        examples.Add(SftFixtures.ExampleOf([ChatMessage.FromUser(string.Concat(Enumerable.Repeat("Compute 1+2. ", 40))),
            ChatMessage.FromAssistant("3")], "long.jsonl line 1"));
        var full = examples.Select(e => chat.Encode(e.Messages).InputIds).ToList();
        const int max = 60;
        Assert.True(full.Count(ids => ids.Length > max) >= 10, "the fixture needs examples longer than max_length");

        var encoded = SftDataset.Encode(examples, true, chat, new SftConfig { MaxLength = max }, pack: false);
        Assert.Equal(full.Count(ids => ids.Length > max), encoded.Stats.Truncated);
        Assert.Equal(1, encoded.Stats.Dropped);
        Assert.Equal("long.jsonl line 1", encoded.Stats.FirstDropped);
        Assert.Equal(20, encoded.Stats.Sequences);
        for (int i = 0; i < 20; i++)
        {
            var sequence = encoded.Sequences[i];
            Assert.Equal(full[i].Take(max).Select(id => (long)id), sequence.InputIds);
            Assert.Equal(sequence.InputIds.Length, sequence.LossMask!.Length);
        }
        Assert.Contains("1 dropped without loss tokens (first: long.jsonl line 1)", encoded.Stats.Describe());

        // Packing uses max_length as the row length and never splits an example.
        var packed =
            SftDataset.Encode(examples, true, chat, new SftConfig { MaxLength = max, Packing = true }, pack: true);
        Assert.All(packed.Sequences, row => Assert.True(row.InputIds.Length <= max));
        Assert.Equal(encoded.Stats.Tokens, packed.Stats.Tokens);
        Assert.InRange(packed.Stats.PackingEfficiency, 0.5, 1.0);
    }

    [Fact]
    public void DualModeMixingGivesTheRequestedShareOfThinkExamplesWithTheRightFlags()
    {
        var examples = SftFixtures.Arithmetic(40, seed: 4).Examples;
        var config = new SftConfig { ThinkFraction = 0.25, Seed = 11 };
        var mixed = SftDataset.Prepare(examples, config, mixDualMode: true);
        Assert.Equal(40, mixed.Count);
        var think = mixed.Where(e => e.Messages[0].Content == ThinkingModes.ThinkFlag).ToList();
        var noThink = mixed.Where(e => e.Messages[0].Content == ThinkingModes.NoThinkFlag).ToList();
        Assert.Equal(10, think.Count);
        Assert.Equal(30, noThink.Count);
        Assert.All(think, e => Assert.True(ReasoningTrace.Parse(e.Completion!).HasThinking));
        Assert.All(noThink, e => Assert.False(ReasoningTrace.Parse(e.Completion!).HasThinking));
        // Answers are kept either way, and the same seed picks the same examples.
        Assert.Equal(examples.Select(e => ReasoningTrace.Parse(e.Completion!).Answer),
            mixed.Select(e => ReasoningTrace.Parse(e.Completion!).Answer));
        Assert.Equal(mixed.Select(Flatten), SftDataset.Prepare(examples, config, mixDualMode: true).Select(Flatten));
        // Held-out data is not mixed; trace_style re-renders every completion.
        Assert.Equal(examples.Select(Flatten),
            SftDataset.Prepare(examples, config, mixDualMode: false).Select(Flatten));
        var restyled =
            SftDataset.Prepare(examples, new SftConfig { TraceStyle = TraceStyle.DeepSeekR1 }, mixDualMode: true);
        Assert.All(restyled, e => Assert.DoesNotContain("<answer>", e.Completion!));
    }

    static string Flatten(Example example) => string.Join("|", example.Messages.Select(m => $"{m.Role}: {m.Content}"));

    [Fact]
    public void InvalidOptionsAreErrorsNamingTheOption()
    {
        void Fails(SftConfig config, string option) =>
            Assert.Contains($"'{option}'", Assert.Throws<ReasonSharpException>(config.Validate).Message);
        Fails(new SftConfig { PackingStrategy = "wrapped" }, "packing_strategy");
        Fails(new SftConfig { Packing = true, MaxLength = null }, "max_length");
        Fails(new SftConfig { ThinkFraction = 1.5 }, "think_fraction");
        Fails(new SftConfig { DatasetSchema = "csv" }, "dataset_schema");
        Fails(new SftConfig { ChatFormat = "alpaca" }, "chat_format");
        var unknown = new SftConfig { EvalStrategy = "steps", EvalReward = "no_such_reward" };
        unknown.Validate();  // the name is looked up in the run's registry, which may hold custom rewards
        Assert.Contains("'eval_reward'", Assert.Throws<ReasonSharpException>(() =>
            unknown.CheckEvalRewardIsKnown(RewardRegistry.CreateDefault())).Message);
        Assert.Contains("'eval_reward'", Assert.Throws<ReasonSharpException>(() => SftTrainer.Run(unknown)).Message);
        var custom = RewardRegistry.CreateDefault();
        custom.Register("no_such_reward", _ => new ReasonSharp.Rewards.Builtins.TagCountReward("no_such_reward",
            new RewardOptions(null)));
        unknown.CheckEvalRewardIsKnown(custom);
        Fails(new SftConfig { EvalStrategy = "steps", EvalReward = "accuracy,format" }, "eval_reward");
        Fails(new SftConfig { EvalReward = "accuracy" }, "eval_reward");  // would never be measured without evaluations
        Fails(new SftConfig { UsePeft = true, LoraTargetModules = ["qkv"] }, "lora_target_modules");
        Fails(new SftConfig { LoraR = 0 }, "lora_r");
        Fails(new SftConfig { TruncationMode = "keep_end" }, "truncation_mode");
        Fails(new SftConfig { LearningRate = -1 }, "learning_rate");
        var defaults = new SftConfig();
        Assert.Equal(2e-5, defaults.LearningRate);
        Assert.Equal(1024, defaults.MaxLength);
        Assert.Equal(10, defaults.LoggingSteps);
        Assert.True(defaults.GradientCheckpointing);
        Assert.True(defaults.AssistantOnlyLoss);
        Assert.Null(defaults.CompletionOnlyLoss);
        Assert.Equal((16, 32.0, 0.05), (defaults.LoraR, defaults.LoraAlpha, defaults.LoraDropout));
    }
}
