using System.CommandLine;
using System.Globalization;
using ReasonSharp.Evaluation;
using ReasonSharp.Jobs;
using ReasonSharp.Modeling;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason sample MODEL --dataset … --out kept.jsonl`: rejection sampling into an SFT dataset (or, with
/// --pairs, preference pairs), resumable.</summary>
public static class SampleCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A Hugging Face model folder." };
        var dataset = new Option<string>("--dataset") { Description = "Prompts: a .jsonl/.json/.parquet file or a Hugging Face dataset folder.", Required = true };
        var shared = new CommonOptions.VerifiedGeneration("train", reward: "Reward functions that verify a completion, e.g. accuracy or accuracy,format.",
            threshold: "Keep completions whose total reward reaches this.", limit: "Use only the first N prompts.");
        var output = new Option<string>("--out")
        {
            Description = "SFT JSONL of kept completions (messages schema), or of preference pairs with --pairs; " +
                          "X.stats.jsonl, X.summary.json and X.jsonl.progress.json go beside X.jsonl.",
            Required = true,
        };
        var n = new Option<int>("--n", "--num-generations") { Description = "Completions sampled per prompt (num_generations).", DefaultValueFactory = _ => 8 };
        var select = new Option<string>("--select")
        {
            Description = "first, shortest, diverse (token-set Jaccard max-min), best (highest " +
            "reward: best-of-N with a reward model) or all verified completions.", DefaultValueFactory = _ => "all"
        };
        var keep = new Option<int>("--keep") { Description = "Completions per prompt for first, shortest and diverse.", DefaultValueFactory = _ => 1 };
        var dedup = new Option<bool>("--dedup") { Description = "Drop completions identical to an earlier one (whitespace normalised)." };
        var minRate = new Option<double>("--min-pass-rate") { Description = "Skip prompts whose pass rate is below this (too hard).", DefaultValueFactory = _ => 0.0 };
        var maxRate = new Option<double>("--max-pass-rate") { Description = "Skip prompts whose pass rate is above this (too easy).", DefaultValueFactory = _ => 1.0 };
        var noThink = new Option<bool>("--no-think")
        {
            Description = "Sample in no-think mode (qwen3 or dual-mode chat formats); same as --mode no_think.",
        };
        var mode = new Option<string?>("--mode")
        {
            Description = "think (default), no_think, or both: each prompt sampled in both modes, rows record their " +
                          "mode (SmolLM3's dual mode).",
        };
        var pairs = new Option<bool>("--pairs")
        {
            Description = "Write preference pairs (prompt/chosen/rejected: a verified completion against a failed " +
                          "one of the same prompt and mode) instead of SFT rows; --select and --keep do not apply.",
        };
        var pairSelection = new Option<string>("--pair-selection")
        {
            Description = "random (default): seeded random pairing; shortest_longest: shortest verified against " +
                          "longest failed, then the next ones.",
            DefaultValueFactory = _ => "random",
        };
        var maxPairs = new Option<int>("--max-pairs-per-prompt")
        {
            Description = "At most this many pairs per prompt and mode.", DefaultValueFactory = _ => 1,
        };
        var chunk = new Option<int>("--chunk-size") { Description = "Prompts per chunk; progress is saved after each.", DefaultValueFactory = _ => 16 };
        var overwrite = new Option<bool>("--overwrite") { Description = "Start again instead of resuming an earlier run into the same --out." };
        var device = CommonOptions.Device();
        var format = CommonOptions.ChatFormatOption();
        var command = new Command("sample", "Rejection sampling: sample N completions per prompt, keep the verified ones as SFT data (messages schema), " +
                                            "with per-prompt pass rate and pass@k, pass-rate filtering, selection and deduplication. Resumes after an interruption.")
        {
            model, dataset, shared.Split, shared.Config, output, n, shared.Reward, shared.Threshold, select, keep,
            dedup, minRate, maxRate, noThink, mode, pairs, pairSelection, maxPairs, chunk, shared.Limit, overwrite,
            shared.BatchSize, device, format,
        };
        foreach (var option in shared.Sampling.All) command.Options.Add(option);
        var job = new JobCli("sample", recipe: false);
        job.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = shared.Read(parse, new RejectionSamplingOptions
            {
                NumGenerations = parse.GetValue(n),
                Select = ParseSelect(parse.GetValue(select)!),
                Keep = parse.GetValue(keep),
                Dedup = parse.GetValue(dedup),
                MinPassRate = parse.GetValue(minRate),
                MaxPassRate = parse.GetValue(maxRate),
                Mode = ParseMode(parse.GetValue(mode), parse.GetValue(noThink)),
                Pairs = parse.GetValue(pairs),
                PairSelection = ParsePairSelection(parse.GetValue(pairSelection)!),
                MaxPairsPerPrompt = parse.GetValue(maxPairs),
                ChunkSize = parse.GetValue(chunk),
                Overwrite = parse.GetValue(overwrite),
            });
            var bound = job.Bind<SampleJobOptions>(parse, o => o with
            {
                Dataset = parse.GetValue(dataset)!,
                Model = parse.GetValue(model)!,
                Device = parse.GetValue(device)!,
                ChatFormat = parse.GetValue(format),
                OutputFile = parse.GetValue(output)!,
                Sample = options,
            });
            return await Task.Run(() => job.Run(parse, bound, done =>
            {
                var s = (RejectionSamplingSummary)done.Details!;
                var passAtK = string.Join(", ", s.PassAtK.Select(p => $"pass@{p.Key} {p.Value.ToString("F3", CultureInfo.InvariantCulture)}"));
                Console.WriteLine($"{s.Prompts} prompts, {s.CorrectSamples}/{s.Samples} samples verified (mean pass rate {s.MeanPassRate.ToString("F3", CultureInfo.InvariantCulture)}; {passAtK})");
                var per = bound.Sample.Mode == SampleMode.Both ? "prompt-modes" : "prompts";
                if (bound.Sample.Pairs)
                    Console.WriteLine($"wrote {s.PairRows} pairs from {s.PromptsKept} {per}; {s.PromptsWithoutPair} " +
                                      $"without a pair ({s.NoneCorrect} none correct, {s.AllCorrect} all correct, " +
                                      $"{s.TooHard} too hard, {s.TooEasy} too easy); {s.Duplicates} duplicates " +
                                      "removed");
                else
                    Console.WriteLine($"kept {s.KeptRows} completions from {s.PromptsKept} {per}; " +
                                      $"{s.NoneCorrect} had none correct, {s.TooHard} too hard, {s.TooEasy} too " +
                                      $"easy; {s.Duplicates} duplicates removed");
                Console.WriteLine($"wrote {s.Files.Kept}, {s.Files.Stats} and {s.Files.Summary}");
            }, cancellationToken), cancellationToken);
        });
        return command;
    }

    static SampleMode ParseMode(string? text, bool noThink)
    {
        if (text is null) return noThink ? SampleMode.NoThink : SampleMode.Think;
        var mode = text.Trim().ToLowerInvariant() switch
        {
            "think" => SampleMode.Think,
            "no_think" or "no-think" or "nothink" => SampleMode.NoThink,
            "both" => SampleMode.Both,
            _ => throw new ReasonSharpException($"--mode: unknown value '{text}'; expected think, no_think or both"),
        };
        if (noThink && mode != SampleMode.NoThink)
            throw new ReasonSharpException($"--no-think and --mode {text}: give one of them");
        return mode;
    }

    static PairSelection ParsePairSelection(string text) => text.Trim().ToLowerInvariant() switch
    {
        "shortest_longest" or "shortest-longest" => PairSelection.ShortestLongest,
        "random" => PairSelection.Random,
        _ => throw new ReasonSharpException($"--pair-selection: unknown value '{text}'; expected shortest_longest " +
            "or random"),
    };

    static SelectionMode ParseSelect(string text) => text.Trim().ToLowerInvariant() switch
    {
        "first" => SelectionMode.First,
        "shortest" => SelectionMode.Shortest,
        "diverse" => SelectionMode.Diverse,
        "all" => SelectionMode.All,
        "best" => SelectionMode.Best,
        _ => throw new ReasonSharpException($"--select: unknown value '{text}'; expected first, shortest, diverse, " +
            "best or all"),
    };
}
