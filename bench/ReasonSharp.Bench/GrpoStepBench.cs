using System.Globalization;
using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;
using ReasonSharp.Training.Grpo;
using static TorchSharp.torch;

namespace ReasonSharp.Bench;

/// <summary>
/// GRPO steps at the 25m scale: a randomly initialised Qwen2-shaped model (a 32k-id tokenizer, as the train and
/// decode benchmarks), 8 synthetic arithmetic prompts × 8 completions of up to 256 new tokens, rewards accuracy and
/// repetition. Each step's time is split as the loop logs it: generation, reference log-probs (β &gt; 0), old
/// log-probs (engine correction on), loss + backward over the micro-batches, and the optimizer (grad norm, clip,
/// AdamW); the rest (rewards, advantages, batching) is what remains of the step.
/// </summary>
public static class GrpoStepBench
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => DecodeBench.Arg(args, name, fallback);
        int steps = int.Parse(Arg("--steps", "3"), CultureInfo.InvariantCulture);
        string size = Arg("--size", "25m");
        int prompts = int.Parse(Arg("--prompts", "8"), CultureInfo.InvariantCulture);
        int generations = int.Parse(Arg("--generations", "8"), CultureInfo.InvariantCulture);
        int newTokens = int.Parse(Arg("--new", "256"), CultureInfo.InvariantCulture);
        int microBatch = int.Parse(Arg("--micro-batch", "8"), CultureInfo.InvariantCulture);
        double beta = double.Parse(Arg("--beta", "0.04"), CultureInfo.InvariantCulture);
        bool correction = args.Contains("--engine-correction");
        string device = Arg("--device", "cpu");
        var loadAtStart = LoadAverage();
        if (Arg("--threads", "") is { Length: > 0 } threads)
            set_num_threads(int.Parse(threads, CultureInfo.InvariantCulture));
        if ((prompts * generations) % microBatch != 0)
            throw new ReasonSharpException($"--micro-batch {microBatch} must divide {prompts} × {generations}");

        var work = Directory.CreateTempSubdirectory("reasonsharp-grpo-step-");
        try
        {
            var tokenizer = Path.Combine(work.FullName, "tokenizer");
            var tokenizerClock = System.Diagnostics.Stopwatch.StartNew();
            BpeTrainer.TrainToFolder(TokenizerCorpus(), new BpeTrainerOptions { VocabSize = 32000, MinFrequency = 1 },
                tokenizer);
            Console.WriteLine($"tokenizer trained in {tokenizerClock.Elapsed.TotalSeconds:F1} s");
            using var lm = LanguageModel.Initialize("qwen2", ModelPresets.Get(size), tokenizer, seed: 1,
                maxPositions: 1024, device: device);
            var problems = SyntheticDataset.Generate(new ArithmeticTask(), 200, 1, seed: 1);
            var examples = problems.Select((p, i) => new ExampleConverter().Convert(new DataRow(
                JsonSerializer.SerializeToElement(p.ToRow()), RowOrigin.Line("arithmetic", i + 1)))).ToList();
            var config = new GrpoConfig
            {
                OutputDir = Path.Combine(work.FullName, "run"), ModelNameOrPath = "in-memory",
                DatasetName = "in-memory", Device = device,
                RewardFuncs = ["accuracy", "repetition"], NumGenerations = generations,
                PerDeviceTrainBatchSize = microBatch, GradientAccumulationSteps = prompts * generations / microBatch,
                MaxCompletionLength = newTokens, Beta = beta, EngineImportanceSamplingCorrection = correction,
                LearningRate = 1e-5, MaxSteps = steps, LoggingSteps = 1, SaveStrategy = "no", WriteReport = false,
                DisableTqdm = true,
            };
            var result = GrpoTrainer.Run(lm, examples, null, config);
            Print(result, lm, config, size, device, loadAtStart);
            return 0;
        }
        finally { work.Delete(recursive: true); }
    }

    static void Print(Training.TrainingResult result, LanguageModel lm, GrpoConfig config, string size,
        string device, string loadAtStart)
    {
        string[] phases = ["time/generation", "time/reference", "time/old_logprobs", "time/loss_backward",
            "time/optimizer"];
        Console.WriteLine();
        Console.WriteLine($"GRPO {size} ({lm.ParameterCount() / 1e6:F1}M parameters, vocab {lm.Model.Config.VocabSize})"
            + $" on {device}, {config.PromptsPerGeneration} prompts × {config.NumGenerations} completions ≤ "
            + $"{config.MaxCompletionLength} new tokens, micro-batch {config.PerDeviceTrainBatchSize} × "
            + $"{config.GradientAccumulationSteps}, β {config.Beta}, engine correction "
            + $"{(config.EngineImportanceSamplingCorrection ? "on" : "off")}, torch threads {get_num_threads()}, "
            + $"{Environment.ProcessorCount} cores, load average before/after {loadAtStart} / {LoadAverage()}");
        Console.WriteLine("| step | step s | generation | reference | old log-probs | loss + backward | optimizer | "
            + "rest | generated tok/s | trained tok/s | completion length |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var step in result.Steps)
        {
            double Phase(string name) => step.Metrics.GetValueOrDefault(name);
            string Share(string name) => $"{Phase(name):F1} s ({100 * Phase(name) / step.Seconds:F0} %)";
            double rest = step.Seconds - phases.Sum(Phase);
            Console.WriteLine($"| {step.Step} | {step.Seconds:F1} | {Share(phases[0])} | {Share(phases[1])} | "
                + $"{Share(phases[2])} | {Share(phases[3])} | {Share(phases[4])} | {rest:F1} s | "
                + $"{step.Metrics.GetValueOrDefault("generation_tokens_per_second"):F0} | "
                + $"{step.Tokens / step.Seconds:F0} | "
                + $"{step.Metrics.GetValueOrDefault("completions/mean_length"):F0} |");
        }
        var later = result.Steps.Skip(1).DefaultIfEmpty(result.Steps[^1]).ToList();
        double total = later.Sum(s => s.Seconds);
        Console.WriteLine($"steps {later[0].Step}–{later[^1].Step}: generation "
            + $"{100 * later.Sum(s => s.Metrics.GetValueOrDefault(phases[0])) / total:F0} % of the step; peak RSS "
            + $"{Training.ProcessMemory.PeakBytes() / 1048576.0:F0} MiB");
    }

    static string LoadAverage() => File.Exists("/proc/loadavg")
        ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>Arithmetic problems and traces, then random words (letters and digits) so that a 32k vocabulary
    /// fills: deterministic.</summary>
    static IEnumerable<string> TokenizerCorpus()
    {
        foreach (var p in SyntheticDataset.Generate(new ArithmeticTask(), 500, 1, seed: 2))
        {
            yield return p.Prompt;
            yield return p.Completion;
        }
        var random = new Random(3);
        const string letters = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (int line = 0; line < 4000; line++)
            yield return string.Join(' ', Enumerable.Range(0, 12).Select(_ => new string(Enumerable.Range(0,
                3 + random.Next(6)).Select(_ => letters[random.Next(letters.Length)]).ToArray())));
    }
}
