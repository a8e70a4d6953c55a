using System.Diagnostics;
using System.Text;
using Jint;
using Jint.Native;
using Jint.Runtime;
using Jint.Runtime.Interop;

namespace ReasonSharp.Rewards.Sandbox;

/// <summary>
/// Runs untrusted JavaScript in-process with Jint: no CLR access, no modules, and Jint's memory, time, recursion
/// and cancellation limits. The program reads its input from the global <c>input</c> string or line by line with
/// <c>readline()</c>, and writes with <c>print(…)</c> or <c>console.log(…)</c> (output is capped).
/// </summary>
public sealed class JavaScriptSandbox(SandboxLimits? limits = null, int maxConcurrency = 0)
{
    readonly SandboxLimits _limits = limits ?? new SandboxLimits();
    readonly SemaphoreSlim _slots = new(maxConcurrency > 0 ? maxConcurrency : Math.Max(1, Environment.ProcessorCount));

    public const string IsolationDescription = "in-process Jint interpreter: no CLR or module access; memory, time, recursion and output limits";

    public async Task<SandboxResult> RunAsync(string code, string? stdin = null, CancellationToken cancellationToken = default)
    {
        await _slots.WaitAsync(cancellationToken);
        try
        {
            // Jint's memory limit counts allocations of the executing thread, so the program runs on one dedicated thread.
            return await Task.Factory.StartNew(() => Run(code, stdin, cancellationToken), cancellationToken,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        finally
        {
            _slots.Release();
        }
    }

    SandboxResult Run(string code, string? stdin, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var output = new StringBuilder();
        var outputExceeded = false;
        void Write(string text)
        {
            if (output.Length + text.Length + 1 > _limits.MaxOutputBytes)
            {
                outputExceeded = true;
                throw new OutputLimitException();
            }
            output.Append(text).Append('\n');
        }

        var lines = (stdin ?? "").Split('\n');
        var nextLine = 0;
        using var engine = new Engine(options => options
            .LimitMemory(_limits.MemoryBytes)
            .TimeoutInterval(_limits.WallTime)
            .LimitRecursion(_limits.MaxRecursion)
            .CancellationToken(cancellationToken)
            .Strict(false));
        engine.SetValue("input", stdin ?? "");
        engine.SetValue("readline", new Func<string?>(() => nextLine < lines.Length ? lines[nextLine++].TrimEnd('\r') : null));
        engine.SetValue("print", new ClrFunction(engine, "print", (_, args) =>
        {
            Write(string.Join(" ", args.Select(a => a.ToString())));
            return JsValue.Undefined;
        }));
        engine.Execute("var console = { log: function () { print.apply(null, Array.prototype.slice.call(arguments)); } };");
        try
        {
            engine.Execute(code);
            return Result(0, "", false);
        }
        catch (OutputLimitException)
        {
            return Result(1, "output limit exceeded", false);
        }
        catch (TimeoutException)
        {
            return Result(124, "time limit exceeded", true);
        }
        catch (ExecutionCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return Result(124, "cancelled", true);
        }
        catch (MemoryLimitExceededException e)
        {
            return Result(137, "memory limit exceeded: " + e.Message, false);
        }
        catch (RecursionDepthOverflowException e)
        {
            return Result(1, "recursion limit exceeded: " + e.Message, false);
        }
        catch (JavaScriptException e)
        {
            return Result(1, e.Error.ToString() + (e.InnerException is OutputLimitException ? " (output limit exceeded)" : ""), false);
        }
        catch (Exception e) when (e is Acornima.ParseErrorException or InvalidOperationException or ArgumentException or InvalidCastException or OverflowException)
        {
            return Result(1, $"{e.GetType().Name}: {e.Message}", false);
        }

        SandboxResult Result(int exitCode, string stderr, bool timedOut) =>
            new(exitCode, output.ToString(), stderr, timedOut, outputExceeded, watch.Elapsed, IsolationDescription);
    }

    sealed class OutputLimitException : Exception;
}
