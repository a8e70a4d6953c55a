using System.CommandLine;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason eval MODEL [MODEL2 …] --dataset FILE`: pass@1, pass@k, maj@k, format, lengths and truncation per model and mode.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var models = new Argument<string[]>("models") { Description = "One or more Hugging Face model folders (checkpoints) to compare.", Arity = ArgumentArity.OneOrMore };
        var dataset = new Option<string>("--dataset") { Description = "A .jsonl/.json/.parquet file or a Hugging Face dataset folder.", Required = true };
        var shared = new CommonOptions.VerifiedGeneration("test", reward: "Reward functions that judge correctness, e.g. accuracy, countdown, accuracy(float_rounding=4).",
            threshold: "A completion is correct when its total reward reaches this.", limit: "Evaluate only the first N examples.");
        var k = new Option<int>("--k") { Description = "Samples per example (pass@1 averages them; pass@k, maj@k use all).", DefaultValueFactory = _ => 4 };
        var greedy = new Option<bool>("--greedy") { Description = "Greedy decoding, one sample per example (k = 1)." };
        var modes = new Option<string>("--modes") { Description = "Thinking modes to evaluate: think, no_think or think,no_think (dual-mode models).", DefaultValueFactory = _ => "think" };
        var output = new Option<string?>("--out") { Description = "Write results.json here, with results.examples.jsonl and results.md beside it." };
        var formatStyle = new Option<string>("--format-style") { Description = "Format compliance: think (a <think>…</think> block, then the answer) or think_answer.", DefaultValueFactory = _ => "think" };
        var vote = new Option<string>("--vote") { Description = "What maj@k votes on: auto, math (the extracted answer) or answer_tag (the <answer> text).", DefaultValueFactory = _ => "auto" };
        var device = CommonOptions.Device();
        var format = CommonOptions.ChatFormatOption();
        var command = new Command("eval", "Evaluate models on a dataset: pass@1 over k samples, unbiased pass@k, maj@k, format compliance, completion and " +
                                          "think lengths, truncation; in think and/or no-think mode. Open-R1's sampling defaults (temperature 0.6, top-p 0.95).")
        {
            models, dataset, shared.Split, shared.Config, shared.Reward, shared.Threshold, k, greedy, modes, shared.Limit, output, formatStyle, vote, shared.BatchSize, device, format,
        };
        foreach (var option in shared.Sampling.All) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            bool isGreedy = parse.GetValue(greedy);
            if (isGreedy && parse.GetResult(k) is { Implicit: false } && parse.GetValue(k) != 1)
                throw new ReasonSharpException($"--k {parse.GetValue(k)} with --greedy: greedy decoding gives one sample per example; drop --k or --greedy");
            var options = shared.Read(parse, new EvalOptions
            {
                K = parse.GetValue(k),
                Greedy = isGreedy,
                Modes = GenerationSettings.ParseModes(parse.GetValue(modes)!, "--modes"),
                FormatStyle = parse.GetValue(formatStyle)!,
                Vote = ParseVote(parse.GetValue(vote)!),
            });
            var evaluator = new Evaluator(options);
            var datasetPath = parse.GetValue(dataset)!;
            var examples = evaluator.LoadExamples(datasetPath);
            Console.Error.WriteLine($"evaluating {examples.Count} examples × {options.EffectiveK} samples in mode {string.Join(", ", options.Modes.Select(m => m.Name()))}");
            var results = await evaluator.EvaluateAsync(parse.GetValue(models)!, examples, parse.GetValue(device)!,
                parse.GetValue(format),
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
