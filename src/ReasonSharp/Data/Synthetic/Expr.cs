namespace ReasonSharp.Data;

/// <summary>
/// An integer expression tree with its value and its text. Parentheses are the fewest that keep the written order
/// of evaluation equal to the tree's: a lower-precedence child, or a right child of equal precedence, is wrapped.
/// Division is only built when exact, so values stay integers.
/// </summary>
public sealed record Expr(long Value, string Text, char Op = '\0', Expr? Left = null, Expr? Right = null)
{
    public static Expr Number(long value) =>
        new(value, value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public bool IsLeaf => Op == '\0';

    public static Expr Combine(Expr left, char op, Expr right)
    {
        var value = Apply(left.Value, op, right.Value)
            ?? throw new ArgumentException($"{left.Value}{op}{right.Value} is not an exact integer operation");
        var leftText = Precedence(left) < Precedence(op) ? $"({left.Text})" : left.Text;
        var rightText = Precedence(right) <= Precedence(op) ? $"({right.Text})" : right.Text;
        return new Expr(value, leftText + op + rightText, op, left, right);
    }

    /// <summary>a op b, or null when division is not exact (or by zero).</summary>
    public static long? Apply(long a, char op, long b) => op switch
    {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        '/' => b != 0 && a % b == 0 ? a / b : null,
        _ => throw new ArgumentException($"unknown operator '{op}'"),
    };

    /// <summary>The binary operations in evaluation order (left subtree, right subtree, then the node).</summary>
    public IEnumerable<Expr> Steps()
    {
        if (IsLeaf) yield break;
        foreach (var step in Left!.Steps()) yield return step;
        foreach (var step in Right!.Steps()) yield return step;
        yield return this;
    }

    static int Precedence(Expr e) => e.IsLeaf ? 3 : Precedence(e.Op);
    static int Precedence(char op) => op is '*' or '/' ? 2 : 1;
}
