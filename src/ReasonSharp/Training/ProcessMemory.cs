namespace ReasonSharp.Training;

/// <summary>Resident memory of this process from /proc/self/status (VmRSS now, VmHWM peak); falls back to the working
/// set elsewhere.</summary>
public static class ProcessMemory
{
    public static long CurrentBytes() => ReadStatus("VmRSS:") ?? Environment.WorkingSet;

    public static long PeakBytes() => ReadStatus("VmHWM:") ?? Environment.WorkingSet;

    /// <summary>Resets the peak (VmHWM) by writing 5 to /proc/self/clear_refs; returns false where that is not
    /// allowed.</summary>
    public static bool ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    static long? ReadStatus(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(field))
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0]) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return null;
    }
}
