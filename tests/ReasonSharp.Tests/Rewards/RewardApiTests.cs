using System.Text.Json;
using ReasonSharp.Rewards;

namespace ReasonSharp.Tests.Rewards;

public class RewardApiTests
{
    static RewardInput Input(string completion = "", object? columns = null) => RewardInput.Create(completion, columns);

    [Fact]
    public async Task Composite_total_is_the_weighted_nansum_and_stats_ignore_nulls_like_trl()
    {
        var a = new DelegateReward("a", i => i.Completion switch { "x" => 1f, "y" => 0f, _ => null });
        var b = new DelegateReward("b", i => i.Completion switch { "x" => 0.5f, "y" => null, _ => null });
        var composite = new CompositeReward([new WeightedReward(a, 2f), new WeightedReward(b, -1f)]);
        var scores = await composite.ScoreAsync([Input("x"), Input("y"), Input("z")]);

        // x: 2*1 + -1*0.5 = 1.5; y: 2*0 + (b null, skipped) = 0; z: both null -> 0 (nansum of nothing).
        Assert.Equal([1.5f, 0f, 0f], scores.Total);
        var sa = scores.Functions[0];
        Assert.Equal(("a", 2f, 2), (sa.Name, sa.Weight, sa.Count));
        Assert.Equal(0.5, sa.Mean!.Value, 9);
        Assert.Equal(Math.Sqrt(0.5), sa.Std!.Value, 9); // sample std of {1, 0}
        var sb = scores.Functions[1];
        Assert.Equal(1, sb.Count);
        Assert.Equal(0.5, sb.Mean!.Value, 9);
        Assert.Null(sb.Std); // one value: no sample std
        Assert.Equal([0.5f, null, null], sb.Values);
        Assert.Equal(0.5, scores.TotalMean!.Value, 6);
    }

    [Fact]
    public async Task Composite_rejects_a_function_that_returns_the_wrong_number_of_scores()
    {
        var broken = new BrokenReward();
        var e = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            new CompositeReward(broken).ScoreAsync([Input("a"), Input("b")]));
        Assert.Contains("returned 1 scores for a batch of 2", e.Message);
        Assert.Throws<ReasonSharpException>(() => new CompositeReward(broken, broken));
    }

    sealed class BrokenReward : IRewardFunction
    {
        public string Name => "broken";
        public Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch,
            CancellationToken cancellationToken = default) => Task.FromResult(new float?[] { 1f });
    }

    [Fact]
    public void Specs_parse_names_options_and_weights()
    {
        var specs = RewardSpec.ParseList("accuracy, format(style=think), cosine(max_len=512,weight=0.5)");
        Assert.Equal(["accuracy", "format", "cosine"], specs.Select(s => s.Name));
        Assert.Equal("think", specs[1].Options!["style"]);
        Assert.Equal(0.5f, specs[2].Weight);
        Assert.Equal("512", specs[2].Options!["max_len"]);
        Assert.False(specs[2].Options!.ContainsKey("weight"));
        Assert.Throws<ReasonSharpException>(() => RewardSpec.ParseList("format(style"));
        Assert.Throws<ReasonSharpException>(() => RewardSpec.ParseList("format(weight=heavy)"));
    }

    [Fact]
    public void Registry_creates_built_ins_rejects_unknown_names_and_options_and_takes_user_rewards()
    {
        var registry = RewardRegistry.CreateDefault();
        foreach (var name in new[] { "accuracy", "format", "tag_count", "reasoning_steps", "length", "cosine", "repetition", "soft_overlong", "countdown", "code", "binary_code" })
            Assert.Equal(name, registry.Create(name).Name);
        var unknown = Assert.Throws<ReasonSharpException>(() => registry.Create("acuracy"));
        Assert.Contains("known rewards: accuracy", unknown.Message);
        var badOption =
            Assert.Throws<ReasonSharpException>(() =>
            registry.Create("cosine", new Dictionary<string, string> { ["maxlen"] = "5" }));
        Assert.Contains("unknown option 'maxlen' for reward 'cosine'", badOption.Message);
        Assert.Contains("max_len", badOption.Message);
        var badValue =
            Assert.Throws<ReasonSharpException>(() =>
            registry.Create("cosine", new Dictionary<string, string> { ["max_len"] = "long" }));
        Assert.Contains("option 'max_len': expected an integer", badValue.Message);

        registry.Register("short", o =>
        {
            var limit = o.GetInt("limit", 10);
            return new DelegateReward("short", i => i.Completion.Length <= limit ? 1f : 0f);
        });
        var composite = registry.CreateComposite("short(limit=3),tag_count(weight=2)");
        Assert.Equal(["short", "tag_count"], composite.Rewards.Select(r => r.Function.Name));
        Assert.Equal(2f, composite.Rewards[1].Weight);
    }

    [Fact]
    public void Inputs_are_built_from_objects_or_json_rows_and_name_the_bad_field()
    {
        var input = RewardInput.Create("c", new { answer = "42", numbers = new[] { 1, 2 }, target = 3 });
        Assert.Equal("42", input.RequireString("answer"));
        Assert.Equal([1L, 2L], input.RequireIntegerList("numbers"));
        Assert.Equal(3, input.RequireInteger("target"));
        var row = JsonDocument.Parse("""{"solution": "\\boxed{1}", "numbers": [1, "two"]}""").RootElement;
        var fromJson = new RewardInput(RewardPrompt.FromText("q"), "c", [1, 2], RewardColumns.From(row));
        Assert.Equal(@"\boxed{1}", fromJson.RequireString("solution"));
        var bad = Assert.Throws<RewardInputException>(() => fromJson.RequireIntegerList("numbers"));
        Assert.Equal("numbers", bad.Field);
        Assert.Contains("item 1", bad.Problem);
        Assert.Equal("target", Assert.Throws<RewardInputException>(() => fromJson.RequireInteger("target")).Field);
    }

    [Fact]
    public async Task Sample_rewards_tag_input_errors_with_the_completion_index()
    {
        var reward = new DelegateReward("needs_answer", i => i.RequireString("answer").Length);
        var e = await Assert.ThrowsAsync<RewardInputException>(() =>
            reward.ScoreAsync([Input("a", new { answer = "1" }), Input("b")]));
        Assert.Equal(1, e.Index);
        Assert.Equal("answer", e.Field);
    }
}
