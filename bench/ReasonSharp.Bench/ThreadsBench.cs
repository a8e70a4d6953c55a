using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Native;
using ReasonSharp.Reporting;
using ReasonSharp.Training;
using static TorchSharp.torch;

namespace ReasonSharp.Bench;

/// <summary>
/// The thread policy's evidence: training-step time and decode tokens/s for each model size, intra-op thread count and
/// OpenMP wait policy, on an idle machine and beside one single-threaded busy loop. Every configuration runs in its own
/// process (the wait policy is read when libtorch loads), and the busy loop is a shell `while :; do :; done`.
/// </summary>
public static class ThreadsBench
{
    const string ResultPrefix = "RESULT ";

    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        int steps = int.Parse(Arg("--steps", "8"), CultureInfo.InvariantCulture);
        if (Arg("--worker", "") is { Length: > 0 } size) return Worker(size, steps);

        var sizes = Arg("--sizes", "nano,tiny,small,25m").Split(',');
        var threads = Arg("--threads", "1,2").Split(',').Select(int.Parse).ToArray();
        var waits = Arg("--waits", "PASSIVE,ACTIVE").Split(',');
        var busy = Arg("--busy", "0,1").Split(',').Select(int.Parse).ToArray();
        Console.WriteLine($"machine: {MachineInfo.Describe()}");
        Console.WriteLine($"{steps} timed training steps and one decode per configuration, each in its own process");
        Console.WriteLine();
        Console.WriteLine("| model | params | vocab | train batch×seq | threads | OMP_WAIT_POLICY | busy loops | " +
            "train step ms (median) | decode tok/s (B=8) |");
        Console.WriteLine("|---|---:|---:|---|---:|---|---:|---:|---:|");
        foreach (var s in sizes)
            foreach (var b in busy)
                foreach (var t in threads)
                    foreach (var w in waits)
                    {
                        var r = RunChild(s, t, w, b, steps);
                        Console.WriteLine(r is null
                            ? $"| {s} | | | | {t} | {w} | {b} | failed | |"
                            : $"| {s} | {r["params"]} | {r["vocab"]} | {r["batch"]}×{r["seq"]} | {t} | {w} | {b} | " +
                              $"{r["train_ms"]!.GetValue<double>():F1} | {r["decode_tps"]!.GetValue<double>():F0} |");
                    }
        Console.WriteLine();
        Console.WriteLine($"load average at the end: {MachineInfo.LoadAverage()}");
        return 0;
    }

    static JsonObject? RunChild(string size, int threads, string wait, int busyLoops, int steps)
    {
        var competitors = Enumerable.Range(0, busyLoops).Select(_ => BusyLoop()).ToList();
        try
        {
            var info = BenchProcess.Self(["threads", "--worker", size, "--steps", $"{steps}"]);
            info.Environment[ThreadPolicy.WaitPolicyVariable] = wait;
            info.Environment[ThreadPolicy.ThreadsVariable] = threads.ToString(CultureInfo.InvariantCulture);
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            var line = output.Split('\n').LastOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal));
            return line is null ? null : JsonNode.Parse(line[ResultPrefix.Length..]) as JsonObject;
        }
        finally
        {
            foreach (var c in competitors)
            {
                c.Kill();
                c.WaitForExit();
                c.Dispose();
            }
        }
    }

    static Process BusyLoop()
    {
        var info = new ProcessStartInfo("sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("while :; do :; done");
        return Process.Start(info)!;
    }

    /// <summary>Vocabulary and training shape per size: the quickstart's for the small models, the 32k vocabulary
    /// above.</summary>
    static (int Vocab, int Batch, int Seq) Shape(string size) => size switch
    {
        "nano" or "tiny" or "small" => (512, 16, 96),
        _ => (32000, 1, 512),
    };

    static int Worker(string size, int steps)
    {
        TorchNative.EnsureLoaded();
        var (vocab, batch, seq) = Shape(size);
        var shape = ModelPresets.Get(size);
        var config =
            ModelConfig.Create("qwen2", vocab, shape.HiddenSize, shape.IntermediateSize, shape.Layers, shape.Heads,
            shape.KvHeads,
            shape.HeadDim, tieWordEmbeddings: true, ropeTheta: shape.RopeTheta, maxPositions: 2048);
        using var model = new CausalLM(config, seed: 1);
        var random = new Random(3);
        var data = Enumerable.Range(0, batch * (steps + 2))
            .Select(_ =>
                new TokenSequence(Enumerable.Range(0, seq).Select(_ => (long)random.Next(vocab)).ToArray())).ToList();
        var output = Directory.CreateTempSubdirectory("reasonsharp-threadsbench-");
        List<double> seconds;
        try
        {
            var options = new TrainingOptions
            {
                OutputDir = output.FullName,
                MaxSteps = steps + 2,
                PerDeviceTrainBatchSize = batch,
                LearningRate = 1e-4,
                LoggingSteps = 1000,
                SaveStrategy = "no",
                WriteReport = false,
                DisableTqdm = true,
            };
            var result = new Trainer(model, new LanguageModelingTask(data, shuffle: false), options)
            {
                Progress = new ProgressDisplay(TextWriter.Null, false),
            }.Train();
            seconds = result.Steps.Skip(2).Select(s => s.Seconds).Order().ToList();
        }
        finally { output.Delete(recursive: true); }

        model.eval();
        var prompts =
            Enumerable.Range(0,
            8).Select(_ => Enumerable.Range(0, 32).Select(_ => random.Next(vocab)).ToArray()).ToList();
        var engine = new GenerationEngine(model);
        var greedy = SamplingOptions.Greedy(64) with { EosTokenIds = [] };
        using (no_grad())
        {
            engine.Generate(prompts, greedy with { MaxNewTokens = 8 });
            engine.Generate(prompts, greedy);
        }
        var stats = engine.LastStats!;
        var json = new JsonObject
        {
            ["size"] = size,
            ["params"] = model.ParameterCount(),
            ["vocab"] = vocab,
            ["batch"] = batch,
            ["seq"] = seq,
            ["threads"] = get_num_threads(),
            ["train_ms"] = seconds[seconds.Count / 2] * 1000,
            ["decode_tps"] = stats.DecodeTokensPerSecond,
            ["policy"] = ThreadPolicy.Describe(),
        };
        Console.WriteLine(ResultPrefix + json.ToJsonString());
        return 0;
    }
}
