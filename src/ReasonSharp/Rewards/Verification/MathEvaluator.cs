using System.Numerics;

namespace ReasonSharp.Rewards.Verification;

/// <summary>Evaluates expression trees exactly (rationals) where possible and numerically (doubles)
/// otherwise.</summary>
internal static class MathEvaluator
{
    /// <summary>The exact rational value, or null when the tree is not a rational constant (symbols, π, √2,
    /// …).</summary>
    public static BigRational? TryExact(MathNode node, Deadline deadline)
    {
        deadline.Check();
        switch (node)
        {
            case NumberNode number: return number.Value;
            case NegNode neg: return TryExact(neg.Operand, deadline) is { } v ? -v : null;
            case PercentNode percent: return TryExact(percent.Value, deadline) is { } p ? p / 100 : null;
            case AddNode add:
                {
                    var sum = BigRational.Zero;
                    foreach (var term in add.Terms)
                    {
                        if (TryExact(term, deadline) is not { } t) return null;
                        sum += t;
                    }
                    return sum;
                }
            case MulNode mul:
                {
                    var product = BigRational.One;
                    foreach (var factor in mul.Factors)
                    {
                        if (TryExact(factor, deadline) is not { } f) return null;
                        product *= f;
                    }
                    return product;
                }
            case DivNode div:
                if (TryExact(div.Numerator, deadline) is not { } n || TryExact(div.Denominator, deadline) is not { } d
                    || d.IsZero) return null;
                return n / d;
            case PowNode pow:
                return TryExact(pow.Base, deadline) is { } b && TryExact(pow.Exponent, deadline) is { } e
                    ? ExactPower(b, e) : null;
            case FuncNode func:
                return ExactFunction(func, deadline);
            default:
                return null;
        }
    }

    static BigRational? ExactPower(BigRational value, BigRational exponent)
    {
        if (value.IsZero) return exponent.Sign > 0 ? BigRational.Zero : null;
        if (BigInteger.Abs(exponent.Denominator) > 12) return null;
        var p = exponent.Numerator;
        var q = (int)exponent.Denominator;
        var bits = Math.Max(BigInteger.Abs(value.Numerator).GetBitLength(), value.Denominator.GetBitLength());
        if (BigInteger.Abs(p) * bits > 20_000) return null;
        var root = q == 1 ? value : ExactRoot(value, q);
        return root is { } r ? BigRational.Pow(r, (int)p) : null;
    }

    static BigRational? ExactRoot(BigRational value, int degree)
    {
        if (value.Sign < 0) return degree % 2 == 1 && ExactRoot(-value, degree) is { } r ? -r : null;
        return IntegerRoot(value.Numerator, degree) is { } n && IntegerRoot(value.Denominator, degree) is { } d
            ? new BigRational(n, d) : null;
    }

    static BigInteger? IntegerRoot(BigInteger value, int degree)
    {
        if (value.IsZero || value.IsOne) return value;
        var guess = new BigInteger(Math.Round(Math.Exp(BigInteger.Log(value) / degree)));
        for (var delta = -1; delta <= 1; delta++)
        {
            var candidate = guess + delta;
            if (candidate.Sign > 0 && BigInteger.Pow(candidate, degree) == value) return candidate;
        }
        return null;
    }

    static BigRational? ExactFunction(FuncNode func, Deadline deadline)
    {
        if (func.IsUndefined) return null;
        var args = new BigRational[func.Args.Count];
        for (var i = 0; i < args.Length; i++)
        {
            if (TryExact(func.Args[i], deadline) is not { } a) return null;
            args[i] = a;
        }
        switch (func.Name)
        {
            case "sqrt": return ExactRoot(args[0], 2);
            case "root":
                return args[1].IsInteger && args[1].Sign > 0 && args[1].Numerator < 50
                    ? ExactRoot(args[0], (int)args[1].Numerator) : null;
            case "abs": return args[0].Sign < 0 ? -args[0] : args[0];
            case "floor": return Floor(args[0]);
            case "ceil": return -Floor(-args[0]);
            case "factorial":
                if (!args[0].IsInteger || args[0].Sign < 0 || args[0].Numerator > 1000) return null;
                var result = BigInteger.One;
                for (var k = 2; k <= (int)args[0].Numerator; k++)
                {
                    if (k % 64 == 0) deadline.Check();
                    result *= k;
                }
                return result;
            case "binom":
                if (!args[0].IsInteger || !args[1].IsInteger || args[1].Sign < 0
                    || args[0].Numerator > 10_000) return null;
                var n = args[0].Numerator;
                var k2 = args[1].Numerator;
                if (k2 > n) return BigRational.Zero;
                BigRational c = BigRational.One;
                for (var j = BigInteger.Zero; j < k2; j++)
                {
                    if (j % 64 == 0) deadline.Check();
                    c = c * (n - j) / (j + 1);
                }
                return c;
            case "max": return args.Max();
            case "min": return args.Min();
            default: return null;
        }
    }

    static BigRational Floor(BigRational value)
    {
        var q = BigInteger.DivRem(value.Numerator, value.Denominator, out var r);
        return r.Sign < 0 ? q - 1 : q;
    }

