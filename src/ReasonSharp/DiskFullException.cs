using System.Globalization;

namespace ReasonSharp;

/// <summary>A write failed because the device is full (or the quota is spent); the message names the file.</summary>
public sealed class DiskFullException(string message, Exception inner) : ReasonSharpException(message, inner)
{
    /// <summary>ENOSPC or EDQUOT on Unix; ERROR_HANDLE_DISK_FULL or ERROR_DISK_FULL on Windows.</summary>
    public static bool IsDiskFull(Exception e) =>
        e is IOException && (OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) is 39 or 112 : e.HResult is 28 or 122);

    /// <summary>
    /// "disk full at PATH: N bytes needed, M free" when the size of the whole file is known, else "at least N", N being
    /// what had been written when the device filled.
    /// </summary>
    public static DiskFullException At(string path, Exception error, long? neededBytes, long writtenBytes)
    {
        var what = neededBytes is { } n
            ? $"{Bytes(n)} needed, {Free(path)}"
            : $"at least {Bytes(writtenBytes)} needed (the content was not complete when the device filled), " +
              Free(path);
        return new DiskFullException(
            $"disk full at {path}: {what}; the file is unchanged (free space and retry)", error);
    }

    /// <summary>For an append to a log file: the line was not added; the lines before it are intact.</summary>
    public static DiskFullException Appending(string path, Exception error, long lineBytes) =>
        new($"disk full at {path}: appending {Bytes(lineBytes)} failed, {Free(path)}; the lines before are " +
            "intact (free space and retry)", error);

    static string Free(string path) =>
        FreeBytes(path) is { } free ? $"{Bytes(free)} free on that device now" : "the free space is unknown";

    /// <summary>The bytes free to this user on the device of <paramref name="path"/> (or its nearest folder).</summary>
    public static long? FreeBytes(string path)
    {
        try
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            while (dir is not null && !Directory.Exists(dir)) dir = Path.GetDirectoryName(dir);
            return dir is null ? null : new DriveInfo(dir).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    static string Bytes(long bytes) => bytes.ToString("N0", CultureInfo.InvariantCulture) + " bytes";
}
