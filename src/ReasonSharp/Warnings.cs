namespace ReasonSharp;

/// <summary>
/// Problems the library works around instead of stopping on (e.g. bytes that are not UTF-8, read as U+FFFD). Each is
/// reported to <see cref="Sink"/>: by default a "warning: …" line on standard error.
/// </summary>
public static class Warnings
{
    public static Action<string> Sink { get; set; } = message => Console.Error.WriteLine("warning: " + message);

    public static void Report(string message) => Sink(message);
}
