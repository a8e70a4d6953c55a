using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Jobs;

namespace ReasonSharp.Tests.Data;

public class SyntheticTaskTests
{
    const int ProblemsPerTask = 10_000;

    // 2,000 problems at each of the 5 levels, one seeded stream per task.
    static IEnumerable<SyntheticProblem> Problems(ISyntheticTask task, int seed = 7)
    {
        var random = new Random(seed);
        for (var i = 0; i < ProblemsPerTask; i++)
            yield return task.Generate(random, 1 + i % task.MaxDifficulty);
    }

    [Fact]
    public void Countdown_teacher_is_correct_on_10000_problems_and_every_written_step_is_true()
    {
        var task = new CountdownTask();
        var backtracked = 0;
        foreach (var problem in Problems(task))
        {
            var numbers = problem.Columns["numbers"].AsArray().Select(n => n!.GetValue<long>()).ToList();
            var target = problem.Columns["target"].GetValue<long>();
            Assert.True(ExactCheck.CountdownCorrect(problem.Completion, numbers, target), problem.Completion);
            Assert.True(ExactCheck.CheckEquations(problem.Trace.Thinking) >= numbers.Count - 1);
            Assert.EndsWith($"Found {target}.", problem.Trace.Thinking);
            if (problem.Trace.Thinking.Contains("backtrack")) backtracked++;
        }
        Assert.Equal("countdown", task.RewardName);
        // The search shows failed tries in a real share of traces, not in all or none.
        Assert.InRange(backtracked, ProblemsPerTask / 10, ProblemsPerTask * 9 / 10);
    }

    [Fact]
    public void Arithmetic_teacher_is_correct_on_10000_problems_and_every_carry_and_step_is_true()
    {
        var task = new ArithmeticTask();
        foreach (var problem in Problems(task))
        {
            var gold = problem.Columns["answer"].GetValue<string>();
            // The gold is recomputed independently from the prompt's expression.
            var expression = problem.Prompt["Compute ".Length..^1];
            Assert.Equal(ExactCheck.Evaluate(expression), ExactCheck.Evaluate(gold));
            Assert.True(ExactCheck.NumberCorrect(problem.Completion, gold), problem.Completion);
            Assert.True(ExactCheck.CheckEquations(problem.Trace.Thinking) >= 1, problem.Completion);
        }
        Assert.Equal("accuracy", task.RewardName);
    }

    [Fact]
    public void Word_problem_teacher_is_correct_on_10000_problems_and_its_last_step_is_the_answer()
    {
        var task = new WordProblemTask();
        var templates = new HashSet<string>();
        foreach (var problem in Problems(task))
        {
            var gold = problem.Columns["answer"].GetValue<string>();
            Assert.True(ExactCheck.NumberCorrect(problem.Completion, gold), problem.Completion);
            var lines = problem.Trace.Thinking.Split('\n');
            Assert.InRange(lines.Length, 2, 4);
            Assert.Equal(lines.Length, ExactCheck.CheckEquations(problem.Trace.Thinking));
            Assert.Contains($"={gold}", lines[^1]);
            // Every number the steps start from is stated in the question (or is a fixed fact like 4 legs).
            templates.Add(problem.Key.Split(':')[1]);
        }
        Assert.Equal(WordTemplates.All.Count, templates.Count);
    }

    [Fact]
    public void Perturbed_answers_are_rejected()
    {
        var random = new Random(3);
        var countdown = new CountdownTask();
        for (var i = 0; i < 500; i++)
        {
            var p = countdown.Generate(random, 1 + i % 5);
            var numbers = p.Columns["numbers"].AsArray().Select(n => n!.GetValue<long>()).ToList();
            var target = p.Columns["target"].GetValue<long>();
            var answer = p.Trace.Answer;
            Assert.False(ExactCheck.CountdownCorrect(p.Completion, numbers, target + 1));
            // a number used too often
            Assert.False(ExactCheck.CountdownCorrect(Replace(p, answer + "+1"), numbers, target));
            // numbers left out
            Assert.False(ExactCheck.CountdownCorrect(Replace(p, numbers[0].ToString()), numbers, target));
            var other = numbers.ToList(); other[0] += 1;
            // different numbers
            Assert.False(ExactCheck.CountdownCorrect(p.Completion, other, target));
        }
        foreach (ISyntheticTask task in new ISyntheticTask[] { new ArithmeticTask(), new WordProblemTask() })
            for (var i = 0; i < 500; i++)
            {
                var p = task.Generate(random, 1 + i % 5);
                var gold = p.Columns["answer"].GetValue<string>();
                Assert.False(ExactCheck.NumberCorrect(Replace(p, (long.Parse(gold) + 1).ToString()), gold));
                Assert.False(ExactCheck.NumberCorrect(p.Trace.Thinking, gold)); // no answer tag
            }
    }

