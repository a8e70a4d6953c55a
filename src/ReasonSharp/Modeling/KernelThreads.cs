using System.Diagnostics;

namespace ReasonSharp.Modeling;

/// <summary>
/// The threads that split the decode kernels' work. A decode step calls the kernels dozens of times, a few
/// microseconds to a millisecond each, with small libtorch ops in between; waking a sleeping thread-pool thread for
/// each call costs about as much as the call. So the helpers here spin for a short while
/// (<see cref="SpinMicroseconds"/>) after each call, which keeps them awake through a whole decode step, and then
/// sleep, so that training and idle time pay nothing.
/// The caller works too, and parts are claimed one at a time: when a helper is asleep or descheduled (a busy machine),
/// the caller does its parts instead of waiting for it.
/// </summary>
internal static class KernelThreads
{
    /// <summary>How long a helper spins for the next call before it sleeps.</summary>
    public const int SpinMicroseconds = 2000;

    sealed class Job(Action<int> body, int parts)
    {
        public readonly Action<int> Body = body;
        public readonly int Parts = parts;
        public int Unfinished = parts;
        public Exception? Failure;
    }

    static readonly object CallerGate = new(), SleepGate = new();
    static readonly long SpinTicks = SpinMicroseconds * Stopwatch.Frequency / 1_000_000;
    static readonly List<Thread> Helpers = [];
    static Job? _job;
    /// <summary>The current job's number (high 32 bits) and its next unclaimed part (low 32 bits).</summary>
    static long _ticket;
    static int _sleepers;

    /// <summary>Runs body(0) … body(parts − 1) on the caller and up to parts − 1 helpers, and returns when all are
    /// done. Not re-entrant: one caller at a time (calls from several threads are serialised).</summary>
    public static void For(int parts, Action<int> body)
    {
        if (parts <= 1)
        {
            for (int p = 0; p < parts; p++) body(p);
            return;
        }
        lock (CallerGate)
        {
            EnsureHelpers(parts - 1);
            var job = new Job(body, parts);
            Volatile.Write(ref _job, job);
            long number = (Interlocked.Read(ref _ticket) >> 32) + 1;
            Interlocked.Exchange(ref _ticket, number << 32);
            if (Volatile.Read(ref _sleepers) > 0)
                lock (SleepGate) Monitor.PulseAll(SleepGate);
            Work(job, number);
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Unfinished) > 0) spin.SpinOnce(sleep1Threshold: -1);
            if (Volatile.Read(ref job.Failure) is { } failure) throw new AggregateException(failure);
        }
    }

    /// <summary>Claims and runs parts of job <paramref name="number"/> until none is left.</summary>
    static void Work(Job job, long number)
    {
        while (true)
        {
            long ticket = Interlocked.Read(ref _ticket);
            int part = (int)(ticket & 0xFFFF_FFFF);
            if (ticket >> 32 != number || part >= job.Parts) return;
            if (Interlocked.CompareExchange(ref _ticket, ticket + 1, ticket) != ticket) continue;
            try { job.Body(part); }
            catch (Exception e) { Interlocked.CompareExchange(ref job.Failure, e, null); }
            Interlocked.Decrement(ref job.Unfinished);
        }
    }

    static void EnsureHelpers(int count)
    {
        while (Helpers.Count < count)
        {
            var thread =
                new Thread(HelperLoop) { IsBackground = true, Name = $"ReasonSharp kernel {Helpers.Count + 1}" };
            Helpers.Add(thread);
            thread.Start();
        }
    }

    static void HelperLoop()
    {
        long seen = Interlocked.Read(ref _ticket) >> 32;
        while (true)
        {
            long number = WaitForJob(seen);
            seen = number;
            if (Volatile.Read(ref _job) is { } job) Work(job, number);
        }
    }

    /// <summary>Spins for up to <see cref="SpinTicks"/>, then sleeps until a job newer than
    /// <paramref name="seen"/> starts.</summary>
    static long WaitForJob(long seen)
    {
        long until = Stopwatch.GetTimestamp() + SpinTicks;
        var spin = new SpinWait();
        while (Stopwatch.GetTimestamp() < until)
        {
            long number = Interlocked.Read(ref _ticket) >> 32;
            if (number != seen) return number;
            spin.SpinOnce(sleep1Threshold: -1);
        }
        lock (SleepGate)
        {
            Interlocked.Increment(ref _sleepers);
            try
            {
                while (true)
                {
                    long number = Interlocked.Read(ref _ticket) >> 32;
                    if (number != seen) return number;
                    Monitor.Wait(SleepGate);
                }
            }
            finally { Interlocked.Decrement(ref _sleepers); }
        }
    }
}
