using ReasonSharp.Configuration;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Recipes;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>Both options records bind from recipes by their snake_case keys, as a pipeline stage will.</summary>
public class EvaluationOptionsBindingTests
{
    [Fact]
    public void RecipeKeysBindOntoTheOptionsRecords()
    {
        var eval = OptionsBinder.ApplyOverrides(new EvalOptions(),
            ["k=8", "modes=[think, no_think]", "vote=answer_tag", "temperature=0.7", "limit=20", "greedy=false",
                "format_style=think_answer"]);
        Assert.Equal(8, eval.K);
        Assert.Equal([ThinkingMode.Think, ThinkingMode.NoThink], eval.Modes);
        Assert.Equal((AnswerVote.AnswerTag, 0.7, 20, "think_answer"),
            (eval.Vote, eval.Sampling.Temperature, eval.Limit, eval.FormatStyle));

        var sampling = OptionsBinder.ApplyOverrides(new RejectionSamplingOptions(),
            ["num_generations=4", "select=diverse", "keep=2", "dedup=true", "min_pass_rate=0.2", "max_pass_rate=0.8",
                "mode=no_think", "reward=accuracy,format", "threshold=2"]);
        Assert.Equal(new RejectionSamplingOptions
        {
            NumGenerations = 4, Select = SelectionMode.Diverse, Keep = 2, Dedup = true, MinPassRate = 0.2,
            MaxPassRate = 0.8, Mode = SampleMode.NoThink,
            Reward = "accuracy,format", Threshold = 2,
        }, sampling);
        var e = Assert.Throws<ReasonSharpException>(() =>
            OptionsBinder.ApplyOverrides(new RejectionSamplingOptions(), ["select=longest"]));
        Assert.Contains("select", e.Message);
    }
}
