using System.CommandLine;
using ReasonSharp.Evaluation;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason eval MODEL [MODEL2 …] --dataset FILE`: pass@1, pass@k, maj@k, format, lengths and truncation per model and mode.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var models = new Argument<string[]>("models") { Description = "One or more Hugging Face model folders (checkpoints) to compare.", Arity = ArgumentArity.OneOrMore };
        var dataset = new Option<string>("--dataset") { Description = "A .jsonl/.json/.parquet file or a Hugging Face dataset folder.", Required = true };
        var split = new Option<string>("--split") { Description = "Split of a dataset folder.", DefaultValueFactory = _ => "test" };
        var config = new Option<string?>("--config") { Description = "Configuration of a dataset folder with several (e.g. main)." };
        var reward = new Option<string>("--reward") { Description = "Reward functions that judge correctness, e.g. accuracy, countdown, accuracy(float_rounding=4).", DefaultValueFactory = _ => "accuracy" };
        var threshold = new Option<double>("--threshold") { Description = "A completion is correct when its total reward reaches this.", DefaultValueFactory = _ => 1.0 };
        var k = new Option<int>("--k") { Description = "Samples per example (pass@1 averages them; pass@k, maj@k use all).", DefaultValueFactory = _ => 4 };
        var greedy = new Option<bool>("--greedy") { Description = "Greedy decoding, one sample per example (k = 1)." };
        var modes = new Option<string>("--modes") { Description = "Thinking modes to evaluate: think, no_think or think,no_think (dual-mode models).", DefaultValueFactory = _ => "think" };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N examples." };
        var output = new Option<string?>("--out") { Description = "Write results.json here, with results.examples.jsonl and results.md beside it." };
        var formatStyle = new Option<string>("--format-style") { Description = "Format compliance: think (a <think>…</think> block, then the answer) or think_answer.", DefaultValueFactory = _ => "think" };
        var vote = new Option<string>("--vote") { Description = "What maj@k votes on: auto, math (the extracted answer) or answer_tag (the <answer> text).", DefaultValueFactory = _ => "auto" };
        var batch = new Option<int>("--batch-size") { Description = "Rows per generation call.", DefaultValueFactory = _ => 64 };
        var device = CommonOptions.Device();
        var format = CommonOptions.ChatFormatOption();
        var sampling = new CommonOptions.Sampling();
        var command = new Command("eval", "Evaluate models on a dataset: pass@1 over k samples, unbiased pass@k, maj@k, format compliance, completion and " +
                                          "think lengths, truncation; in think and/or no-think mode. Open-R1's sampling defaults (temperature 0.6, top-p 0.95).")
        {
            models, dataset, split, config, reward, threshold, k, greedy, modes, limit, output, formatStyle, vote, batch, device, format,
        };
        foreach (var option in sampling.All) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            bool isGreedy = parse.GetValue(greedy);
            if (isGreedy && parse.GetResult(k) is { Implicit: false } && parse.GetValue(k) != 1)
                throw new ReasonSharpException($"--k {parse.GetValue(k)} with --greedy: greedy decoding gives one sample per example; drop --k or --greedy");
            var options = new EvalOptions
            {
                Reward = parse.GetValue(reward)!,
                Threshold = parse.GetValue(threshold),
                K = parse.GetValue(k),
                Greedy = isGreedy,
                Modes = GenerationSettings.ParseModes(parse.GetValue(modes)!, "--modes"),
                FormatStyle = parse.GetValue(formatStyle)!,
                Vote = ParseVote(parse.GetValue(vote)!),
                Limit = parse.GetValue(limit),
                DatasetSplit = parse.GetValue(split),
                DatasetConfig = parse.GetValue(config),
                GenerationBatchSize = parse.GetValue(batch),
                MaxNewTokens = parse.GetValue(sampling.MaxNewTokens),
                Temperature = parse.GetValue(sampling.Temperature),
                TopP = parse.GetValue(sampling.TopP),
                TopK = parse.GetValue(sampling.TopK),
                MinP = parse.GetValue(sampling.MinP),
                RepetitionPenalty = parse.GetValue(sampling.RepetitionPenalty),
                Seed = parse.GetValue(sampling.Seed),
            };
            var evaluator = new Evaluator(options);
            var datasetPath = parse.GetValue(dataset)!;
            var examples = evaluator.LoadExamples(datasetPath);
            Console.Error.WriteLine($"evaluating {examples.Count} examples × {options.EffectiveK} samples in mode {string.Join(", ", options.Modes.Select(m => m.Name()))}");
            var results = await evaluator.EvaluateAsync(parse.GetValue(models)!, examples, parse.GetValue(device)!, CommonOptions.ParseChatFamily(parse.GetValue(format)),
                line => Console.Error.WriteLine(line), cancellationToken);
            Console.WriteLine(EvalReport.Table(results));
            if (parse.GetValue(output) is { } path)
            {
                var files = EvalReport.Write(path, results, options, datasetPath);
                Console.WriteLine($"wrote {files.Json}, {files.Examples} and {files.Markdown}");
            }
            return 0;
        });
        return command;
    }

    static AnswerVote ParseVote(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => AnswerVote.Auto,
        "math" => AnswerVote.Math,
        "answer_tag" or "answer-tag" or "tag" => AnswerVote.AnswerTag,
        _ => throw new ReasonSharpException($"--vote: unknown value '{text}'; expected auto, math or answer_tag"),
    };
}
