using System.Collections.Concurrent;

namespace ReasonSharp.Serving;

/// <summary>
/// The requests waiting for a backend's one worker thread: at most max_queue of them (then TrySubmit says no, a 429),
/// a signal the worker waits on, and shutting down, where every request still waiting, or arriving too late, is
/// answered with 503.
/// </summary>
public sealed class RequestQueue
{
    readonly ConcurrentQueue<InferenceRequest> queue = new();
    readonly SemaphoreSlim signal = new(0);
    readonly CancellationTokenSource stopping = new();
    readonly int maxQueue;
    Thread? worker;
    int waiting;

    public RequestQueue(int maxQueue)
    {
        CheckMaxQueue(maxQueue);
        this.maxQueue = maxQueue;
    }

    public static void CheckMaxQueue(int maxQueue)
    {
        if (maxQueue < 1) throw new ReasonSharpException($"max_queue: expected at least 1, got {maxQueue}");
    }

    /// <summary>Requests queued and not yet taken by the worker.</summary>
    public int Waiting => Volatile.Read(ref waiting);
    public bool Stopping => stopping.IsCancellationRequested;
    public CancellationToken StoppingToken => stopping.Token;

    public static OpenAiError ShuttingDown() => new(503, "the server is shutting down", "server_error");

    /// <summary>Starts the worker thread that takes the requests.</summary>
    public void Start(ThreadStart run, string name)
    {
        worker = new Thread(run) { IsBackground = true, Name = name };
        worker.Start();
    }

    /// <summary>Queues a request; false when max_queue requests are already waiting.</summary>
    public bool TrySubmit(InferenceRequest request)
    {
        if (Stopping) throw ShuttingDown();
        if (Interlocked.Increment(ref waiting) > maxQueue)
        {
            Interlocked.Decrement(ref waiting);
            return false;
        }
        queue.Enqueue(request);
        signal.Release();
        // Stopped between the check and the queue: nobody else will answer it.
        if (Stopping && worker?.IsAlive != true) Drain();
        return true;
    }

    public bool TryPeek(out InferenceRequest request) => queue.TryPeek(out request!);

    /// <summary>Takes the next request off the queue.</summary>
    public bool TryTake(out InferenceRequest request)
    {
        if (!queue.TryDequeue(out request!)) return false;
        Interlocked.Decrement(ref waiting);
        return true;
    }

    /// <summary>Waits for a submission; OperationCanceledException once stopping.</summary>
    public void Wait() => signal.Wait(stopping.Token);

    /// <summary>Answers every request still waiting with 503.</summary>
    public void Drain()
    {
        while (TryTake(out var request)) request.Updates.Writer.TryComplete(ShuttingDown());
    }

    /// <summary>Stops the worker, waits for it and answers what is left. The semaphore and token source stay
    /// undisposed: a request may still be arriving on another thread.</summary>
    public void Stop()
    {
        stopping.Cancel();
        worker?.Join();
        Drain();
    }
}
