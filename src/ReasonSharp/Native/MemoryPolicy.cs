using System.Runtime.InteropServices;

namespace ReasonSharp.Native;

/// <summary>
/// How the C library's malloc serves libtorch's tensors. glibc maps every block of 32 MiB or more (a 32k-vocabulary
/// head's logits over 512 tokens are 64 MiB) with a fresh mmap and unmaps it when freed, so each training step
/// page-faults and zeroes such tensors again: about a sixth of the 25m model's step on 2 cores (BENCHMARKS.md,
/// "Training MFU"). Before libtorch loads, on glibc, this policy makes malloc keep freed memory for reuse instead:
/// no mmap for single blocks (M_MMAP_MAX 0), and the top of the heap given back to the system only above
/// <see cref="TrimThresholdBytes"/>. The cost is that a process's resident memory stays near its peak.
/// REASONSHARP_MALLOC=system, or any MALLOC_*_ or GLIBC_TUNABLES setting of the user's, leaves malloc as it is.
/// </summary>
public static class MemoryPolicy
{
    public const string Variable = "REASONSHARP_MALLOC";
    /// <summary>Free memory at the top of the heap beyond this is returned to the system.</summary>
    public const long TrimThresholdBytes = 1L << 30;
    /// <summary>Extra memory asked for each time the heap grows (fewer system calls).</summary>
    public const long TopPadBytes = 64L << 20;

    const int MallocTrimThreshold = -1, MallocTopPad = -2, MallocMmapMax = -4;

    /// <summary>What was done: "keep freed memory (…)", or why malloc was left as it is.</summary>
    public static string Status { get; private set; } = "not applied yet";

    /// <summary>Applies the policy; returns the error of an invalid <see cref="Variable"/> (malloc is then left as it
    /// is), for the caller to throw once libtorch has loaded.</summary>
    internal static ReasonSharpException? BeforeLoad()
    {
        var choice = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrEmpty(choice) && !string.Equals(choice, "keep", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(choice, "system", StringComparison.OrdinalIgnoreCase))
        {
            Status = $"system malloc ({Variable}={choice} is not understood)";
            return new ReasonSharpException($"{Variable}={choice}: expected keep or system");
        }
        Apply(choice);
        return null;
    }

    static void Apply(string? choice)
    {
        if (!OperatingSystem.IsLinux()) { Status = "system malloc (not Linux)"; return; }
        if (string.Equals(choice, "system", StringComparison.OrdinalIgnoreCase))
        {
            Status = $"system malloc ({Variable}=system)";
            return;
        }
        var userSetting = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .FirstOrDefault(name => name == "GLIBC_TUNABLES" || (name.StartsWith("MALLOC_") && name.EndsWith('_')));
        if (userSetting is not null)
        {
            Status = $"system malloc, as set by {userSetting}";
            return;
        }
        try
        {
            _ = gnu_get_libc_version();
            bool applied = mallopt(MallocMmapMax, 0) == 1
                & mallopt(MallocTrimThreshold, (int)TrimThresholdBytes) == 1
                & mallopt(MallocTopPad, (int)TopPadBytes) == 1;
            Status = applied
                ? $"keep freed memory (glibc: no mmap per block, trim above {TrimThresholdBytes >> 20} MiB)"
                : "system malloc (glibc refused mallopt)";
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            Status = "system malloc (not glibc)";
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int mallopt(int parameter, int value);

    [DllImport("libc", EntryPoint = "gnu_get_libc_version")]
    static extern IntPtr gnu_get_libc_version();
}
