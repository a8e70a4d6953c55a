using System.Globalization;

namespace ReasonSharp.Reporting;

/// <summary>
/// A one-line progress bar (step, loss, tokens/s, ETA) redrawn in place on an interactive console; with redirected
/// output or disable_tqdm only the log lines are written.
/// </summary>
public sealed class ProgressDisplay(TextWriter output, bool interactive)
{
    bool _barShown;

    public static ProgressDisplay ForConsole(bool disabled) =>
        new(Console.Out,
            !disabled && !Console.IsOutputRedirected && Spectre.Console.AnsiConsole.Profile.Capabilities.Ansi);

    public void Update(long step, long maxSteps, double loss, double tokensPerSecond, TimeSpan eta)
    {
        if (!interactive) return;
        const int width = 30;
        int filled = maxSteps > 0 ? (int)(width * step / maxSteps) : 0;
        var bar = new string('█', filled) + new string('░', width - filled);
        output.Write($"\r\u001b[2K{bar} {step}/{maxSteps}  loss " +
            $"{loss.ToString("0.####", CultureInfo.InvariantCulture)}  " +
                     $"{tokensPerSecond.ToString("0", CultureInfo.InvariantCulture)} tok/s  ETA " +
                     $"{(int)eta.TotalHours}:{eta:mm\\:ss}");
        output.Flush();
        _barShown = true;
    }

    /// <summary>A transfer's bar: bytes done of the total, the rate and the time left.</summary>
    public void UpdateTransfer(string label, long doneBytes, long totalBytes, double bytesPerSecond, TimeSpan eta)
    {
        if (!interactive) return;
        const int width = 30;
        int filled = totalBytes > 0 ? (int)Math.Min(width, width * doneBytes / totalBytes) : 0;
        var bar = new string('█', filled) + new string('░', width - filled);
        output.Write($"\r\u001b[2K{bar} {FormatBytes(doneBytes)}/{FormatBytes(totalBytes)}  " +
                     $"{FormatBytes((long)bytesPerSecond)}/s  " +
                     $"ETA {(int)eta.TotalHours}:{eta:mm\\:ss}  {label}");
        output.Flush();
        _barShown = true;
    }

    /// <summary>A count's bar: items done of the total, the rate per second and the time left.</summary>
    public void UpdateCount(string label, long done, long total, double perSecond, TimeSpan eta)
    {
        if (!interactive) return;
        const int width = 30;
        int filled = total > 0 ? (int)Math.Min(width, width * done / total) : 0;
        var bar = new string('█', filled) + new string('░', width - filled);
        output.Write($"\r\u001b[2K{bar} {done}/{total} {label}  " +
            $"{perSecond.ToString("0.##", CultureInfo.InvariantCulture)}/s  ETA {(int)eta.TotalHours}:{eta:mm\\:ss}");
        output.Flush();
        _barShown = true;
    }

    /// <summary>Bytes in B, KiB, MiB or GiB, one decimal above bytes.</summary>
    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1) { value /= 1024; unit++; }
        return unit == 0 ? $"{bytes} B" : $"{value.ToString("0.0", CultureInfo.InvariantCulture)} {units[unit]}";
    }

    public void WriteLine(string line)
    {
        if (_barShown) output.Write("\r\u001b[2K");
        output.WriteLine(line);
        _barShown = false;
    }

    public void Finish()
    {
        if (_barShown) output.WriteLine();
        _barShown = false;
    }
}
