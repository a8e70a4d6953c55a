using System.CommandLine;
using ReasonSharp.Recipes;
using ReasonSharp.Training.Grpo;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason grpo --config recipe.yaml [--set key=value …]`: GRPO with verifiable rewards.</summary>
public static class GrpoCommand
{
    public static Command Create()
    {
        var job = new JobCli("grpo");
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
            preflight, prompts, passThreshold, writeLearnable,
        };
        job.AddTo(command);
        var folder = new RunFolderOptions();
        folder.AddTo(command);
        command.SetAction(parse =>
        {
            var options = job.Bind<GrpoConfig>(parse, o => folder.Apply(o, parse));
            if (parse.GetValue(preflight) && !parse.GetValue(job.PrintConfig))
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
            return job.Run(parse, options, done =>
            {
                var result = (Training.TrainingResult)done.Details!;
                Console.WriteLine($"done: {result.GlobalStep} steps in {result.Seconds:F0}s; model, metrics.jsonl and report.html in {Path.GetFullPath(result.OutputDir)}");
            });
        });
        return command;
    }
}
