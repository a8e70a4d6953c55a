using System.Text.Json;
using ReasonSharp.Data;

namespace ReasonSharp.Tests.Training;

/// <summary>The task the learning tests train on: two-operand addition and subtraction of 1–2 digit numbers, worked digit by digit by ArithmeticTask's teacher.</summary>
public static class LearningTasks
{
    public static readonly ArithmeticOptions TwoOperands = new(Operands: 2, MinDigits: 1, MaxDigits: 2, Multiply: false, Divide: false, MaxMultiplierDigits: 1);

    public static List<SyntheticProblem> DistinctProblems(int count, int seed)
    {
        var task = new ArithmeticTask();
        var random = new Random(seed);
        var keys = new HashSet<string>();
        var problems = new List<SyntheticProblem>();
        while (problems.Count < count)
        {
            var problem = task.Generate(random, TwoOperands, difficulty: 1);
            if (keys.Add(problem.Key)) problems.Add(problem);
        }
        return problems;
    }

    public static List<Example> Examples(IEnumerable<SyntheticProblem> problems) =>
        problems.Select((p, i) => new ExampleConverter().Convert(new DataRow(JsonSerializer.SerializeToElement(p.ToRow()), RowOrigin.Line("arithmetic", i + 1)))).ToList();
}
