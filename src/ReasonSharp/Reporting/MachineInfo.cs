namespace ReasonSharp.Reporting;

/// <summary>What a run's figures were measured on: the CPU model, the cores this process may use and the
/// load.</summary>
public static class MachineInfo
{
    public static string CpuModel()
    {
        try
        {
            var line =
                File.ReadLines("/proc/cpuinfo").FirstOrDefault(l =>
                l.StartsWith("model name", StringComparison.Ordinal));
            return line?.Split(':', 2)[1].Trim()
                ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    /// <summary>The 1, 5 and 15-minute load averages, or "unknown" off Linux.</summary>
    public static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return "unknown"; }
    }

    public static string Describe() =>
        $"{CpuModel()}, {Environment.ProcessorCount} core(s) available, load average {LoadAverage()}";
}
