using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Rewards;

namespace ReasonSharp.Tests.Data;

/// <summary>Each synthetic task is verified by the reward its RewardName names, exactly as GRPO and rejection sampling
/// verify it.</summary>
public class SyntheticRewardTests
{
    static readonly RewardRegistry Registry = RewardRegistry.CreateDefault();

    static RewardInput Input(SyntheticProblem problem, string completion) =>
        RewardInput.Create(completion,
            new JsonObject(problem.Columns.ToDictionary(kv => kv.Key, kv => (JsonNode?)kv.Value.DeepClone())),
            prompt: RewardPrompt.FromText(problem.Prompt));

    static string Perturb(SyntheticProblem problem) => problem.Task == "countdown"
        ? problem.Completion.Replace("</answer>", "+1</answer>")
        : problem.Completion.Replace($"{problem.Columns["answer"]}\n</answer>",
            $"{long.Parse(problem.Columns["answer"].ToString()) + 1}\n</answer>");

    [Theory]
    [InlineData("countdown")]
    [InlineData("arithmetic")]
    [InlineData("word")]
    public async Task TeacherTracesScoreFullMarksOn10000ProblemsAndPerturbedAnswersFail(string name)
    {
        var task = SyntheticTasks.ByName(name);
        var reward = Registry.Create(task.RewardName);
        var random = new Random(11);
        var problems =
            Enumerable.Range(0, 10_000).Select(i => task.Generate(random, 1 + i % task.MaxDifficulty)).ToList();
        var scores =
            await reward.ScoreAsync(problems.Select(p => Input(p, p.Completion)).ToList(), CancellationToken.None);
        var failures =
            problems.Zip(scores).Where(p => p.Second != 1f).Take(3).Select(p =>
            $"{p.First.Completion} → {p.Second}").ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        var perturbed =
            problems.Take(1000).Select(p => (p, text: Perturb(p))).Where(x => x.text != x.p.Completion).ToList();
        Assert.True(perturbed.Count >= 900, $"only {perturbed.Count} answers could be perturbed");
        var wrong = await reward.ScoreAsync(perturbed.Select(x => Input(x.p, x.text)).ToList(), CancellationToken.None);
        Assert.All(wrong, s => Assert.True(s < 1f, $"a perturbed answer scored {s}"));
    }
}
