using System.Numerics;
using System.Text.RegularExpressions;

namespace ReasonSharp.Tests.Data;

/// <summary>
/// The tests' own exact checks, independent of the library: a rational-arithmetic expression evaluator, the
/// countdown rule (each number exactly once, value equals target), and the numeric answer check. They also check the
/// teachers' intermediate steps; SyntheticRewardTests checks the final answers with the reward library itself.
/// </summary>
static partial class ExactCheck
{
    public readonly record struct Fraction(BigInteger Num, BigInteger Den)
    {
        public static Fraction Of(BigInteger n) => new(n, 1);

        public static Fraction Make(BigInteger num, BigInteger den)
        {
            if (den.IsZero) throw new DivideByZeroException();
            if (den.Sign < 0) (num, den) = (-num, -den);
            var g = BigInteger.GreatestCommonDivisor(num, den);
            return g.IsZero ? new(0, 1) : new(num / g, den / g);
        }

        public static Fraction operator +(Fraction a, Fraction b) => Make(a.Num * b.Den + b.Num * a.Den, a.Den * b.Den);
        public static Fraction operator -(Fraction a, Fraction b) => Make(a.Num * b.Den - b.Num * a.Den, a.Den * b.Den);
        public static Fraction operator *(Fraction a, Fraction b) => Make(a.Num * b.Num, a.Den * b.Den);
        public static Fraction operator /(Fraction a, Fraction b) => Make(a.Num * b.Den, a.Den * b.Num);
    }

    /// <summary>Evaluates + − × ÷ and parentheses exactly; the integer literals used are appended to
    /// <paramref name="literals"/>. Null when malformed or dividing by zero.</summary>
    public static Fraction? Evaluate(string expression, List<long>? literals = null)
    {
        var parser = new Parser(expression.Replace(" ", ""), literals ?? []);
        try
        {
            var value = parser.Expression();
            return parser.AtEnd ? value : null;
        }
        catch (Exception e) when (e is DivideByZeroException or FormatException) { return null; }
    }

    /// <summary>The text inside the last &lt;answer&gt;…&lt;/answer&gt;, trimmed, or null.</summary>
    public static string? AnswerOf(string completion)
    {
        var match = AnswerTag().Matches(completion).LastOrDefault();
        return match?.Groups[1].Value.Trim();
    }

    /// <summary>The countdown rule: the answer equation uses exactly the given numbers and equals the target.</summary>
    public static bool CountdownCorrect(string completion, IReadOnlyList<long> numbers, long target)
    {
        var answer = AnswerOf(completion);
        if (answer == null || !EquationChars().IsMatch(answer)) return false;
        var used = new List<long>();
        var value = Evaluate(answer, used);
        return value is { } v && v == Fraction.Of(target) && used.Order().SequenceEqual(numbers.Order());
    }

    /// <summary>Numeric answer check: the &lt;answer&gt; is a number equal to the gold number.</summary>
    public static bool NumberCorrect(string completion, string gold)
    {
        var answer = AnswerOf(completion);
        return answer != null && Evaluate(answer) is { } a && Evaluate(gold) is { } g && a == g
            && IntegerLiteral().IsMatch(answer);
    }

    /// <summary>Every "a op b … = c" (and long-division "a/b=q rR") written in a trace, each checked exactly. Returns
    /// how many were checked; throws on a false one.</summary>
    public static int CheckEquations(string trace)
    {
        var count = 0;
        foreach (Match m in Equation().Matches(trace))
        {
            count++;
            var left = Evaluate(m.Groups["lhs"].Value)
                ?? throw new Xunit.Sdk.XunitException($"unparsable '{m.Value}' in:\n{trace}");
            var right = BigInteger.Parse(m.Groups["rhs"].Value);
            var ok = m.Groups["rem"].Success
                ? IsDivisionWithRemainder(m.Groups["lhs"].Value, right, BigInteger.Parse(m.Groups["rem"].Value))
                : left == Fraction.Of(right);
            if (!ok) throw new Xunit.Sdk.XunitException($"false step '{m.Value}' in:\n{trace}");
        }
        return count;
    }

    static bool IsDivisionWithRemainder(string lhs, BigInteger quotient, BigInteger remainder)
    {
        var parts = lhs.Split('/');
        if (parts.Length != 2) return false;
        var (a, b) = (BigInteger.Parse(parts[0]), BigInteger.Parse(parts[1]));
        return remainder < b && a == b * quotient + remainder;
    }

    [GeneratedRegex(@"<answer>(.*?)</answer>", RegexOptions.Singleline)]
    private static partial Regex AnswerTag();

    [GeneratedRegex(@"^[\d+\-*/() ]+$")]
    private static partial Regex EquationChars();

    [GeneratedRegex(@"^-?\d+$")]
    private static partial Regex IntegerLiteral();

    [GeneratedRegex(@"(?<![\d)])(?<lhs>\d+(?:[+\-*/]\d+)+)=(?<rhs>\d+)(?: r(?<rem>\d+))?")]
    private static partial Regex Equation();

    sealed class Parser(string text, List<long> literals)
    {
        int at;

        public bool AtEnd => at == text.Length;

        public Fraction Expression()
        {
            var value = Term();
            while (at < text.Length && text[at] is '+' or '-')
                value = text[at++] == '+' ? value + Term() : value - Term();
            return value;
        }

        Fraction Term()
        {
            var value = Factor();
            while (at < text.Length && text[at] is '*' or '/')
                value = text[at++] == '*' ? value * Factor() : value / Factor();
            return value;
        }

        Fraction Factor()
        {
            if (at < text.Length && text[at] == '(')
            {
                at++;
                var inner = Expression();
                if (at >= text.Length || text[at++] != ')') throw new FormatException("missing )");
                return inner;
            }
            var start = at;
            while (at < text.Length && char.IsAsciiDigit(text[at])) at++;
            if (at == start) throw new FormatException("expected a number");
            var number = long.Parse(text[start..at]);
            literals.Add(number);
            return Fraction.Of(number);
        }
    }
}
