using System.Diagnostics;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;

namespace ReasonSharp.Bench;

/// <summary>Decode throughput (generated tokens/s) of our engine for Qwen2-shaped models at several batch sizes.</summary>
public static class DecodeBench
{
    public static int Run(string[] args)
    {
        var sizes = Arg(args, "--sizes", "25m,100m").Split(',');
        var batches = Arg(args, "--batches", "1,8,32").Split(',').Select(int.Parse).ToArray();
        int promptLength = int.Parse(Arg(args, "--prompt", "64"));
        int newTokens = int.Parse(Arg(args, "--new", "256"));
        int vocab = int.Parse(Arg(args, "--vocab", "32000"));
        Console.WriteLine($"threads={TorchSharp.torch.get_num_threads()} prompt={promptLength} new={newTokens} vocab={vocab}");
        foreach (var size in sizes)
        {
            var shape = ModelPresets.Get(size);
            var config = ModelConfig.Create("qwen2", vocab, shape.HiddenSize, shape.IntermediateSize, shape.Layers, shape.Heads, shape.KvHeads,
                tieWordEmbeddings: true, maxPositions: 4096);
            using var model = new CausalLM(config, seed: 1);
            var engine = new GenerationEngine(model);
            var rng = new Random(1);
            engine.Generate([Enumerable.Range(0, 8).Select(_ => rng.Next(vocab)).ToArray()], SamplingOptions.Greedy(8));
            foreach (int batch in batches)
            {
                var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, promptLength).Select(_ => rng.Next(vocab)).ToArray()).ToList();
                var clock = Stopwatch.StartNew();
                engine.Generate(prompts, SamplingOptions.Greedy(newTokens));
                var stats = engine.LastStats!;
                Console.WriteLine($"ours size={size} params={model.ParameterCount() / 1e6:F1}M batch={batch} prefill={stats.Prefill.TotalSeconds:F2}s decode={stats.Decode.TotalSeconds:F2}s generated={stats.GeneratedTokens} decode_tok/s={stats.DecodeTokensPerSecond:F1} total={clock.Elapsed.TotalSeconds:F2}s");
            }
        }
        return 0;
    }

    internal static string Arg(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
