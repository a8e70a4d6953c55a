using System.CommandLine;
using ReasonSharp.Recipes;
using ReasonSharp.Training.Grpo;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason grpo --config recipe.yaml [--set key=value …]`: GRPO with verifiable rewards.</summary>
public static class GrpoCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "YAML recipe of GRPO options (TRL's GRPOConfig names, e.g. recipes/grpo-tiny-cpu.yaml)." };
        var set = new Option<string[]>("--set") { Description = "Override one option: key=value (repeatable), e.g. --set learning_rate=1e-5 --set reward_funcs=[accuracy,format]." };
        var command = new Command("grpo", "Train a policy with GRPO: sample num_generations completions per prompt, score them with reward functions, and apply the clipped policy gradient with group-relative advantages.")
        {
            config, set,
        };
        var folder = new RunFolderOptions();
        folder.AddTo(command);
        command.SetAction(parse =>
        {
            var options = new GrpoConfig();
            if (parse.GetValue(config) is { } path) options = OptionsBinder.LoadFile(path, options);
            options = folder.Apply(OptionsBinder.ApplyOverrides(options, parse.GetValue(set) ?? []), parse);
            var result = GrpoTrainer.Run(options);
            Console.WriteLine($"done: {result.GlobalStep} steps in {result.Seconds:F0}s; model, metrics.jsonl and report.html in {Path.GetFullPath(result.OutputDir)}");
            return 0;
        });
        return command;
    }
}
