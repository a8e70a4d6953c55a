using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Bench;

/// <summary>
/// The bench commands of the prepared GPU check (bench/device/README.md): device-prepare and device-compare run here;
/// device-trial runs on the device machine from the carried self-contained publish, one section per process so that
/// a native crash in one does not hide the others.
/// </summary>
public static class DeviceBench
{
    /// <summary>Where the prepared folder and the tarball live (git-ignored; the device tool carries it).</summary>
    public const string WorkFolder = "bench/device/work";

    static string Arg(string[] args, string name, string fallback) => DecodeBench.Arg(args, name, fallback);

    static string Positional(string[] args, string fallback) =>
        args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : fallback;

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ReasonSharp.sln"))) return dir.FullName;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ReasonSharp.sln"))) return dir.FullName;
        throw new ReasonSharpException("ReasonSharp.sln not found above the current folder; run from the checkout");
    }

    /// <summary>device-prepare [OUT] [--fixtures DIR]</summary>
    public static int Prepare(string[] args)
    {
        var root = RepoRoot();
        var outDir = Positional(args, Path.Combine(root, WorkFolder, "prepared"));
        var fixtures = Arg(args, "--fixtures", Path.Combine(root, "tests", "ReasonSharp.Tests", "Templates",
            "Fixtures"));
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        var clock = Stopwatch.StartNew();
        DeviceCheck.Prepare(outDir, fixtures, Console.WriteLine);
        long bytes = Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories)
            .Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"prepared {outDir}: {bytes / 1048576.0:F2} MiB in {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    /// <summary>device-compare RESULTS [--prepared DIR] [--write-fixtures DIR] [--run cpu]</summary>
    public static int Compare(string[] args)
    {
        var root = RepoRoot();
        var results = Positional(args, "");
        if (results == "") throw new ReasonSharpException("device-compare: expected RESULTS, the folder the device "
            + "returned (with hf/results.json or results.json)");
        if (!File.Exists(Path.Combine(results, DeviceCheck.ResultsFile))
            && File.Exists(Path.Combine(results, "hf", DeviceCheck.ResultsFile))) results = Path.Combine(results, "hf");
        var prepared = Arg(args, "--prepared", Path.Combine(root, WorkFolder, "prepared"));
        var comparison = DeviceCheck.Compare(prepared, results);
        Console.Write(DeviceCheck.Format(comparison));
        if (Arg(args, "--write-fixtures", "") is { Length: > 0 } fixtures)
        {
            DeviceCheck.WriteFixtures(prepared, results, fixtures, Arg(args, "--run", "cpu"));
            Console.WriteLine($"golden outputs written to {fixtures}");
        }
        return comparison.Passed ? 0 : 1;
    }

    /// <summary>device-trial probe|forward|decode [--prepared DIR] [--sizes 25m] [--batches 1,8,32]</summary>
    public static int Trial(string[] args)
    {
        var section = Positional(args, "probe");
        Console.WriteLine($"torch native: {TorchNative.Status}");
        Console.WriteLine($"TorchSharp libtorch package version: {__version__}");
        return section switch
        {
            "probe" => Probe(),
            "forward" => Forward(Arg(args, "--prepared", Path.Combine(RepoRoot(), WorkFolder, "prepared")),
                Arg(args, "--device", "cuda")),
            "decode" => Decode(Arg(args, "--sizes", "25m").Split(','),
                Arg(args, "--batches", "1,8,32").Split(',').Select(int.Parse).ToArray(),
                int.Parse(Arg(args, "--prompt", "64"), CultureInfo.InvariantCulture),
                int.Parse(Arg(args, "--new", "256"), CultureInfo.InvariantCulture), Arg(args, "--device", "cuda")),
            _ => throw new ReasonSharpException(
                $"device-trial: section '{section}'; expected probe, forward or decode"),
        };
    }

    static int Probe()
    {
        bool available = cuda.is_available();
        Console.WriteLine($"cuda.is_available: {available}");
        if (!available) return 1;
        Console.WriteLine($"cuda.device_count: {cuda.device_count()}");
        using var scope = NewDisposeScope();
        using var generator = new Generator(7);
        var x = randn([512, 512], generator: generator);
        var onDevice = x.to(CUDA);
        Console.WriteLine($"tensor on {onDevice.device}");
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            var expected = x.to(dtype).mm(x.to(dtype)).to(ScalarType.Float32);
            var got = onDevice.to(dtype).mm(onDevice.to(dtype)).to(ScalarType.Float32).cpu();
            double error = got.sub(expected).abs().max().item<float>() / expected.abs().max().item<float>();
            Console.WriteLine($"matmul 512×512 {dtype}: max|Δ|/max = {error:E2} against the CPU");
        }
        return 0;
    }

    /// <summary>Each prepared model loaded by our loader onto the device, its logits against ours on the
    /// CPU.</summary>
    static int Forward(string prepared, string deviceName)
    {
        var device = Devices.Parse(deviceName);
        var manifest = DeviceCheck.ReadObject(Path.Combine(prepared, DeviceCheck.ManifestFile));
        int failures = 0;
        Console.WriteLine($"| model | device | worst max|Δ|/max|logit| vs our CPU logits |");
        Console.WriteLine("|---|---|---|");
        foreach (var model in manifest["models"]!.AsArray().Select(m => m!.AsObject()))
        {
            var name = model["name"]!.GetValue<string>();
            try
            {
                using var lm = ModelFolder.Load(Path.Combine(prepared, model["folder"]!.GetValue<string>()), device);
                lm.eval();
                var ids = model["input_ids"]!.AsArray().Select(n => n!.GetValue<long>()).ToArray();
                var logits = DeviceCheck.Logits(lm, ids);
                var ours = DeviceCheck.ReadFloats(Path.Combine(prepared, model["logits"]!.GetValue<string>()));
                double error = DeviceCheck.WorstRelativeError(ours, logits, model["shape"]![2]!.GetValue<int>());
                if (!(error <= DeviceCheck.LogitTolerance)) failures++;
                Console.WriteLine($"| {name} | {device} | {error:E2} |");
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                failures++;
                Console.WriteLine($"| {name} | {device} | failed: {e.GetType().Name}: "
                    + $"{e.Message.ReplaceLineEndings(" ")} |");
            }
        }
        return failures == 0 ? 0 : 1;
    }

    /// <summary>Greedy decode of random Qwen2-shaped models (vocab 32000) on the device: prefill and decode
    /// tokens/s.</summary>
    static int Decode(string[] sizes, int[] batches, int prompt, int newTokens, string deviceName)
    {
        var device = Devices.Parse(deviceName);
        Console.WriteLine("| model | device | batch | prefill (s) | decode tok/s | generated |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var size in sizes)
        {
            var shape = ModelPresets.Get(size);
            var config = ModelConfig.Create("qwen2", 32000, shape.HiddenSize, shape.IntermediateSize, shape.Layers,
                shape.Heads, shape.KvHeads, tieWordEmbeddings: true, ropeTheta: shape.RopeTheta,
                maxPositions: Math.Max(4096, prompt + newTokens));
            using var model = new CausalLM(config, device, seed: 1);
            model.eval();
            var engine = new GenerationEngine(model);
            foreach (var batch in batches)
            {
                var random = new Random(batch);
                var prompts = Enumerable.Range(0, batch)
                    .Select(_ => Enumerable.Range(0, prompt).Select(_ => random.Next(32000)).ToArray()).ToList();
                engine.Generate(prompts, SamplingOptions.Greedy(32));
                engine.Generate(prompts, SamplingOptions.Greedy(newTokens));
                var stats = engine.LastStats!;
                Console.WriteLine($"| {size} | {device} | {batch} | {stats.Prefill.TotalSeconds:F3} | "
                    + $"{stats.DecodeTokensPerSecond:F1} | {stats.GeneratedTokens} |");
            }
        }
        return 0;
    }
}
