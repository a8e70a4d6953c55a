using System.Globalization;
using System.Numerics;

namespace ReasonSharp.Rewards.Verification;

/// <summary>An exact fraction of two big integers, always reduced, denominator positive.</summary>
public readonly struct BigRational : IEquatable<BigRational>, IComparable<BigRational>
{
    public BigInteger Numerator { get; }
    public BigInteger Denominator { get; }

    public BigRational(BigInteger numerator, BigInteger denominator)
    {
        if (denominator.IsZero) throw new DivideByZeroException();
        if (denominator.Sign < 0) { numerator = -numerator; denominator = -denominator; }
        var gcd = BigInteger.GreatestCommonDivisor(numerator, denominator);
        if (!gcd.IsOne && !gcd.IsZero) { numerator /= gcd; denominator /= gcd; }
        Numerator = numerator;
        Denominator = numerator.IsZero ? BigInteger.One : denominator;
    }

    public static BigRational Zero => new(0, 1);
    public static BigRational One => new(1, 1);
    public bool IsZero => Numerator.IsZero;
    public bool IsInteger => Denominator.IsOne;
    public int Sign => Numerator.Sign;

    public static implicit operator BigRational(long value) => new(value, 1);
    public static implicit operator BigRational(BigInteger value) => new(value, 1);

    public static BigRational operator +(BigRational a, BigRational b) =>
        new(a.Numerator * b.Denominator + b.Numerator * a.Denominator, a.Denominator * b.Denominator);
    public static BigRational operator -(BigRational a, BigRational b) =>
        new(a.Numerator * b.Denominator - b.Numerator * a.Denominator, a.Denominator * b.Denominator);
    public static BigRational operator -(BigRational a) => new(-a.Numerator, a.Denominator);
    public static BigRational operator *(BigRational a, BigRational b) =>
        new(a.Numerator * b.Numerator, a.Denominator * b.Denominator);
    public static BigRational operator /(BigRational a, BigRational b) =>
        new(a.Numerator * b.Denominator, a.Denominator * b.Numerator);

    /// <summary>Integer power; the caller bounds the exponent so results stay small.</summary>
    public static BigRational Pow(BigRational value, int exponent)
    {
        if (exponent < 0) return One / Pow(value, -exponent);
        return new(BigInteger.Pow(value.Numerator, exponent), BigInteger.Pow(value.Denominator, exponent));
    }

    /// <summary>Parses "123", "-4.50", ".5", "1e5", "2.5E-3" exactly; the caller bounds the digits and
    /// exponent.</summary>
    public static BigRational Parse(string text) => Parse(text, Deadline.None);

    /// <summary>As <see cref="Parse(string)"/>, checking the deadline while a long digit string is converted.</summary>
    internal static BigRational Parse(string text, Deadline deadline)
    {
        text = text.Trim();
        var negative = text.StartsWith('-');
        if (negative || text.StartsWith('+')) text = text[1..];
        var exponent = 0;
        var e = text.IndexOfAny(['e', 'E']);
        if (e >= 0)
        {
            exponent = int.Parse(text[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            text = text[..e];
        }
        var dot = text.IndexOf('.');
        var digits = dot < 0 ? text : text.Remove(dot, 1);
        if (digits.Length == 0) digits = "0";
        var numerator = ParseDigits(digits, deadline);
        var scale = (dot < 0 ? 0 : text.Length - dot - 1) - exponent;
        if (negative) numerator = -numerator;
        if (scale < 0) return new(numerator * BigInteger.Pow(10, -scale), 1);
        return new(numerator, BigInteger.Pow(10, scale));
    }

    const int ChunkDigits = 4_000;

    /// <summary>
    /// Converts a digit string. Long ones are cut into chunks that are parsed and then merged pairwise (each merge
    /// multiplies by a power of ten), so the work is near-linear and the deadline is checked between steps —
    /// BigInteger.Parse on a million digits takes most of a second without a check.
    /// </summary>
    static BigInteger ParseDigits(string digits, Deadline deadline)
    {
        if (digits.Length <= ChunkDigits) return Digits(digits);
        // Chunks from the right, so every chunk but the first has exactly ChunkDigits digits.
        var chunks = new List<BigInteger>();
        var first = digits.Length % ChunkDigits;
        if (first > 0) chunks.Add(Digits(digits.AsSpan(0, first)));
        for (var at = first; at < digits.Length; at += ChunkDigits)
        {
            deadline.Check();
            chunks.Add(Digits(digits.AsSpan(at, ChunkDigits)));
        }
        // Merge pairs from the right: at each level every right-hand block has `width` digits.
        var width = ChunkDigits;
        while (chunks.Count > 1)
        {
            var scale = BigInteger.Pow(10, width);
            var merged = new List<BigInteger>((chunks.Count + 1) / 2);
            var odd = chunks.Count % 2;
            if (odd == 1) merged.Add(chunks[0]);
            for (var i = odd; i < chunks.Count; i += 2)
            {
                deadline.Check();
                merged.Add(chunks[i] * scale + chunks[i + 1]);
            }
            chunks = merged;
            width *= 2;
        }
        return chunks[0];
    }

    static BigInteger Digits(ReadOnlySpan<char> digits) =>
        BigInteger.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>The value for an explanation: exact when short, else its size ("a 30103-digit integer"), since
    /// printing a big integer in decimal costs seconds (27 s for a million digits).</summary>
    public string Describe()
    {
        var bits = Math.Max(BigInteger.Abs(Numerator).GetBitLength(), Denominator.GetBitLength());
        if (bits <= 3_000) return ToString();
        var digits = (long)(bits * 0.30103) + 1;
        return IsInteger ? $"an integer of about {digits} digits" : $"a fraction with parts of about {digits} digits";
    }

    /// <summary>Rounds half away from zero to the given number of decimals (like sympy's Float.round for our
    /// purposes).</summary>
    public BigRational Round(int decimals)
    {
        var scale = BigInteger.Pow(10, decimals);
        var scaled = Numerator * scale;
        var quotient = BigInteger.DivRem(BigInteger.Abs(scaled), Denominator, out var remainder);
        if (remainder * 2 >= Denominator) quotient += 1;
        return new(Numerator.Sign < 0 ? -quotient : quotient, scale);
    }

    public double ToDouble()
    {
        var value = (double)Numerator / (double)Denominator;
        if (!double.IsNaN(value) && !double.IsInfinity(value)) return value;
        // Very large parts: scale both down first.
        var shift = Math.Max(BigInteger.Abs(Numerator).GetBitLength(), Denominator.GetBitLength()) - 1000;
        return (double)(Numerator >> (int)shift) / (double)(Denominator >> (int)shift);
    }

    public bool Equals(BigRational other) => Numerator == other.Numerator && Denominator == other.Denominator;
    public override bool Equals(object? obj) => obj is BigRational other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(Numerator, Denominator);
    public int CompareTo(BigRational other) => (Numerator * other.Denominator).CompareTo(other.Numerator * Denominator);
    public static bool operator ==(BigRational a, BigRational b) => a.Equals(b);
    public static bool operator !=(BigRational a, BigRational b) => !a.Equals(b);
    public override string ToString() => IsInteger ? Numerator.ToString(CultureInfo.InvariantCulture)
        : $"{Numerator}/{Denominator}";
}
