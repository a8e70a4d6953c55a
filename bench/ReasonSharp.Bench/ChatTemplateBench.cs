using System.Diagnostics;
using System.Globalization;
using ReasonSharp.Templates;

namespace ReasonSharp.Bench;

/// <summary> Renders per second of the Jinja engine on Qwen3's chat template (the committed fixture copy) over a 3-turn
/// conversation with a system message and think blocks, on one thread: the template parsed once, the variables built
/// from .NET dictionaries on every render as ChatFormat does. Best of several timed rounds, so that other load on the
/// machine matters less; the load average is printed with the figure.
/// </summary>
public static class ChatTemplateBench
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        double seconds = double.Parse(Arg("--seconds", "2"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Arg("--rounds", "5"), CultureInfo.InvariantCulture);
        var path = Path.Combine(RepoRoot(), "tests", "ReasonSharp.Tests", "Templates", "Fixtures", "templates",
            "Qwen-Qwen3-0.6B.jinja");
        var template = Template.Parse(File.ReadAllText(path), "qwen3");
        (string Role, string Content)[] turns =
        [
            ("system", "You are a careful assistant. Answer briefly."),
            ("user", "What is 2 + 3?"), ("assistant", "<think>\nAdd 2 and 3.\n</think>\n\n2 + 3 = 5."),
            ("user", "And 4 + 4?"), ("assistant", "<think>\n4 + 4 is 8.\n</think>\n\n8."),
            ("user", "And 5 + 7?"), ("assistant", "<think>\n5 + 7 is 12.\n</think>\n\n12."),
        ];
        Dictionary<string, object?> Variables() => new()
        {
            ["messages"] = turns.Select(t => (object?)new Dictionary<string, object?>
            {
                ["role"] = t.Role,
                ["content"] = t.Content
            }).ToList(),
            ["add_generation_prompt"] = false,
            ["eos_token"] = "<|im_end|>",
        };
        var length = template.RenderText(Variables()).Length;
        Console.WriteLine($"qwen3 template, {turns.Length - 1} messages after the system one, {length} characters "
            + $"rendered; load average {LoadAverage()}");
        for (var i = 0; i < 20_000; i++) template.Render(Variables()); // warm-up: tiered JIT
        var best = 0.0;
        for (var round = 0; round < rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            var renders = 0;
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                template.Render(Variables());
                renders++;
            }
            var rate = renders / clock.Elapsed.TotalSeconds;
            best = Math.Max(best, rate);
            Console.WriteLine($"round {round + 1}: {rate:F0} renders/s ({1e6 / rate:F1} µs each)");
        }
        Console.WriteLine($"best: {best:F0} renders/s; load average at the end {LoadAverage()}");
        return 0;
    }

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ReasonSharp.sln"))) return dir.FullName;
        throw new InvalidOperationException("ReasonSharp.sln not found above " + AppContext.BaseDirectory);
    }

    static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ',
        File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
