using System.Globalization;

namespace ReasonSharp.Rewards.Verification;

/// <summary>
/// A parsed mathematical answer: an expression tree, a relation, a set, an interval, a tuple or a matrix.
/// <see cref="ToString"/> prints a canonical form used for structural comparison and in explanations.
/// </summary>
public abstract class MathNode
{
    public abstract IEnumerable<MathNode> Children { get; }
    public abstract override string ToString();

    /// <summary>True when a number was written anywhere inside (an assignment's left side has none).</summary>
    public bool ContainsNumberLiteral() => DescendantsAndSelf().Any(n => n is NumberNode);

    public bool ContainsFloat() => DescendantsAndSelf().Any(n => n is NumberNode { IsFloat: true });

    /// <summary>This node and every node below it, depth first, with an explicit stack (linear, any depth).</summary>
    public IEnumerable<MathNode> DescendantsAndSelf()
    {
        var stack = new Stack<MathNode>();
        stack.Push(this);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            yield return node;
            foreach (var child in node.Children.Reverse()) stack.Push(child);
        }
    }

    /// <summary>The number of nodes on the longest path from here to a leaf, counted without recursion.</summary>
    public int Depth()
    {
        var deepest = 0;
        var stack = new Stack<(MathNode Node, int Level)>();
        stack.Push((this, 1));
        while (stack.Count > 0)
        {
            var (node, level) = stack.Pop();
            deepest = Math.Max(deepest, level);
            foreach (var child in node.Children) stack.Push((child, level + 1));
        }
        return deepest;
    }
}

/// <summary>A number literal. <paramref name="digits"/>, the integer's canonical decimal text when known, is what
/// <see cref="ToString"/> prints (converting a long integer back to decimal costs seconds).</summary>
public sealed class NumberNode(BigRational value, bool isFloat, string? digits = null) : MathNode
{
    public BigRational Value { get; } = value;
    /// <summary>Written with a decimal point: compared after rounding, as math-verify does.</summary>
    public bool IsFloat { get; } = isFloat;
    public override IEnumerable<MathNode> Children => [];
    public override string ToString() => IsFloat
        ? Value.ToDouble().ToString("R", CultureInfo.InvariantCulture)
        : digits ?? Value.ToString();
}

/// <summary>A variable or a named thing (\text{Evelyn}, a_{3}, 204_5).</summary>
public sealed class SymbolNode(string name, bool isText = false) : MathNode
{
    public string Name { get; } = name;
    public bool IsText { get; } = isText;
    public override IEnumerable<MathNode> Children => [];
    public override string ToString() => Name;
}

public enum MathConstant { Pi, E, Infinity }

public sealed class ConstantNode(MathConstant kind) : MathNode
{
    public MathConstant Kind { get; } = kind;
    public override IEnumerable<MathNode> Children => [];
    public override string ToString() => Kind switch { MathConstant.Pi => "pi", MathConstant.E => "E", _ => "oo" };
}

public sealed class AddNode(IReadOnlyList<MathNode> terms) : MathNode
{
    public IReadOnlyList<MathNode> Terms { get; } = terms;
    public override IEnumerable<MathNode> Children => Terms;
    public override string ToString() => "(" + string.Join(" + ", Terms) + ")";
}

public sealed class NegNode(MathNode operand) : MathNode
{
    public MathNode Operand { get; } = operand;
    public override IEnumerable<MathNode> Children => [Operand];
    public override string ToString() => $"-{Operand}";
}

public sealed class MulNode(IReadOnlyList<MathNode> factors) : MathNode
{
    public IReadOnlyList<MathNode> Factors { get; } = factors;
    public override IEnumerable<MathNode> Children => Factors;
    public override string ToString() => "(" + string.Join("*", Factors) + ")";
}

public sealed class DivNode(MathNode numerator, MathNode denominator) : MathNode
{
    public MathNode Numerator { get; } = numerator;
    public MathNode Denominator { get; } = denominator;
    public override IEnumerable<MathNode> Children => [Numerator, Denominator];
    public override string ToString() => $"({Numerator})/({Denominator})";
}

public sealed class PowNode(MathNode @base, MathNode exponent) : MathNode
{
    public MathNode Base { get; } = @base;
    public MathNode Exponent { get; } = exponent;
    public override IEnumerable<MathNode> Children => [Base, Exponent];
    public override string ToString() => $"({Base})^({Exponent})";
}

