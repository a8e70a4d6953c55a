using ReasonSharp.Native;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Native;

public class TorchNativeTests
{
    [Fact]
    public void TorchSharpRunsAMatmul()
    {
        TorchNative.EnsureLoaded();
        using var a = ones(2, 3);
        using var b = ones(3, 4);
        using var c = a.matmul(b);
        Assert.Equal(3f, c[1, 2].item<float>());
        Assert.DoesNotContain("could not", TorchNative.Status);
    }

    [SkippableFact]
    public void PatcherMarksOnlyTheMissingVersionWeakAndIsIdempotent()
    {
        var original = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Skip.IfNot(File.Exists(original), "libLibTorchSharp.so is not next to the test binaries on this platform");
        var bytes = File.ReadAllBytes(original);
        var before = ElfVersionPatcher.RequiredVersions(bytes);
        Assert.Contains(before, r => r.Version == TorchNative.MissingVersion && !r.Weak);

        Assert.Equal(1, ElfVersionPatcher.MarkWeak(bytes, TorchNative.MissingVersion));
        Assert.Equal(0, ElfVersionPatcher.MarkWeak(bytes, TorchNative.MissingVersion));
        var after = ElfVersionPatcher.RequiredVersions(bytes);
        Assert.Equal(before.Count, after.Count);
        for (int i = 0; i < before.Count; i++)
            Assert.Equal(before[i].Weak || before[i].Version == TorchNative.MissingVersion, after[i].Weak);
    }

    [Fact]
    public void RejectsFilesThatAreNotElf() =>
        Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.RequiredVersions(new byte[100]));
}
