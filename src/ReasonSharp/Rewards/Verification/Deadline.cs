using System.Diagnostics;

namespace ReasonSharp.Rewards.Verification;

/// <summary>Thrown when a verification runs past its time limit.</summary>
public sealed class VerificationTimeoutException(TimeSpan limit)
    : Exception($"math verification exceeded its time limit of {limit.TotalMilliseconds:0} ms");

/// <summary>Thrown when an input is over a size cap (<see cref="MathVerifyOptions.MaxInputLength"/>,
/// <see cref="MathVerifyOptions.MaxNumberDigits"/>): the verifier refuses it rather than spend unbounded time.</summary>
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
