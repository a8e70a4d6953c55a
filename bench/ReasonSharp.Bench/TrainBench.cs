using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Training;
using ReasonSharp.Training.Lora;
using static TorchSharp.torch;

namespace ReasonSharp.Bench;

/// <summary>
/// Training-step throughput of the real loop (forward + backward + AdamW) at sequence 512 on Qwen2-shaped models, with
/// and without gradient checkpointing, full and LoRA: tokens/s, achieved GFLOP/s against the fp32 matmul peak measured
/// in the same run (CPU MFU), and peak RSS. Each configuration runs in its own process so its memory is its own.
/// </summary>
public static class TrainBench
{
    const int Vocab = 32000;

    sealed record Config(string Size, bool Lora, bool Checkpointing)
    {
        public string Name => $"{Size},{(Lora ? "lora" : "full")},{(Checkpointing ? "ckpt" : "nockpt")}";
        public static Config Parse(string text)
        {
            var parts = text.Split(',');
            return new Config(parts[0], parts[1] == "lora", parts[2] == "ckpt");
        }
    }

    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        int steps = int.Parse(Arg("--steps", "3"), CultureInfo.InvariantCulture);
        int seq = int.Parse(Arg("--seq", "512"), CultureInfo.InvariantCulture);
        int batch = int.Parse(Arg("--batch", "1"), CultureInfo.InvariantCulture);
        if (Arg("--threads", "") is { Length: > 0 } threads) set_num_threads(int.Parse(threads,
            CultureInfo.InvariantCulture));
        var optim = Arg("--optim", "adamw_torch");
        if (Arg("--single", "") is { Length: > 0 } single)
            return RunSingle(Config.Parse(single), steps, seq, batch, optim);
        if (args.Contains("--profile"))
            return Profile(Arg("--sizes", "25m"), seq, batch);

