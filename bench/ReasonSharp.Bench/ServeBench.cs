using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ReasonSharp.Modeling;
using ReasonSharp.Serving;

namespace ReasonSharp.Bench;

/// <summary>
/// Load on `reason serve` (in-process, loopback): for each client count, that many clients send chat requests back to
/// back for a fixed time (greedy, ignore_eos, a fixed max_tokens, so every request does the same work), and we report
/// completion tokens/s, requests/s, p50/p99 latency and failed requests. One client is the one-at-a-time baseline.
/// With --rss-requests N, N short requests follow from 32 clients, with the resident memory every N/10 requests.
/// </summary>
public static class ServeBench
{
    static readonly string[] Questions =
    [
        "Compute 49+18-21.", "Compute 40+(42-20).", "Compute 7*8+3.", "Compute 91-45+12.", "Compute (15+27)-9.",
        "Compute 63+29.", "Compute 88-(34+11).", "Compute 5*9-17.",
    ];

    public static int Run(string[] args)
    {
        var folder = Arg(args, "--model", "");
        if (folder.Length == 0) throw new ReasonSharpException("--model FOLDER: the model folder to serve");
        var clients = Arg(args, "--clients", "1,8,32").Split(',').Select(int.Parse).ToArray();
        double seconds = double.Parse(Arg(args, "--seconds", "20"), CultureInfo.InvariantCulture);
        int maxTokens = int.Parse(Arg(args, "--max-tokens", "64"), CultureInfo.InvariantCulture);
        int maxBatch = int.Parse(Arg(args, "--max-batch", "32"), CultureInfo.InvariantCulture);
        int rssRequests = int.Parse(Arg(args, "--rss-requests", "0"), CultureInfo.InvariantCulture);

        using var model = LanguageModel.Load(folder, "cpu");
        var server = OpenAiServer
            .StartAsync(model, folder, new ServeOptions { Port = 0, MaxBatch = maxBatch, MaxQueue = 1024 })
            .GetAwaiter().GetResult();
        try
        {
            using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(10) };
            Console.WriteLine($"reason serve {folder}: max_batch {maxBatch}, max_tokens {maxTokens} "
                + $"(greedy, ignore_eos), {seconds:F0} s per row, {Environment.ProcessorCount} cores");
            Load(http, 1, 3, maxTokens); // warm-up: JIT and first allocations
            Console.WriteLine("| clients | requests | failed | completion tok/s | requests/s | p50 latency (s) | " +
                "p99 latency (s) |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var c in clients)
            {
                var r = Load(http, c, seconds, maxTokens);
                Console.WriteLine(
                    FormattableString.Invariant($"| {c} | {r.Requests} | {r.Failed} | {r.Tokens / r.Seconds:F1} | ") +
                    FormattableString.Invariant($"{r.Requests / r.Seconds:F2} | {r.P50:F3} | {r.P99:F3} |"));
            }
            if (rssRequests > 0) Rss(http, rssRequests);
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return 0;
    }

    sealed record LoadResult(int Requests, int Failed, long Tokens, double Seconds, double P50, double P99);

    static LoadResult Load(HttpClient http, int clients, double seconds, int maxTokens)
    {
        var latencies = new List<double>();
        int failed = 0;
        long tokens = 0;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        var tasks = Enumerable.Range(0, clients).Select(async client =>
        {
            for (int i = 0; clock.Elapsed < deadline; i++)
            {
                var body = JsonSerializer.Serialize(new
                {
                    messages = new[] { new { role = "user", content = Questions[(client + i) % Questions.Length] } },
                    max_tokens = maxTokens, temperature = 0, ignore_eos = true,
                });
                var start = clock.Elapsed.TotalSeconds;
                try
                {
                    using var response = await http.PostAsync("/v1/chat/completions",
                        new StringContent(body, Encoding.UTF8, "application/json"));
                    var text = await response.Content.ReadAsStringAsync();
                    if (!response.IsSuccessStatusCode) { Interlocked.Increment(ref failed); continue; }
                    var used = JsonDocument.Parse(text).RootElement.GetProperty("usage")
                        .GetProperty("completion_tokens").GetInt64();
                    Interlocked.Add(ref tokens, used);
                    lock (latencies) latencies.Add(clock.Elapsed.TotalSeconds - start);
                }
                catch (HttpRequestException) { Interlocked.Increment(ref failed); }
            }
        }).ToArray();
        Task.WaitAll(tasks);
        var elapsed = clock.Elapsed.TotalSeconds;
        latencies.Sort();
        double Percentile(double p) => latencies.Count == 0
            ? double.NaN
            : latencies[Math.Min(latencies.Count - 1, (int)(p * latencies.Count))];
        return new LoadResult(latencies.Count + failed, failed, tokens, elapsed, Percentile(0.5), Percentile(0.99));
    }

    /// <summary>Short requests from 32 clients; the resident memory after each tenth of them.</summary>
    static void Rss(HttpClient http, int total)
    {
        Console.WriteLine($"\nRSS over {total} requests (32 clients, max_tokens 4):");
        Console.WriteLine("| requests | RSS (MiB) | failed |");
        Console.WriteLine("|---:|---:|---:|");
        int failed = 0;
        int step = Math.Max(1, total / 10);
        for (int done = 0; done < total; done += step)
        {
            int remaining = Math.Min(step, total - done);
            var tasks = Enumerable.Range(0, 32).Select(async client =>
            {
                while (Interlocked.Decrement(ref remaining) >= 0)
                {
                    var body = JsonSerializer.Serialize(new
                    {
                        messages = new[] { new { role = "user", content = Questions[client % Questions.Length] } },
                        max_tokens = 4, temperature = 0, ignore_eos = true,
                    });
                    using var response = await http.PostAsync("/v1/chat/completions",
                        new StringContent(body, Encoding.UTF8, "application/json"));
                    if (!response.IsSuccessStatusCode) Interlocked.Increment(ref failed);
                }
            }).ToArray();
            Task.WaitAll(tasks);
            using var process = Process.GetCurrentProcess();
            Console.WriteLine(
                $"| {Math.Min(total, done + step)} | {process.WorkingSet64 / (1024 * 1024)} | {failed} |");
        }
    }

    static string Arg(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