    /// <summary>The value with the free atoms taken from <paramref name="variables"/>; NaN when undefined or not a
    /// scalar.</summary>
    public static double Evaluate(MathNode node, IReadOnlyDictionary<string, double> variables, Deadline deadline)
    {
        deadline.Check();
        switch (node)
        {
            case NumberNode number: return number.Value.ToDouble();
            case SymbolNode symbol: return variables.TryGetValue(symbol.Name, out var v) ? v : double.NaN;
            case ConstantNode constant:
                return constant.Kind switch { MathConstant.Pi => Math.PI, MathConstant.E => Math.E, _ => double.PositiveInfinity };
            case NegNode neg: return -Evaluate(neg.Operand, variables, deadline);
            case PercentNode percent: return Evaluate(percent.Value, variables, deadline) / 100;
            case AddNode add: return add.Terms.Sum(t => Evaluate(t, variables, deadline));
            case MulNode mul:
                {
                    var product = 1.0;
                    foreach (var f in mul.Factors) product *= Evaluate(f, variables, deadline);
                    return product;
                }
            case DivNode div:
                return Evaluate(div.Numerator, variables, deadline) / Evaluate(div.Denominator, variables, deadline);
            case PowNode pow:
                {
                    var b = Evaluate(pow.Base, variables, deadline);
                    var e = Evaluate(pow.Exponent, variables, deadline);
                    // Odd roots of negative numbers stay real (∛-8 = -2).
                    if (b < 0 && TryExact(pow.Exponent, deadline) is { } exact && !exact.Denominator.IsEven
                        && !exact.IsInteger)
                        return (exact.Numerator.IsEven ? 1 : -1) * Math.Pow(-b, e);
                    return Math.Pow(b, e);
                }
            case FuncNode func:
                if (func.IsUndefined) return variables.TryGetValue(func.ToString(), out var u) ? u : double.NaN;
                return EvaluateFunction(func.Name, func.Args.Select(a => Evaluate(a, variables, deadline)).ToArray());
            default:
                return double.NaN;
        }
    }

    static double EvaluateFunction(string name, double[] a) => name switch
    {
        "sin" => Math.Sin(a[0]),
        "cos" => Math.Cos(a[0]),
        "tan" => Math.Tan(a[0]),
        "cot" => 1 / Math.Tan(a[0]),
        "sec" => 1 / Math.Cos(a[0]),
        "csc" => 1 / Math.Sin(a[0]),
        "arcsin" => Math.Asin(a[0]),
        "arccos" => Math.Acos(a[0]),
        "arctan" => Math.Atan(a[0]),
        "arccot" => Math.Atan(1 / a[0]),
        "arcsec" => Math.Acos(1 / a[0]),
        "arccsc" => Math.Asin(1 / a[0]),
        "sinh" => Math.Sinh(a[0]),
        "cosh" => Math.Cosh(a[0]),
        "tanh" => Math.Tanh(a[0]),
        "coth" => 1 / Math.Tanh(a[0]),
        "ln" => Math.Log(a[0]),
        "lg" => Math.Log10(a[0]),
        "log" => a.Length == 2 ? Math.Log(a[0]) / Math.Log(a[1]) : Math.Log(a[0]),
        "exp" => Math.Exp(a[0]),
        "sqrt" => Math.Sqrt(a[0]),
        "root" => a[0] < 0 && Math.Abs(a[1] % 2) == 1 ? -Math.Pow(-a[0], 1 / a[1]) : Math.Pow(a[0], 1 / a[1]),
        "abs" => Math.Abs(a[0]),
        "floor" => Math.Floor(a[0]),
        "ceil" => Math.Ceiling(a[0]),
        "factorial" => a[0] >= 0 && a[0] <= 170 && a[0] == Math.Floor(a[0]) ? Factorial((int)a[0]) : double.NaN,
        "binom" => Factorial((int)a[0]) / (Factorial((int)a[1]) * Factorial((int)(a[0] - a[1]))),
        "max" => a.Max(),
        "min" => a.Min(),
        _ => double.NaN,
    };

    static double Factorial(int n)
    {
        if (n < 0 || n > 170) return double.NaN;
        var result = 1.0;
        for (var k = 2; k <= n; k++) result *= k;
        return result;
    }

    /// <summary>Variables and undefined function applications (f(x)) that need values, by the key Evaluate looks
    /// up.</summary>
    public static SortedSet<string> FreeAtoms(MathNode node)
    {
        var atoms = new SortedSet<string>(StringComparer.Ordinal);
        Collect(node, atoms);
        return atoms;
    }

    static void Collect(MathNode node, SortedSet<string> atoms)
    {
        switch (node)
        {
            case SymbolNode symbol: atoms.Add(symbol.Name); return;
            case FuncNode { IsUndefined: true } func: atoms.Add(func.ToString()); return;
        }
        foreach (var child in node.Children) Collect(child, atoms);
    }

    /// <summary>A tree that contains no set, relation, tuple or matrix, so it has a single value.</summary>
    public static bool IsScalar(MathNode node) => node switch
    {
        SetNode or IntervalNode or UnionNode or TupleNode or MatrixNode or RelationNode or RelationChainNode => false,
        _ => node.Children.All(IsScalar),
    };
}
