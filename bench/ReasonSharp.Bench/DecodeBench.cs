using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ReasonSharp.Export;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Native;
using ReasonSharp.Tokenization;
using TorchSharp;

namespace ReasonSharp.Bench;

/// <summary>
/// Decode throughput (generated tokens/s) of our engine against llama.cpp on the same f32 GGUF export of the same
/// weights, for Qwen2-shaped models at several batch sizes: greedy, a fixed number of new tokens (no eos), the same
/// thread count.
/// Each (engine, size, batch) runs in its own child process, ours and llama.cpp back to back, so that each reports its
/// own peak RSS; the parent prints a Markdown table with the ratio ours/llama.cpp.
/// </summary>
public static class DecodeBench
{
    const string ResultPrefix = "RESULT ";
    const int Seed = 1;
    /// <summary>An untimed run of the same batch first: .NET's tiered JIT needs a few hundred steps to reach optimised
    /// code.</summary>
    const int WarmupTokens = 32;

    sealed record Settings(string[] Sizes, int[] Batches, int Prompt, int New, int Vocab, int Threads, int Repeats,
        string Work, string[] LlamaWaitPolicies)
    {
        public static Settings Parse(string[] args) => new(
            Arg(args, "--sizes", "25m,100m").Split(','),
            Arg(args, "--batches", "1,8,32").Split(',').Select(int.Parse).ToArray(),
            int.Parse(Arg(args, "--prompt", "64")),
            int.Parse(Arg(args, "--new", "256")),
            int.Parse(Arg(args, "--vocab", "32000")),
            int.Parse(Arg(args, "--threads", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture))),
            int.Parse(Arg(args, "--repeats", "1")),
            Arg(args, "--work", Path.Combine(Path.GetTempPath(), "reasonsharp-decode-bench")),
            Arg(args, "--llama-wait", "ACTIVE,PASSIVE").Split(','));

