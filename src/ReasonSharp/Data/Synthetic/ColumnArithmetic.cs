namespace ReasonSharp.Data;

/// <summary>
/// Writes one integer operation the way it is worked on paper, short enough for tiny models:
/// "47+38: 7+8=15 carry 1, 4+3+1=8, so 85", "85-29: 15-9=6 borrow 1, 8-2-1=5, so 56",
/// "47*6: 7*6=42 carry 4, 4*6+4=28, so 282", "47*36: 47*6=282, 47*30=1410, 282+1410=1692",
/// "282/6: 28/6=4 r4, 42/6=7, so 47". Single-digit facts are written as "7*8=56".
/// Operands are non-negative; subtraction needs a ≥ b and division must be exact.
/// </summary>
public static class ColumnArithmetic
{
    public static string Explain(long a, char op, long b)
    {
        if (a < 0 || b < 0) throw new ArgumentException("operands must be non-negative");
        return op switch
        {
            '+' => a < 10 && b < 10 ? Fact(a, op, b) : $"{a}+{b}: {AddColumns(a, b)}, so {a + b}",
            '-' => a < b ? throw new ArgumentException($"{a}-{b} is negative")
                : a < 10 || b == 0 ? Fact(a, op, b) : $"{a}-{b}: {SubtractColumns(a, b)}, so {a - b}",
            '*' => Multiply(a, b),
            '/' => Divide(a, b),
            _ => throw new ArgumentException($"unknown operator '{op}'"),
        };
    }

    static string Fact(long a, char op, long b) => $"{a}{op}{b}={Expr.Apply(a, op, b)}";

    static List<int> Digits(long n)
    {
        var digits = new List<int>();
        do { digits.Add((int)(n % 10)); n /= 10; } while (n > 0);
        return digits; // least significant first
    }

    static string AddColumns(long a, long b)
    {
        var (da, db) = (Digits(a), Digits(b));
        var columns = new List<string>();
        var carry = 0;
        for (var i = 0; i < Math.Max(da.Count, db.Count); i++)
        {
            var terms = new List<int>();
            if (i < da.Count) terms.Add(da[i]);
            if (i < db.Count) terms.Add(db[i]);
            if (carry > 0) terms.Add(carry);
            if (terms.Count == 1) break; // only one number has digits left and nothing is carried: copied as is
            var sum = terms.Sum();
            carry = sum / 10;
            columns.Add($"{string.Join("+", terms)}={sum}{(carry > 0 ? " carry 1" : "")}");
        }
        return string.Join(", ", columns);
    }

    static string SubtractColumns(long a, long b)
    {
        var (da, db) = (Digits(a), Digits(b));
        var columns = new List<string>();
        var borrow = 0;
        for (var i = 0; i < da.Count; i++)
        {
            var bottom = i < db.Count ? db[i] : (int?)null;
            if (bottom == null && borrow == 0) break; // the rest of a is copied
            var needsBorrow = da[i] < (bottom ?? 0) + borrow;
            var top = da[i] + (needsBorrow ? 10 : 0);
            var result = top - (bottom ?? 0) - borrow;
            columns.Add($"{top}{(bottom is { } d ? "-" + d : "")}{(borrow > 0 ? "-1" : "")}={result}{(needsBorrow ? " borrow 1" : "")}");
            borrow = needsBorrow ? 1 : 0;
        }
        return string.Join(", ", columns);
    }

    // One-digit multiplier: digit by digit with carries. Longer multiplier: one partial product per non-zero digit,
    // then their sum.
    static string Multiply(long a, long b)
    {
        if ((a < 10 && b < 10) || a <= 1 || b <= 1) return Fact(a, '*', b);
        var (number, multiplier) = a >= b ? (a, b) : (b, a);
        if (multiplier < 10)
            return $"{a}*{b}: {DigitTimes(number, (int)multiplier)}, so {a * b}";
        var partials = new List<long>();
        var parts = new List<string>();
        var place = 1L;
        foreach (var digit in Digits(multiplier))
        {
            if (digit > 0)
            {
                partials.Add(number * digit * place);
                parts.Add($"{number}*{digit * place}={number * digit * place}");
            }
            place *= 10;
        }
        if (partials.Count > 1) parts.Add($"{string.Join("+", partials)}={a * b}");
        return $"{a}*{b}: {string.Join(", ", parts)}";
    }

    static string DigitTimes(long number, int digit)
    {
        var digits = Digits(number);
        var columns = new List<string>();
        var carry = 0;
        for (var i = 0; i < digits.Count; i++)
        {
            var product = digits[i] * digit + carry;
            var last = i == digits.Count - 1;
            columns.Add($"{digits[i]}*{digit}{(carry > 0 ? "+" + carry : "")}={product}{(!last && product >= 10 ? $" carry {product / 10}" : "")}");
            carry = product / 10;
        }
        return string.Join(", ", columns);
    }

    // Long division, one dividend digit at a time; leading partial dividends smaller than the divisor are carried on
    // silently.
    static string Divide(long a, long b)
    {
        if (b == 0 || a % b != 0) throw new ArgumentException($"{a}/{b} is not exact");
        if (b == 1 || a < b * 10) return Fact(a, '/', b);
        var steps = new List<string>();
        long remainder = 0;
        var started = false;
        var digits = Digits(a);
        for (var i = digits.Count - 1; i >= 0; i--)
        {
            var current = remainder * 10 + digits[i];
            if (!started && current < b) { remainder = current; continue; }
            started = true;
            remainder = current % b;
            steps.Add($"{current}/{b}={current / b}{(remainder > 0 ? $" r{remainder}" : "")}");
        }
        return $"{a}/{b}: {string.Join(", ", steps)}, so {a / b}";
    }
}
