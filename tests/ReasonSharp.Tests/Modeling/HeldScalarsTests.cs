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
    /// <summary>Makes <paramref name="calls"/> additions while another thread forces full collections; counts the
    /// failures and the collections that overlapped the calls (a count, not a time, so a busy host cannot shorten
    /// it).</summary>
    static (int Failures, int Collections) Hammer(Func<Tensor, Tensor, Tensor> add, int calls)
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
        int collectionsBefore = GC.CollectionCount(2);
        int collections;
        try
        {
            for (int i = 0; i < calls; i++)
            {
                try { add(a, b).Dispose(); }
                catch (System.Runtime.InteropServices.ExternalException) { failures++; }
            }
        }
        finally
        {
            collections = GC.CollectionCount(2) - collectionsBefore;
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        return (failures, collections);
    }

    [Fact]
    public void PlusNeverLosesItsScalarToACollectionOnAnotherThread()
    {
        const int Calls = 30_000;
        var (unsafeFailures, unsafeCollections) = Hammer((a, b) => a + b, Calls);
        var (failures, collections) = Hammer((a, b) => a.Plus(b), Calls);
        output.WriteLine($"{Calls} calls each: a + b {unsafeFailures} failures ({unsafeCollections} collections), "
            + $"a.Plus(b) {failures} failures ({collections} collections)");
        Assert.Equal(0, failures);
        Assert.True(collections >= 5, $"only {collections} full collections overlapped the calls");
    }

    [Fact]
    public void WithHoldsTheScalarUntilTheOpReturns()
    {
        using var x = ones(3);
        using var scaled = HeldScalars.With(2.5, s => x * s);
        Assert.Equal(2.5f, scaled[1].item<float>());
    }
}
