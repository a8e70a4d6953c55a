using System.CommandLine;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Jobs;

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
        var selection = new Option<string?>("--selection-reward") { Description = "A reward spec that scores every sample for best-of-k and weighted maj@k, e.g. \"process_lm(model=prm,aggregation=min)\"." };
        var device = CommonOptions.Device();
        var format = CommonOptions.ChatFormatOption();
        var command = new Command("eval", "Evaluate models on a dataset: pass@1 over k samples, unbiased pass@k, maj@k, format compliance, completion and " +
                                          "think lengths, truncation; in think and/or no-think mode. Open-R1's sampling defaults (temperature 0.6, top-p 0.95).")
        {
            models, dataset, shared.Split, shared.Config, shared.Reward, shared.Threshold, k, greedy, modes, shared.Limit, output, formatStyle, vote, selection, shared.BatchSize, device, format,
        };
        foreach (var option in shared.Sampling.All) command.Options.Add(option);
        var job = new JobCli("eval", recipe: false);
        job.AddTo(command);
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
                SelectionReward = parse.GetValue(selection),
            });
            var datasetPath = parse.GetValue(dataset)!;
            var bound = job.Bind<EvalJobOptions>(parse, o => o with
            {
                Dataset = datasetPath,
                Models = parse.GetValue(models)!,
                Device = parse.GetValue(device)!,
                ChatFormat = parse.GetValue(format),
                OutputFile = parse.GetValue(output),
                Eval = options,
            });
            return await Task.Run(() => job.Run(parse, bound, done =>
            {
                if (((EvalOutcome)done.Details!).Files is { } files)
                    Console.WriteLine($"wrote {files.Json}, {files.Examples} and {files.Markdown}");
            }, cancellationToken), cancellationToken);
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
