using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ReasonSharp.Rewards.Verification;

/// <summary>Thrown when a verification runs past its time limit.</summary>
public sealed class VerificationTimeoutException(TimeSpan limit)
    : Exception($"math verification exceeded its time limit of {limit.TotalMilliseconds:0} ms");

/// <summary>Thrown when an input is over a size cap (<see cref="MathVerifyOptions.MaxInputLength"/>,
/// <see cref="MathVerifyOptions.MaxNumberDigits"/>): the verifier refuses it rather than spend unbounded
/// time.</summary>
public sealed class VerificationSizeException(string message) : Exception(message);

/// <summary>
/// A cooperative time limit: the parser, normaliser and evaluator call <see cref="Check"/> as they work, so a check
/// stops on any thread without aborting it. Regexes get the remaining time as their match timeout.
/// </summary>
public sealed class Deadline
{
    readonly long _endTicks;
    readonly CancellationToken _cancellation;
    public TimeSpan Limit { get; }

    public Deadline(TimeSpan limit, CancellationToken cancellation = default)
    {
        Limit = limit;
        _cancellation = cancellation;
        _endTicks = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
    }

    public static Deadline None { get; } = new(TimeSpan.FromDays(365));

    public TimeSpan Remaining
    {
        get
        {
            var ticks = _endTicks - Stopwatch.GetTimestamp();
            return ticks <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency);
        }
    }

    public void Check()
    {
        _cancellation.ThrowIfCancellationRequested();
        if (Stopwatch.GetTimestamp() > _endTicks) throw new VerificationTimeoutException(Limit);
    }
}

/// <summary>
/// Runs the verifier's patterns under the deadline. Each pattern also has its own per-call time limit against
/// catastrophic backtracking; the first call of a pattern in a process includes compiling its generated code
/// (100–300 ms for the larger ones, measured), so a call that hits that limit while the deadline still has time
/// left is run once more before it counts as a timeout.
/// </summary>
internal static class Patterns
{
    public static Match Match(Regex regex, string text, int start, Deadline deadline) =>
        Run(() => regex.Match(text, start), deadline);

    public static string Replace(Regex regex, string text, string replacement, Deadline deadline, int count = -1) =>
        Run(() => regex.Replace(text, replacement, count), deadline);

    /// <summary>The matches of <paramref name="regex"/>, left to right, checking the deadline before each.</summary>
    public static IEnumerable<Match> Matches(Regex regex, string text, Deadline deadline)
    {
        var start = 0;
        while (start <= text.Length)
        {
            deadline.Check();
            var match = Match(regex, text, start, deadline);
            if (!match.Success) yield break;
            yield return match;
            start = match.Index + Math.Max(match.Length, 1);
        }
    }

    static T Run<T>(Func<T> work, Deadline deadline)
    {
        deadline.Check();
        try
        {
            return work();
        }
        catch (RegexMatchTimeoutException)
        {
            deadline.Check();
            return work();
        }
    }
}