/// <summary>A known function (sin, log, sqrt, abs, floor, factorial, …) or an undefined one such as f(x).</summary>
public sealed class FuncNode(string name, IReadOnlyList<MathNode> args, bool isUndefined = false) : MathNode
{
    public string Name { get; } = name;
    public IReadOnlyList<MathNode> Args { get; } = args;
    public bool IsUndefined { get; } = isUndefined;
    public override IEnumerable<MathNode> Children => Args;
    public override string ToString() => $"{Name}({string.Join(", ", Args)})";
}

/// <summary>X%: worth X/100, but an unmarked X also matches it (math-verify accepts 28 for 28%).</summary>
public sealed class PercentNode(MathNode value) : MathNode
{
    public MathNode Value { get; } = value;
    public override IEnumerable<MathNode> Children => [Value];
    public override string ToString() => $"{Value}%";
}

public enum RelationKind { Equal, NotEqual, Less, LessOrEqual, Greater, GreaterOrEqual }

public sealed class RelationNode(RelationKind kind, MathNode left, MathNode right) : MathNode
{
    public RelationKind Kind { get; } = kind;
    public MathNode Left { get; } = left;
    public MathNode Right { get; } = right;
    public override IEnumerable<MathNode> Children => [Left, Right];
    public override string ToString() => $"{Left} {Symbol(Kind)} {Right}";

    public static string Symbol(RelationKind kind) => kind switch
    {
        RelationKind.Equal => "=",
        RelationKind.NotEqual => "!=",
        RelationKind.Less => "<",
        RelationKind.LessOrEqual => "<=",
        RelationKind.Greater => ">",
        _ => ">=",
    };
}

/// <summary>A chain such as a = b = c or -2 ≤ x ≤ 7: the conjunction of consecutive relations.</summary>
public sealed class RelationChainNode(IReadOnlyList<RelationNode> relations) : MathNode
{
    public IReadOnlyList<RelationNode> Relations { get; } = relations;
    public override IEnumerable<MathNode> Children => Relations;
    public override string ToString() => string.Join(" & ", Relations);
}

public sealed class SetNode(IReadOnlyList<MathNode> elements) : MathNode
{
    public IReadOnlyList<MathNode> Elements { get; } = elements;
    public override IEnumerable<MathNode> Children => Elements;
    public override string ToString() => "{" + string.Join(", ", Elements) + "}";
}

public sealed class IntervalNode(MathNode low, MathNode high, bool lowOpen, bool highOpen) : MathNode
{
    public MathNode Low { get; } = low;
    public MathNode High { get; } = high;
    public bool LowOpen { get; } = lowOpen;
    public bool HighOpen { get; } = highOpen;
    public override IEnumerable<MathNode> Children => [Low, High];
    public override string ToString() => $"{(LowOpen ? "(" : "[")}{Low}, {High}{(HighOpen ? ")" : "]")}";
}

public sealed class UnionNode(IReadOnlyList<MathNode> parts) : MathNode
{
    public IReadOnlyList<MathNode> Parts { get; } = parts;
    public override IEnumerable<MathNode> Children => Parts;
    public override string ToString() => string.Join(" U ", Parts);
}

/// <summary>(a, b, …). A pair written with round brackets may also mean an open interval.</summary>
public sealed class TupleNode(IReadOnlyList<MathNode> items, bool couldBeOpenInterval) : MathNode
{
    public IReadOnlyList<MathNode> Items { get; } = items;
    public bool CouldBeOpenInterval { get; } = couldBeOpenInterval;
    public override IEnumerable<MathNode> Children => Items;
    public override string ToString() => "(" + string.Join(", ", Items) + ")";
}

public sealed class MatrixNode(IReadOnlyList<IReadOnlyList<MathNode>> rows) : MathNode
{
    public IReadOnlyList<IReadOnlyList<MathNode>> Rows { get; } = rows;
    public int RowCount => Rows.Count;
    public int ColumnCount => Rows.Count == 0 ? 0 : Rows[0].Count;
    public override IEnumerable<MathNode> Children => Rows.SelectMany(r => r);
    public override string ToString() => "[" + string.Join("; ", Rows.Select(r => string.Join(", ", r))) + "]";
}
