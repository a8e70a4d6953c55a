using System.Text.Json.Nodes;

namespace ReasonSharp.Data;

/// <summary>
/// Arithmetic knobs: operand count (2+), the largest operand's digits, which operations, and the most digits a
/// multiplier may have (1 keeps every product a digit-by-digit one).
/// </summary>
public sealed record ArithmeticOptions(int Operands, int MinDigits, int MaxDigits, bool Multiply, bool Divide,
    int MaxMultiplierDigits)
{
    public static ArithmeticOptions ForLevel(int level) => level switch
    {
        1 => new(3, 2, 2, false, false, 1),
        2 => new(3, 1, 3, true, false, 1),
        3 => new(4, 1, 3, true, true, 1),
        4 => new(4, 1, 3, true, true, 2),
        _ => new(5, 1, 4, true, true, 2),
    };

    public void Validate()
    {
        if (Operands < 2 || MinDigits < 1 || MaxDigits < MinDigits || MaxDigits > 9 || MaxMultiplierDigits < 1)
            throw new ReasonSharpException($"arithmetic options: expected 2+ operands, 1 <= MinDigits <= MaxDigits " +
                $"<= 9, MaxMultiplierDigits >= 1; got {this}");
    }
}

/// <summary>
/// Multi-step arithmetic on nested expressions such as "(347+58)*6-129". The teacher works the operations in order,
/// innermost first, showing carries, borrows, partial products and long-division steps. Verified by "accuracy" on
/// the `answer` column.
/// </summary>
public sealed class ArithmeticTask : ISyntheticTask
{
    public string Name => "arithmetic";
    public string RewardName => "accuracy";
    public int MaxDifficulty => 5;

    public SyntheticProblem Generate(Random random, int difficulty)
    {
        SyntheticTasks.CheckDifficulty(this, difficulty);
        return Generate(random, ArithmeticOptions.ForLevel(difficulty), difficulty);
    }

    public SyntheticProblem Generate(Random random, ArithmeticOptions options, int difficulty)
    {
        options.Validate();
        var expression = RandomExpression(random, options, options.Operands);
        return Teach(expression, difficulty);
    }

    /// <summary>
    /// Expression texts are at most (tree shapes: Catalan(operands − 1)) × operations^(operands − 1) ×
    /// numbers^operands; exact divisions, short multipliers and the result bound only remove some.
    /// </summary>
    public long? MaxDistinctProblems(int difficulty)
    {
        SyntheticTasks.CheckDifficulty(this, difficulty);
        var o = ArithmeticOptions.ForLevel(difficulty);
        double numbers = Pow10(o.MaxDigits) - Pow10(o.MinDigits - 1);
        int operations = 2 + (o.Multiply ? 1 : 0) + (o.Divide ? 1 : 0);
        double shapes = 1;
        for (int n = 0; n < o.Operands - 1; n++) shapes = shapes * 2 * (2 * n + 1) / (n + 2);
        return SyntheticTasks.Saturating(shapes * Math.Pow(operations, o.Operands - 1) * Math.Pow(numbers, o.Operands));
    }

    /// <summary>The teacher: a trace working <paramref name="expression"/> step by step.</summary>
    public SyntheticProblem Teach(Expr expression, int difficulty)
    {
        var lines = expression.Steps().Select(s => ColumnArithmetic.Explain(s.Left!.Value, s.Op, s.Right!.Value) + ".");
        var answer = expression.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new SyntheticProblem(
            Name, difficulty,
            Key: $"arithmetic:{expression.Text}",
            Prompt: $"Compute {expression.Text}.",
            Trace: new ReasoningTrace(string.Join("\n", lines), answer),
            Columns: new Dictionary<string, JsonNode> { ["answer"] = answer });
    }

    // A random tree of `operands` leaves. Values stay non-negative, divisions exact, multipliers short, results
    // bounded.
    static Expr RandomExpression(Random random, ArithmeticOptions options, int operands)
    {
        var limit = Pow10(options.MaxDigits + 2);
        while (true)
        {
            if (operands == 1) return Expr.Number(RandomNumber(random, options.MinDigits, options.MaxDigits));
            var leftCount = random.Next(1, operands);
            var op = RandomOperation(random, options);
            Expr left, right;
            if (op == '/')
            {
                right = Expr.Number(RandomNumber(random, 1, options.MaxMultiplierDigits, min: 2));
                left = RandomExpression(random, options, operands - 1);
                if (left.Value % right.Value != 0 || left.Value == 0) continue;
            }
            else
            {
                left = RandomExpression(random, options, leftCount);
                right = RandomExpression(random, options, operands - leftCount);
                if (op == '-' && left.Value < right.Value) (left, right) = (right, left);
                if (op == '*' && Math.Min(left.Value, right.Value) >= Pow10(options.MaxMultiplierDigits)) continue;
            }
            var result = Expr.Combine(left, op, right);
            if (result.Value <= limit) return result;
        }
    }

    static char RandomOperation(Random random, ArithmeticOptions options)
    {
        var ops = new List<char> { '+', '-' };
        if (options.Multiply) ops.Add('*');
        if (options.Divide) ops.Add('/');
        return ops[random.Next(ops.Count)];
    }

    static long RandomNumber(Random random, int minDigits, int maxDigits, long min = 1)
    {
        var digits = random.Next(minDigits, maxDigits + 1);
        var low = Math.Max(min, digits == 1 ? 1 : Pow10(digits - 1));
        return random.NextInt64(low, Pow10(digits));
    }

    static long Pow10(int exponent) => (long)Math.Pow(10, exponent);
}