        public string[] Common =>
            ["--prompt", $"{Prompt}", "--new", $"{New}", "--vocab", $"{Vocab}", "--threads", $"{Threads}", "--work",
            Work];
    }

    /// <summary>One timed generation: seconds, tokens and the worker's peak resident memory.</summary>
    sealed record Measurement(string Engine, string Size, int Batch, double PrefillSeconds, double DecodeSeconds,
        int Generated,
        long PeakRssBytes, long StartRssBytes, string WaitPolicy = "")
    {
        public double TokensPerSecond => Generated / DecodeSeconds;
    }

    public static int Run(string[] args)
    {
        var settings = Settings.Parse(args);
        return Arg(args, "--worker", "") switch
        {
            "" => Orchestrate(settings),
            "ours" => Report(RunOurs(settings, Arg(args, "--size", ""), int.Parse(Arg(args, "--batch", "1")))),
            "llama" => Report(RunLlama(settings, Arg(args, "--size", ""), int.Parse(Arg(args, "--batch", "1")))),
            var other => throw new ReasonSharpException($"--worker '{other}': expected ours or llama"),
        };
    }

    static int Orchestrate(Settings s)
    {
        Directory.CreateDirectory(s.Work);
        Console.WriteLine($"machine: {CpuModel()}, {Environment.ProcessorCount} cores, load average " +
            $"{File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine($"threads={s.Threads} prompt={s.Prompt} new={s.New} vocab={s.Vocab} repeats={s.Repeats} " +
            $"work={s.Work}");
        var tokenizerFolder = Path.Combine(s.Work, "tokenizer");
        var bpe =
            BpeTrainer.TrainToFolder(TokenizerText(), new BpeTrainerOptions { VocabSize = s.Vocab }, tokenizerFolder);
        Console.WriteLine($"tokenizer: {bpe.VocabSize} ids trained in {bpe.Elapsed.TotalSeconds:F1}s (GGUF pads to " +
            $"the model's {s.Vocab} rows)");

        var rows = new List<(Measurement Ours, Measurement Llama, double Agreement, long Parameters)>();
        foreach (var size in s.Sizes)
        {
            long parameters;
            using (var model = NewModel(s, size))
            {
                parameters = model.ParameterCount();
                var export =
                    GgufExporter.Export(model, tokenizerFolder, GgufPath(s, size),
                    new GgufExportOptions { Type = GgufFileType.F32, Name = $"bench-{size}" });
                Console.WriteLine($"{size}: {parameters / 1e6:F1}M parameters, exported " +
                    $"{export.FileBytes / 1048576.0:F0} MiB f32 GGUF");
            }
            foreach (int batch in s.Batches)
            {
                Measurement? ours = null, llama = null;
                for (int r = 0; r < s.Repeats; r++)
                {
                    ours = Best(ours, RunWorker(s, "ours", size, batch, waitPolicy: null));
                    foreach (var wait in s.LlamaWaitPolicies)
                        llama = Best(llama, RunWorker(s, "llama", size, batch, wait));
                }
                double agreement =
                    Agreement(TokensPath(s, "ours", size, batch), TokensPath(s, "llama", size, batch), s.New);
                rows.Add((ours!, llama!, agreement, parameters));
            }
        }
        Console.WriteLine($"load average after: {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine();
        Console.WriteLine(Table(rows));
        return 0;
    }

    static Measurement Best(Measurement? current, Measurement next) =>
        current is null || next.TokensPerSecond > current.TokensPerSecond
            ? next with { PeakRssBytes = Math.Max(next.PeakRssBytes, current?.PeakRssBytes ?? 0) } : current;

    static string Table(List<(Measurement Ours, Measurement Llama, double Agreement, long Parameters)> rows)
    {
        static string MiB(long bytes) => $"{bytes / 1048576.0:F0}";
        var table = new StringBuilder();
        table.AppendLine("| model | params | batch | ours tok/s | llama.cpp tok/s | ours / llama.cpp | prefill " +
            "ours (s) | prefill llama.cpp (s) | peak RSS ours (MiB) | peak RSS llama.cpp (MiB) | greedy tokens " +
            "agreeing | llama.cpp's best OMP_WAIT_POLICY |");
        table.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (o, l, agreement, parameters) in rows)
            table.AppendLine($"| {o.Size} | {parameters / 1e6:F1}M | {o.Batch} | {o.TokensPerSecond:F1} | " +
                $"{l.TokensPerSecond:F1} | {o.TokensPerSecond / l.TokensPerSecond:F2} | {o.PrefillSeconds:F3} | " +
                $"{l.PrefillSeconds:F3} | {MiB(o.PeakRssBytes)} | {MiB(l.PeakRssBytes)} | {agreement:P0} | " +
                $"{l.WaitPolicy} |");
        return table.ToString();
    }

    /// <summary>Runs one worker in a child process and reads its result line. Ours runs under the program's thread
    /// policy; llama.cpp (which also uses OpenMP) under the wait policy given, so that it gets its best one.</summary>
    static Measurement RunWorker(Settings s, string engine, string size, int batch, string? waitPolicy)
    {
        var start = BenchProcess.Self(["decode", "--worker", engine, "--size", size, "--batch", $"{batch}", .. s.Common]);
        if (waitPolicy is not null) start.Environment[ThreadPolicy.WaitPolicyVariable] = waitPolicy;
        using var child = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        string? result = null;
        while (child.StandardOutput.ReadLine() is { } line)
            if (line.StartsWith(ResultPrefix, StringComparison.Ordinal)) result = line[ResultPrefix.Length..];
            else Console.WriteLine(line);
        child.WaitForExit();
        if (child.ExitCode != 0 || result is null) throw new ReasonSharpException($"decode worker {engine} {size} " +
            $"batch {batch} failed with exit code {child.ExitCode}");
        var m = JsonSerializer.Deserialize<Measurement>(result)! with { WaitPolicy = waitPolicy ?? "" };
        Console.WriteLine($"{engine,-5} {size} batch={batch,-3} {waitPolicy,-7} prefill={m.PrefillSeconds:F3}s " +
            $"decode={m.DecodeSeconds:F2}s tok/s={m.TokensPerSecond:F1} peak_rss={m.PeakRssBytes / 1048576}MiB " +
            $"(start {m.StartRssBytes / 1048576}MiB)");
        return m;
    }

    static int Report(Measurement m)
    {
        Console.WriteLine(ResultPrefix + JsonSerializer.Serialize(m));
        return 0;
    }

    static Measurement RunOurs(Settings s, string size, int batch)
    {
        torch.set_num_threads(s.Threads);
        long startRss = Rss("VmRSS");
        using var model = NewModel(s, size);
        var engine = new GenerationEngine(model);
        var prompts = Prompts(s, size, batch);
        engine.Generate(prompts, SamplingOptions.Greedy(WarmupTokens));
        var results = engine.Generate(prompts, SamplingOptions.Greedy(s.New));
        var stats = engine.LastStats!;
        WriteTokens(TokensPath(s, "ours", size, batch), results.Select(r => r.CompletionIds).ToList(), s.New);
        return new Measurement("ours", size, batch, stats.Prefill.TotalSeconds, stats.Decode.TotalSeconds,
            stats.GeneratedTokens, Rss("VmHWM"), startRss);
    }

    static Measurement RunLlama(Settings s, string size, int batch)
    {
        long startRss = Rss("VmRSS");
        using var llama =
            LlamaCppReference.Load(GgufPath(s, size), s.Threads, contextSize: batch * (s.Prompt + s.New),
            maxSequences: batch);
        var prompts = Prompts(s, size, batch);
        llama.GreedyBatch(prompts, WarmupTokens);
        var result = llama.GreedyBatch(prompts, s.New);
        WriteTokens(TokensPath(s, "llama", size, batch), result.Tokens, s.New);
        return new Measurement("llama", size, batch, result.Prefill.TotalSeconds, result.Decode.TotalSeconds,
            result.Tokens.Sum(t => t.Length), Rss("VmHWM"), startRss);
    }

    static CausalLM NewModel(Settings s, string size)
    {
        var shape = ModelPresets.Get(size);
        var config =
            ModelConfig.Create("qwen2", s.Vocab, shape.HiddenSize, shape.IntermediateSize, shape.Layers, shape.Heads,
            shape.KvHeads,
            tieWordEmbeddings: true, ropeTheta: shape.RopeTheta, maxPositions: Math.Max(4096, s.Prompt + s.New));
        return new CausalLM(config, seed: Seed);
    }

    /// <summary>The same random prompts for both engines.</summary>
    static List<int[]> Prompts(Settings s, string size, int batch)
    {
        var random = new Random(Seed + 7919 * batch + size.Sum(c => c));
        return Enumerable.Range(0,
            batch).Select(_ => Enumerable.Range(0, s.Prompt).Select(_ => random.Next(s.Vocab)).ToArray()).ToList();
    }

    static void WriteTokens(string path, IReadOnlyList<int[]> tokens, int expected)
    {
        if (tokens.Any(t => t.Length != expected))
            throw new ReasonSharpException($"a row generated {tokens.Min(t => t.Length)} tokens; the benchmark " +
                $"needs exactly {expected}");
        File.WriteAllLines(path, tokens.Select(t => string.Join(' ', t)));
    }

    /// <summary>Mean length of the greedy prefix both engines agree on, as a fraction of the new tokens (a check that
    /// the weights are the same).</summary>
    static double Agreement(string oursPath, string llamaPath, int newTokens)
    {
        static int[][] Read(string path) =>
            File.ReadAllLines(path).Select(l => l.Split(' ').Select(int.Parse).ToArray()).ToArray();
        var (ours, llama) = (Read(oursPath), Read(llamaPath));
        return ours.Zip(llama).Average(p =>
            (double)p.First.Zip(p.Second).TakeWhile(t => t.First == t.Second).Count() / newTokens);
    }

    static string GgufPath(Settings s, string size) => Path.Combine(s.Work, $"qwen2-{size}-f32.gguf");
    static string TokensPath(Settings s, string engine, string size, int batch) =>
        Path.Combine(s.Work, $"{engine}-{size}-{batch}.tokens");

    /// <summary>GSM8K text when the shared data is beside the checkout, otherwise a deterministic synthetic
    /// corpus.</summary>
    static IEnumerable<string> TokenizerText()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var gsm8k = Path.Combine(dir.FullName, "..", "shared", "data", "gsm8k", "train.jsonl");
            if (File.Exists(Path.Combine(dir.FullName, "ReasonSharp.sln"))
                && File.Exists(gsm8k)) return File.ReadLines(gsm8k).Take(3000);
        }
        var random = new Random(Seed);
        return Enumerable.Range(0,
            3000).Select(_ =>
            string.Join(' ',
            Enumerable.Range(0,
            40).Select(_ => new string((char)('a' + random.Next(26)), 1 + random.Next(3)) + random.Next(100))));
    }

    /// <summary>A line of /proc/self/status in bytes (VmRSS now, VmHWM the peak).</summary>
    static long Rss(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l =>
            l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";

    internal static string Arg(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