    static string Replace(SyntheticProblem p, string answer) =>
        (p.Trace with { Answer = answer }).Render(TraceStyle.ThinkAnswer);

    [Theory]
    [InlineData("countdown")]
    [InlineData("arithmetic")]
    [InlineData("word")]
    public void Easiest_level_keeps_traces_short_and_harder_levels_longer(string name)
    {
        var task = SyntheticTasks.ByName(name);
        int Median(int level) => SyntheticDataset.Generate(task, 500, level, seed: 1)
            .Select(p => p.Completion.Length).Order().ElementAt(250);
        var easy = Median(1);
        Assert.InRange(easy, 80, 300);
        Assert.True(Median(5) > easy, $"{name}: level 5 median {Median(5)} <= level 1 median {easy}");
    }

    [Fact]
    public void Generation_is_seeded_rows_are_distinct_and_the_split_shares_no_problem()
    {
        var task = new CountdownTask();
        var first = SyntheticDataset.Generate(task, 3000, 1, seed: 11);
        var again = SyntheticDataset.Generate(task, 3000, 1, seed: 11);
        var other = SyntheticDataset.Generate(task, 3000, 1, seed: 12);
        Assert.Equal(first.Select(p => p.ToRow().ToJsonString()), again.Select(p => p.ToRow().ToJsonString()));
        Assert.NotEqual(first.Select(p => p.Key), other.Select(p => p.Key));
        Assert.Equal(3000, first.Select(p => p.Key).Distinct().Count());

        var split = first.SplitTrainTest(0.1, seed: 11);
        Assert.Equal((2700, 300), (split.Train.Count, split.Test.Count));
        Assert.Empty(split.Train.Select(p => p.Key).Intersect(split.Test.Select(p => p.Key)));
    }

    [Fact]
    public void Rows_have_the_standard_columns_and_read_back_as_prompt_completion_examples()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("countdown.jsonl");
        var problems = SyntheticDataset.Generate(new CountdownTask(), 50, 2, seed: 5);
        Assert.Equal(50, SyntheticDataset.WriteJsonl(path, problems));
        var examples = DatasetReader.ReadExamples(path).ToList();
        Assert.Equal(50, examples.Count);
        var (example, problem) = (examples[0], problems[0]);
        Assert.Equal([ChatMessage.FromUser(problem.Prompt), ChatMessage.FromAssistant(problem.Completion)],
            example.Messages);
        Assert.Equal(problem.Columns["target"].GetValue<long>(), example.Extra["target"].GetInt64());
        Assert.Equal(JsonValueKind.Array, example.Extra["numbers"].ValueKind);
        Assert.Equal("countdown", example.Extra["task"].GetString());
        Assert.Null(example.GoldAnswer);
        Assert.Contains("<think>", File.ReadAllText(path)); // written unescaped

