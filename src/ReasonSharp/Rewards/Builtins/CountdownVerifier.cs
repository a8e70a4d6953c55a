using System.Text.RegularExpressions;
using ReasonSharp.Rewards.Verification;

namespace ReasonSharp.Rewards.Builtins;

/// <summary>The verdict on a countdown equation.</summary>
/// <param name="UsesNumbersExactly">Every given number appears exactly once and no other number appears.</param>
/// <param name="Value">The exact value, when the equation is well formed and divides by no zero.</param>
/// <param name="Correct">Uses the numbers exactly and equals the target exactly.</param>
public sealed record CountdownCheck(bool UsesNumbersExactly, BigRational? Value, bool Correct, string Reason);

/// <summary>
/// TinyZero's countdown check with exact arithmetic: the equation may contain only digits, + - * / ( ) and
/// spaces, must use each given number exactly once (and no other number), and must equal the target exactly —
/// evaluated with rationals, so 1/3*3 is exactly 1 (TinyZero uses Python floats within 1e-5).
/// </summary>
public static partial class CountdownVerifier
{
    public static CountdownCheck Check(string equation, IReadOnlyList<int> numbers, int target) =>
        Check(equation, numbers.Select(n => (long)n).ToList(), target);

    public static CountdownCheck Check(string equation, IReadOnlyList<long> numbers, long target)
    {
        if (!AllowedRegex().IsMatch(equation))
            return new(false, null, false, "the equation may contain only digits, + - * / ( ) and spaces");
        var used =
            NumberRegex().Matches(equation).Select(m => long.TryParse(m.Value, out var n) ? n : -1).Order().ToList();
        var given = numbers.Order().ToList();
        var exact = used.SequenceEqual(given);
        if (!exact)
            return new(false, null, false, $"uses [{string.Join(", ", used)}] instead of each of " +
                $"[{string.Join(", ", given)}] exactly once");
        BigRational value;
        try
        {
            value = new Evaluator(equation).Evaluate();
        }
        catch (FormatException e)
        {
            return new(true, null, false, e.Message);
        }
        var correct = value == new BigRational(target, 1);
        return new(true, value, correct, correct ? $"equals {target} exactly" : $"equals {value}, not {target}");
    }

    /// <summary>The last &lt;answer&gt;…&lt;/answer&gt; content, trimmed, or null.</summary>
    public static string? ExtractEquation(string completion) =>
        AnswerRegex().Matches(completion).LastOrDefault()?.Groups[1].Value.Trim();

    [GeneratedRegex(@"^[\d+\-*/()\s]+$")]
    private static partial Regex AllowedRegex();

    [GeneratedRegex(@"\d+")]
    private static partial Regex NumberRegex();

    [GeneratedRegex(@"<answer>(.*?)</answer>", RegexOptions.Singleline, matchTimeoutMilliseconds: 2000)]
    private static partial Regex AnswerRegex();

    /// <summary>Recursive descent over + - * / with unary signs and parentheses, in exact rationals.</summary>
    sealed class Evaluator(string text)
    {
        int _pos;

        public BigRational Evaluate()
        {
            var value = Sum();
            Skip();
            if (_pos < text.Length) throw new FormatException($"unexpected '{text[_pos]}' at position {_pos}");
            return value;
        }

        void Skip()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        bool Take(char c)
        {
            Skip();
            if (_pos < text.Length && text[_pos] == c) { _pos++; return true; }
            return false;
        }

        BigRational Sum()
        {
            var value = Product();
            while (true)
            {
                if (Take('+')) value += Product();
                else if (Take('-')) value -= Product();
                else return value;
            }
        }

        BigRational Product()
        {
            var value = Unary();
            while (true)
            {
                if (Take('*')) value *= Unary();
                else if (Take('/'))
                {
                    var divisor = Unary();
                    if (divisor.IsZero) throw new FormatException("division by zero");
                    value /= divisor;
                }
                else return value;
            }
        }

        BigRational Unary()
        {
            if (Take('-')) return -Unary();
            if (Take('+')) return Unary();
            if (Take('('))
            {
                var value = Sum();
                if (!Take(')')) throw new FormatException("missing ')'");
                return value;
            }
            Skip();
            var start = _pos;
            while (_pos < text.Length && char.IsDigit(text[_pos])) _pos++;
            if (start == _pos) throw new FormatException(_pos < text.Length
                ? $"unexpected '{text[_pos]}' at position {_pos}" : "unexpected end");
            return BigRational.Parse(text[start.._pos]);
        }
    }
}

/// <summary>
/// TinyZero's countdown reward: the equation is the last &lt;answer&gt;…&lt;/answer&gt; of the completion; score (1.0)
/// when it uses each of the 'numbers' column exactly once and equals 'target' exactly, format_score (0.1) for any
/// other equation, 0 when there is none. Difference: TinyZero searches only the last line of prompt+response after
/// "Assistant:"; here the completion alone is given, so its last answer tag is used wherever it is.
/// </summary>
public sealed class CountdownReward : SampleReward
{
    readonly float _score;
    readonly float _formatScore;

    public CountdownReward(string name, RewardOptions options) : base(name)
    {
        _score = (float)options.GetDouble("score", 1.0);
        _formatScore = (float)options.GetDouble("format_score", 0.1);
    }

    protected override float? Score(RewardInput input)
    {
        var numbers = input.RequireIntegerList("numbers");
        var target = input.RequireInteger("target");
        var equation = CountdownVerifier.ExtractEquation(input.Completion);
        if (equation == null) return 0f;
        return CountdownVerifier.Check(equation, numbers, target).Correct ? _score : _formatScore;
    }
}
