using ReasonSharp.Modeling;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Modeling;

/// <summary>
/// TorchSharp's `a + b` passes a temporary Scalar that another thread's garbage collection can free while libtorch
/// reads it (the quickstart's sampling stage crashed that way once, in Scalar::toFloat). The held-scalar helpers keep
/// their scalars alive; here a thread forces collections the whole time.
/// </summary>
[Collection("Serial")]
public class HeldScalarsTests(ITestOutputHelper output)
{
    static (int Failures, long Calls) Hammer(Func<Tensor, Tensor, Tensor> add, TimeSpan duration)
    {
        ReasonSharp.Native.TorchNative.EnsureLoaded();
        using var a = ones(4, 4);
        using var b = ones(4, 4);
        bool stop = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        });
        collector.Start();
        int failures = 0;
        using (var check = add(a, b)) Assert.Equal(32f, check.sum().item<float>());
        long calls = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            while (clock.Elapsed < duration)
                for (int i = 0; i < 1000; i++, calls++)
                {
                    try { add(a, b).Dispose(); }
                    catch (System.Runtime.InteropServices.ExternalException) { failures++; }
                }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        return (failures, calls);
    }

    [Fact]
    public void PlusNeverLosesItsScalarToACollectionOnAnotherThread()
    {
        var (unsafeFailures, unsafeCalls) = Hammer((a, b) => a + b, TimeSpan.FromSeconds(3));
        var (failures, calls) = Hammer((a, b) => a.Plus(b), TimeSpan.FromSeconds(3));
        output.WriteLine($"a + b: {unsafeFailures} failures in {unsafeCalls} calls; a.Plus(b): {failures} in {calls}");
        Assert.Equal(0, failures);
        Assert.True(calls > 10_000, $"only {calls} calls");
    }

    [Fact]
    public void WithHoldsTheScalarUntilTheOpReturns()
    {
        using var x = ones(3);
        using var scaled = HeldScalars.With(2.5, s => x * s);
        Assert.Equal(2.5f, scaled[1].item<float>());
    }
}
