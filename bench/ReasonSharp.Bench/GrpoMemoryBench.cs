using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;
using ReasonSharp.Training.Grpo;

namespace ReasonSharp.Bench;

/// <summary>
/// GRPO's memory over many steps (generation, rewards, loss, AdamW in each): a randomly initialised model on arithmetic
/// prompts, resident memory as the loop logs it every 10 steps. A leak shows as RSS that keeps rising after warm-up.
/// </summary>
public static class GrpoMemoryBench
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        int steps = int.Parse(Arg("--steps", "200"), CultureInfo.InvariantCulture);
        string size = Arg("--size", "tiny");
        TorchSharp.torch.set_num_threads(int.Parse(Arg("--threads", "1"), CultureInfo.InvariantCulture));
        var work = Directory.CreateTempSubdirectory("reasonsharp-grpo-memory-");
        try
        {
            var problems = SyntheticDataset.Generate(new ArithmeticTask(), 2000, 1, seed: 1);
            var tokenizer = Path.Combine(work.FullName, "tokenizer");
            BpeTrainer.TrainToFolder(problems.Take(500).SelectMany(p => new[] { p.Prompt, p.Completion }),
                new BpeTrainerOptions { VocabSize = 512 }, tokenizer);
            using var lm =
                LanguageModel.Initialize("qwen2", ModelPresets.Get(size), tokenizer, seed: 1, maxPositions: 256,
                device: "cpu");
            var examples =
                problems.Select((p, i) =>
                new ExampleConverter().Convert(new DataRow(JsonSerializer.SerializeToElement(p.ToRow()),
                RowOrigin.Line("arithmetic", i + 1)))).ToList();
            var config = new GrpoConfig
            {
                OutputDir = Path.Combine(work.FullName, "run"), ModelNameOrPath = "in-memory",
                DatasetName = "in-memory", Device = "cpu",
                RewardFuncs = ["accuracy", "format"], NumGenerations = 8, PerDeviceTrainBatchSize = 32,
                MaxCompletionLength = 48,
                LearningRate = 1e-4, MaxSteps = steps, LoggingSteps = 10, SaveStrategy = "no", WriteReport = false,
                DisableTqdm = true,
            };
            GrpoTrainer.Run(lm, examples, null, config);
            var rows =
                File.ReadAllLines(Path.Combine(config.OutputDir, "metrics.jsonl")).Select(l =>
                JsonNode.Parse(l)!.AsObject())
                .Where(m => m.ContainsKey("memory_rss_mb")).ToList();
            Console.WriteLine($"GRPO {size} ({lm.ParameterCount():N0} parameters), {steps} steps of 32 completions " +
                $"× ≤48 tokens, load average {File.ReadAllText("/proc/loadavg").Trim()}");
            Console.WriteLine("| step | RSS MB | peak RSS MB |");
            Console.WriteLine("|---|---|---|");
            foreach (var m in rows)
                Console.WriteLine($"| {m["step"]} | {m["memory_rss_mb"]!.GetValue<double>():F0} | " +
                    $"{m["memory_peak_rss_mb"]!.GetValue<double>():F0} |");
            int half = rows.Count / 2;
            double early = rows.Skip(1).Take(half - 1).Average(m => m["memory_rss_mb"]!.GetValue<double>());
            double late = rows.Skip(half).Average(m => m["memory_rss_mb"]!.GetValue<double>());
            Console.WriteLine($"mean RSS, steps {rows[1]["step"]}–{rows[half - 1]["step"]}: {early:F0} MB; steps " +
                $"{rows[half]["step"]}–{rows[^1]["step"]}: {late:F0} MB ({late - early:+0;-0} MB)");
            return 0;
        }
        finally { work.Delete(recursive: true); }
    }
}
