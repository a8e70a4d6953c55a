using System.CommandLine;
using ReasonSharp.Configuration;
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
        var preflight = new Option<bool>("--preflight")
        {
            Description = "Do not train: sample num_generations completions for --prompts prompts from the starting model and report "
                          + "reward distributions, pass rates, the frac_reward_zero_std to expect, truncation, tokens, time and memory per step, and a verdict.",
        };
        var prompts = new Option<int>("--prompts") { Description = "Preflight: prompts to sample (0 = all).", DefaultValueFactory = _ => 64 };
        var passThreshold = new Option<double>("--pass-threshold")
        {
            Description = "Preflight: a completion passes when the first reward function gives at least this.",
            DefaultValueFactory = _ => 1.0,
        };
        var writeLearnable = new Option<string?>("--write-learnable")
        {
            Description = "Preflight: write the prompts with both passing and failing completions to this JSONL file, as dataset rows.",
        };
        var command = new Command("grpo", "Train a policy with GRPO: sample num_generations completions per prompt, score them with reward functions, and apply the clipped policy gradient with group-relative advantages.")
        {
            config, set, preflight, prompts, passThreshold, writeLearnable,
        };
        var folder = new RunFolderOptions();
        folder.AddTo(command);
        command.SetAction(parse =>
        {
            var options = new GrpoConfig();
            if (parse.GetValue(config) is { } path) options = OptionsBinder.LoadFile(path, options);
            options = folder.Apply(OptionsBinder.ApplyOverrides(options, parse.GetValue(set) ?? []), parse);
            if (parse.GetValue(preflight))
            {
                var report = GrpoPreflight.Run(options, new GrpoPreflightOptions
                {
                    NumPrompts = parse.GetValue(prompts),
                    PassThreshold = parse.GetValue(passThreshold),
                    WriteLearnable = parse.GetValue(writeLearnable),
                }, log: Console.Error.WriteLine);
                Console.Write(report.Format());
                return 0;
            }
            var result = GrpoTrainer.Run(options);
            Console.WriteLine($"done: {result.GlobalStep} steps in {result.Seconds:F0}s; model, metrics.jsonl and report.html in {Path.GetFullPath(result.OutputDir)}");
            return 0;
        });
        return command;
    }
}