        var sizes = Arg("--sizes", "25m,100m").Split(',');
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores ({CpuName()}), torch threads " +
            $"{get_num_threads()}, load average {LoadAverage()}");
        double peakBefore = MatmulPeakGflops();
        var rows = new List<(Config Config, JsonObject? Speed, JsonObject? Memory)>();
        foreach (var size in sizes)
            foreach (var lora in new[] { false, true })
                foreach (var ckpt in new[] { false, true })
                {
                    var config = new Config(size, lora, ckpt);
                    rows.Add((config, RunChild(config, steps, seq, batch, optim, measureMemory: false),
                        RunChild(config, 1, seq, batch, optim, measureMemory: true)));
                }
        double peakAfter = MatmulPeakGflops(), peak = Math.Max(peakBefore, peakAfter);
        Console.WriteLine($"fp32 matmul peak (2048², best of 5, before and after the runs): {peakBefore:F1} and " +
            $"{peakAfter:F1} GFLOP/s; the higher one is used");
        Console.WriteLine($"seq {seq}, batch {batch}, {steps} timed steps after 1 warm-up step. MFU = model " +
            $"FLOPs/s at the best step ÷ matmul peak");
        Console.WriteLine("(recomputation not credited). Memory from a separate run with " +
            "MALLOC_MMAP_THRESHOLD_=65536, so freed tensors leave RSS.");
        Console.WriteLine($"load average at the end: {LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| model | params | mode | grad ckpt | tokens/s median | tokens/s best | step s best | " +
            "GFLOP/s best | MFU | peak RSS MB | step peak − base MB |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (config, speed, memory) in rows)
        {
            var mode = config.Lora ? "LoRA r16 q,v" : "full";
            var checkpointing = config.Checkpointing ? "on" : "off";
            if (speed is null || memory is null) { Console.WriteLine($"| {config.Size} | | {mode} | {checkpointing} | failed | | | | | | |"); continue; }
            var seconds = speed["step_seconds"]!.AsArray().Select(n => n!.GetValue<double>()).Order().ToList();
            double median = seconds[seconds.Count / 2], best = seconds[0],
                gflops = speed["step_flops"]!.GetValue<double>() / best / 1e9;
            Console.WriteLine($"| {config.Size} | {speed["params_m"]}M | {mode} | {checkpointing} | " +
                $"{batch * seq / median:F0} | {batch * seq / best:F0} | {best:F2} | " +
                              $"{gflops:F1} | {gflops / peak * 100:F0}% | {memory["peak_rss_mb"]} | " +
                              $"{memory["activation_peak_mb"]} |");
        }
        return 0;
    }

    static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
    }

    static string CpuName()
    {
        try
        {
            var model =
                File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':',
                2)[1].Trim();
            return model ?? "unknown CPU";
        }
        catch (IOException) { return "unknown CPU"; }
    }

    static JsonObject? RunChild(Config config, int steps, int seq, int batch, string optim, bool measureMemory)
    {
        var info = BenchProcess.Self(
            ["train", "--single", config.Name, "--steps", $"{steps}", "--seq", $"{seq}", "--batch", $"{batch}",
                "--optim", optim]);
        // A fixed mmap threshold stops glibc from keeping freed tensor memory in the heap, so RSS follows live memory.
        if (measureMemory) info.Environment["MALLOC_MMAP_THRESHOLD_"] = "65536";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT "));
        return line is null ? null : JsonNode.Parse(line["RESULT ".Length..]) as JsonObject;
    }

    static CausalLM NewModel(string size)
    {
        var shape = ModelPresets.Get(size);
        var config =
            ModelConfig.Create("qwen2", Vocab, shape.HiddenSize, shape.IntermediateSize, shape.Layers, shape.Heads,
            shape.KvHeads,
            shape.HeadDim, tieWordEmbeddings: true, ropeTheta: shape.RopeTheta, maxPositions: 4096);
        return new CausalLM(config, seed: 1);
    }

    /// <summary>Model FLOPs per step: 2·N per token forward (N counts the tied embedding once, as the head matmul), 2·N
    /// backward for activations, 2·N for weight gradients when the base trains; causal attention 2·L·d·T² per sequence
    /// forward (QKᵀ and PV over the lower triangle, which the CPU flash kernel skips above), twice that
    /// backward.</summary>
    static double StepFlops(CausalLM model, bool lora, int seq, int batch)
    {
        var c = model.Config;
        double matrixParams = model.ParameterCount() - (c.TieWordEmbeddings ? 0 : (double)c.VocabSize * c.HiddenSize);
        double perToken = (lora ? 4 : 6) * matrixParams;
        double attention = 6.0 * c.NumHiddenLayers * c.NumAttentionHeads * c.HeadDim * seq * (double)seq;
        return batch * (perToken * seq + attention);
    }

    static int RunSingle(Config config, int steps, int seq, int batch, string optim)
    {
        using var model = NewModel(config.Size);
        var adapters = config.Lora
            ? LoraAdapters.Apply(model, new LoraConfig { R = 16, LoraAlpha = 32, TargetModules = ["q_proj", "v_proj"] },
            seed: 1) : null;
        var random = new Random(3);
        var data = Enumerable.Range(0, batch * (steps + 1))
            .Select(_ =>
                new TokenSequence(Enumerable.Range(0, seq).Select(_ => (long)random.Next(Vocab)).ToArray())).ToList();
        var output = Directory.CreateTempSubdirectory("reasonsharp-trainbench-");
        try
        {
            var options = new TrainingOptions
            {
                OutputDir = output.FullName, MaxSteps = steps + 1, PerDeviceTrainBatchSize = batch, LearningRate = 1e-4,
                LoggingSteps = 1000, SaveStrategy = "no", WriteReport = false, DisableTqdm = true,
                GradientCheckpointing = config.Checkpointing, Optim = optim,
            };
            long baseline = 0;
            var trainer = new Trainer(model, new LanguageModelingTask(data, shuffle: false), options, adapters)
            {
                Progress = new ProgressDisplay(TextWriter.Null, false),
                StepCompleted = record =>
                {
                    if (record.Step != 1) return;
                    baseline = ProcessMemory.CurrentBytes();
                    ProcessMemory.ResetPeak();
                },
            };
            var result = trainer.Train();
            long peak = ProcessMemory.PeakBytes();
            var timed = result.Steps.Skip(1).ToList();
            var json = new JsonObject
            {
                ["config"] = config.Name,
                ["params_m"] = Math.Round(model.ParameterCount() / 1e6, 1),
                ["step_seconds"] = new JsonArray(timed.Select(s => (JsonNode)Math.Round(s.Seconds, 4)).ToArray()),
                ["step_flops"] = StepFlops(model, config.Lora, seq, batch),
                ["peak_rss_mb"] = Math.Round(peak / 1048576.0),
                ["activation_peak_mb"] = Math.Round((peak - baseline) / 1048576.0),
                ["losses"] = new JsonArray(result.Steps.Select(s => (JsonNode)Math.Round(s.Loss, 4)).ToArray()),
            };
            Console.WriteLine("RESULT " + json.ToJsonString());
            return 0;
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    /// <summary>Best-of-5 GFLOP/s of a 2048×2048 fp32 matmul.</summary>
    static double MatmulPeakGflops()
    {
        using var a = randn(2048, 2048);
        using var b = randn(2048, 2048);
        double best = 0;
        for (int i = 0; i < 6; i++)
        {
            var clock = Stopwatch.StartNew();
            using var c = a.matmul(b);
            _ = c[0, 0].item<float>();
            if (i > 0) best = Math.Max(best, 2.0 * 2048 * 2048 * 2048 / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>Where a full training step's time goes: forward to hidden states, head + loss, backward, clip,
    /// AdamW.</summary>
    static int Profile(string size, int seq, int batch)
    {
        using var model = NewModel(size);
        using var optimizer = AdamWOptimizer.ForModel(model, new TrainingOptions());
        using var onePass = AdamWOptimizer.ForModel(model, new TrainingOptions { Optim = "adamw_torch_fused" });
        using var opByOp = AdamWOptimizer.ForModel(model, new TrainingOptions());
        opByOp.Kernel = AdamWKernel.OpByOp;
        using var ids = randint(0, Vocab, [batch, seq]);
        var timings = new Dictionary<string, List<double>>();
        void Time(string name, Action action)
        {
            var clock = Stopwatch.StartNew();
            action();
            timings.TryAdd(name, []);
            timings[name].Add(clock.Elapsed.TotalMilliseconds);
        }
        for (int i = 0; i < 4; i++)
        {
            using var scope = NewDisposeScope();
            Tensor hidden = null!, loss = null!;
            Time("forward: decoder layers",
                () => { hidden = model.Model.Forward(ids); _ = hidden[0, 0, 0].item<float>(); });
            Time("forward: lm head + cross-entropy", () =>
            {
                var logits = model.Logits(hidden[.., ..^1].reshape(-1, hidden.shape[2]));
                loss = nn.functional.cross_entropy(logits, ids[.., 1..].reshape(-1));
                _ = loss.item<float>();
            });
            Time("backward", () => loss.backward());
            Time("grad norm + clip",
                () => Trainer.ClipGradients(optimizer.Parameters, Trainer.GradientNorm(optimizer.Parameters), 1.0));
            Time($"AdamW step ({optimizer.Kernel}, rounds as libtorch: {AdamWOptimizer.KernelsRoundAsLibtorch})",
                () => optimizer.Step(1e-4));
            Time("(not in the step) AdamW, one pass", () => onePass.Step(1e-4));
            Time("(not in the step) AdamW, libtorch ops", () => opByOp.Step(1e-4));
            optimizer.ZeroGrad();
        }
        Console.WriteLine($"{size}, seq {seq}, batch {batch} (mean of 3 after warm-up, ms):");
        double total = timings.Where(t => !t.Key.StartsWith('(')).Sum(t => t.Value.Skip(1).Average());
        foreach (var (name, values) in timings)
        {
            double ms = values.Skip(1).Average();
            Console.WriteLine($"  {name,-36} {ms,9:F1}  {ms / total * 100,5:F1}%");
        }
        return 0;
    }
}
