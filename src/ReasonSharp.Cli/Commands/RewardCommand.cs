using System.CommandLine;
using System.Text.Json;
using ReasonSharp.Rewards;

namespace ReasonSharp.Cli.Commands;

/// <summary>reason reward --reward accuracy,format --input completions.jsonl</summary>
public static class RewardCommand
{
    public static Command Create()
    {
        var rewards = new Option<string>("--reward")
        {
            Description = "Comma-separated rewards, each optionally with options: accuracy,format(style=think),cosine(max_len=512,weight=0.5)",
            Required = true,
        };
        var input = new Option<FileInfo>("--input")
        {
            Description = "JSONL file: 'completion' (text or messages), optional 'prompt', 'completion_ids', 'step', plus the rewards' columns (answer, solution, test_cases, numbers, target, …)",
            Required = true,
        };
        var batchSize = new Option<int>("--batch-size")
        {
            Description = "Rows scored together (0 = the whole file, so length rewards see every completion of a prompt)",
            DefaultValueFactory = _ => 0,
        };
        var command = new Command("reward", "Score completions in a JSONL file with reward functions; prints one JSON line per row, then a summary.");
        command.Options.Add(rewards);
        command.Options.Add(input);
        command.Options.Add(batchSize);
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var composite = RewardRegistry.CreateDefault().CreateComposite(parseResult.GetValue(rewards)!);
            var file = parseResult.GetValue(input)!;
            var rows = RewardJsonl.Read(file.FullName);
            var size = parseResult.GetValue(batchSize);
            if (size < 0) throw new ReasonSharpException($"--batch-size must be 0 or positive, got {size}");
            var report = await RewardJsonl.ScoreAsync(composite, rows, file.FullName, size, output, cancellationToken);
            output.WriteLine(report);
            return 0;
        });
        return command;
    }
}
