namespace ReasonSharp.Bench;

/// <summary>Entry point of `dotnet run --project bench/ReasonSharp.Bench -- NAME [options]`. Each benchmark registers one line here.</summary>
public static class BenchRunner
{
    static readonly Dictionary<string, (string Description, Func<string[], int> Run)> Benchmarks = new()
    {
        ["decode"] = ("decode tokens/s of our engine (--sizes 25m,100m --batches 1,8,32 --prompt 64 --new 256)", DecodeBench.Run),
        ["train"] = ("Training steps/s, MFU, peak RSS: 25m/100m, full/LoRA, gradient checkpointing on/off (--profile: time split)", TrainBench.Run),
        ["grpo-memory"] = ("GRPO resident memory every 10 steps over a long run (--steps 200 --size tiny): flat means no leak", GrpoMemoryBench.Run),
        ["threads"] = ("Thread policy: train step and decode time per size × threads × OMP_WAIT_POLICY, idle and beside a busy loop", ThreadsBench.Run),
        ["quickstart-seeds"] = ("reason quickstart per seed, each in its own process: accuracy and time per stage, median and min (--seeds 1,2,3,4,5 [--quick])", QuickstartSeedsBench.Run),
        ["forced-think"] = ("Thinking-path competence: greedy, forced-think greedy and sampled accuracy per model folder (MODEL... --data F)", ForcedThinkBench.Run),
        ["sandbox"] = ("Cost of a sandboxed Python run per mode (--runs 20 --parallel 4)", SandboxBench.Run),
        ["chat-template"] = ("Jinja engine: renders/s of Qwen3's chat template on a 3-turn conversation, one thread "
            + "(--seconds 2 --rounds 5)", ChatTemplateBench.Run),
        ["quantize"] = ("GGUF per type (f32 … q4_0): size, llama.cpp decode tok/s, held-out perplexity, accuracy and "
            + "agreement with f32 (--model DIR --data test.jsonl [--size 25m] --rows 100 --threads 2)", QuantizeBench.Run),
        ["sft"] = ("SFT packing cost: packed rows vs separate sequences vs a plain row, forward+backward and peak RSS (--seq 512 --pieces 4)", SftBench.Run),
        ["serve"] = ("reason serve under load: 1, 8, 32 concurrent clients for a fixed time, tok/s, p50/p99, failures "
            + "(--model FOLDER --clients 1,8,32 --seconds 20 --max-tokens 64 [--rss-requests 10000])", ServeBench.Run),
        ["verifier"] = ("Math verifier time per call (p50/p99, GSM8K and MATH styles) and worst case per input cap "
                        + "(--repeats 5 --timeout 3 --caps 10000,100000,1000000)", VerifierBench.Run),
        ["grpo-step"] = ("GRPO at 25m scale: time split per step (generation, reference, loss+backward, optimizer), "
            + "tokens/s, peak RSS (--steps 3 --size 25m --prompts 8 --generations 8 --new 256 --beta 0.04 "
            + "[--device cuda] [--engine-correction])", GrpoStepBench.Run),
        ["device-prepare"] = ("GPU check, CPU side: random tiny models of every architecture, inputs, our logits and "
            + "chat-template renders ([OUT] --fixtures DIR; bench/device/README.md)", DeviceBench.Prepare),
        ["device-compare"] = ("GPU check: the device's transformers logits (≤ 1e-4) and renders (exact) against ours "
            + "(RESULTS [--prepared DIR] [--write-fixtures DIR])", DeviceBench.Compare),
        ["device-trial"] = ("GPU check, on the device: probe | forward | decode on CUDA with the machine's own libtorch",
            DeviceBench.Trial),
    };

    public static int Run(string[] args)
    {
        ReasonSharp.Native.TorchNative.EnsureLoaded();
        if (args.Length == 0 || !Benchmarks.TryGetValue(args[0], out var bench))
        {
            Console.WriteLine("usage: dotnet run -c Release --project bench/ReasonSharp.Bench -- NAME [options]");
            foreach (var (name, b) in Benchmarks) Console.WriteLine($"  {name,-16} {b.Description}");
            return args.Length == 0 ? 0 : 2;
        }
        return bench.Run(args[1..]);
    }
}

/// <summary>Starts this bench again as a child process (a worker with its own memory and threads).</summary>
public static class BenchProcess
{
    /// <summary>This bench with <paramref name="args"/>, run as `dotnet ReasonSharp.Bench.dll …` when it was started
    /// that way, else through its apphost.</summary>
    public static System.Diagnostics.ProcessStartInfo Self(IEnumerable<string> args)
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var info = new System.Diagnostics.ProcessStartInfo(path)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
        };
        if (Path.GetFileNameWithoutExtension(path) == "dotnet")
            info.ArgumentList.Add(typeof(BenchProcess).Assembly.Location);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        return info;
    }
}