        var arithmetic = SyntheticDataset.Generate(new ArithmeticTask(), 5, 1, seed: 5);
        SyntheticDataset.WriteJsonl(path, arithmetic);
        Assert.Equal(arithmetic.Select(p => p.Columns["answer"].GetValue<string>()),
            DatasetReader.ReadExamples(path).Select(e => e.GoldAnswer));
    }

    [Fact]
    public void Impossible_requests_are_errors_not_short_files()
    {
        var unreachable = Assert.Throws<ReasonSharpException>(() =>
            new CountdownTask().Generate(new Random(0), new CountdownOptions(2, 2, 50, 60, 0), 0));
        Assert.Contains("no reachable target", unreachable.Message);
        var tooMany = Assert.Throws<ReasonSharpException>(() => SyntheticDataset.Generate(new CoinTask(), 3, 1, 0));
        Assert.Equal("--n: found only 2 distinct coin problems at difficulty 1 in 10000 draws; ask for fewer or " +
            "raise --difficulty", tooMany.Message);
        Assert.Throws<ReasonSharpException>(() => new ArithmeticTask().Generate(new Random(0), 6));
    }

    [Fact]
    public void Column_arithmetic_writes_carries_borrows_partials_and_long_division()
    {
        Assert.Equal("47+38: 7+8=15 carry 1, 4+3+1=8, so 85", ColumnArithmetic.Explain(47, '+', 38));
        Assert.Equal("85-29: 15-9=6 borrow 1, 8-2-1=5, so 56", ColumnArithmetic.Explain(85, '-', 29));
        Assert.Equal("100-1: 10-1=9 borrow 1, 10-1=9 borrow 1, 1-1=0, so 99", ColumnArithmetic.Explain(100, '-', 1));
        Assert.Equal("47*6: 7*6=42 carry 4, 4*6+4=28, so 282", ColumnArithmetic.Explain(47, '*', 6));
        Assert.Equal("47*36: 47*6=282, 47*30=1410, 282+1410=1692", ColumnArithmetic.Explain(47, '*', 36));
        Assert.Equal("282/6: 28/6=4 r4, 42/6=7, so 47", ColumnArithmetic.Explain(282, '/', 6));
        Assert.Equal("7*8=56", ColumnArithmetic.Explain(7, '*', 8));
    }

    // A task with only two distinct problems, to see the generator refuse to pad with repeats.
    sealed class CoinTask : ISyntheticTask
    {
        public string Name => "coin";
        public string RewardName => "accuracy";
        public int MaxDifficulty => 1;

        public SyntheticProblem Generate(Random random, int difficulty)
        {
            var side = random.Next(2) == 0 ? "heads" : "tails";
            return new SyntheticProblem(Name, difficulty, side, $"Say {side}.", new ReasoningTrace("", side),
                new Dictionary<string, System.Text.Json.Nodes.JsonNode> { ["answer"] = side });
        }
    }

    [Fact]
    public void Answer_only_traces_are_an_exact_seeded_share_of_the_train_split_with_the_answer_kept()
    {
        var split = SyntheticDataset.GenerateSplit(new ArithmeticTask(), 400, 1, seed: 3, testFraction: 0.1);
        var mixed = SyntheticDataset.WithAnswerOnlyTraces(split.Train, 0.6, seed: 3);
        Assert.Equal(split.Train.Count, mixed.Count);
        Assert.Equal((int)Math.Round(0.6 * split.Train.Count), mixed.Count(p => p.AnswerOnly));
        Assert.Equal(mixed.Select(p => p.AnswerOnly),
            SyntheticDataset.WithAnswerOnlyTraces(split.Train, 0.6, seed: 3).Select(p => p.AnswerOnly));
        for (int i = 0; i < mixed.Count; i++)
        {
            Assert.Equal(split.Train[i].Key, mixed[i].Key);
            Assert.Equal(split.Train[i].Trace.Answer, mixed[i].Trace.Answer);
            if (mixed[i].AnswerOnly)
            {
                Assert.Equal($"<think>\n\n</think>\n<answer>\n{mixed[i].Trace.Answer}\n</answer>", mixed[i].Completion);
                Assert.True(mixed[i].ToRow()["answer_only"]!.GetValue<bool>());
            }
            else Assert.Equal(split.Train[i].Completion, mixed[i].Completion);
        }
        Assert.Throws<ReasonSharpException>(() => SyntheticDataset.WithAnswerOnlyTraces(split.Train, 1.5, seed: 3));
    }

    [Fact]
    public void The_data_job_writes_the_worked_traces_alone_for_a_curriculum()
    {
        var folder = Directory.CreateTempSubdirectory("rs-traces").FullName;
        try
        {
            var options = new DataJobOptions { N = 300, TestFraction = 0.1, AnswerOnlyFraction = 0.55, Seed = 5 };
            var result = new DataJob().Run(options, new RunContext { Name = "data", OutputDir = folder });
            var train = File.ReadAllLines(result.Outputs["train"]).Select(l => JsonDocument.Parse(l).RootElement)
                .ToList();
            var traces = File.ReadAllLines(result.Outputs["traces"]);
            var worked = train.Where(r => !r.TryGetProperty("answer_only", out _)).Select(r => r.GetRawText())
                .ToList();
            Assert.Equal(Path.Combine(folder, "arithmetic.traces.jsonl"), result.Outputs["traces"]);
            Assert.Equal(train.Count - (int)Math.Round(0.55 * train.Count), traces.Length);
            Assert.Equal(worked, traces.Select(l => JsonDocument.Parse(l).RootElement.GetRawText()));
            Assert.All(traces, l => Assert.Contains("so ", l));

            var plain = new DataJob().Run(options with { AnswerOnlyFraction = 0 },
                new RunContext { Name = "data", OutputDir = Path.Combine(folder, "plain") });
            Assert.False(plain.Outputs.ContainsKey("traces"));
        }
        finally { Directory.Delete(folder, true); }
    }
}
