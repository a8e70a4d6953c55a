using System.CommandLine;
using System.Globalization;
using ReasonSharp.Reporting;
using ReasonSharp.Training;
using ReasonSharp.Training.Dpo;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason dpo --config recipe.yaml [--set key=value …]`: preference optimisation from a recipe.</summary>
public static class DpoCommand
{
    public static Command Create()
    {
        var job = new JobCli("dpo");
        var command = new Command("dpo", "Direct preference optimisation on prompt/chosen/rejected pairs (loss_type " +
            "sigmoid, ipo, hinge, apo_zero or apo_down; full or LoRA; the reference is a frozen copy, the LoRA base, " +
            "or precomputed log-probs); writes config, metrics, checkpoints, the model or adapter and report.html to " +
            "output_dir. Every option (docs/dpo.md) can be set in the recipe or with --set.");
        job.AddTo(command);
        var folder = new RunFolderOptions();
        folder.AddTo(command);
        command.SetAction(parse =>
        {
            var options = job.Bind<DpoConfig>(parse, o => folder.Apply(o, parse));
            return job.Run(parse, options, done =>
            {
                var result = (DpoResult)done.Details!;
                var last = result.Training.LogHistory.LastOrDefault(l => l.ContainsKey("rewards/accuracies"));
                string Metric(string name) =>
                    last?[name]?.GetValue<double>().ToString("0.####", CultureInfo.InvariantCulture) ?? "n/a";
                Console.WriteLine($"trained {result.Training.GlobalStep} steps on {result.TrainData.Pairs} pairs in " +
                    $"{TimeSpan.FromSeconds(result.Training.Seconds):hh\\:mm\\:ss}; " +
                    $"last logged loss {Metric("loss")}, " +
                    $"rewards/accuracies {Metric("rewards/accuracies")}, rewards/margins {Metric("rewards/margins")}");
                var written = new List<string>
                {
                    options.UsePeft ? "PEFT adapter" : "model", TrainingOptions.RecipeFile, MetricsLogger.MetricsFile,
                };
                if (options.WriteReport) written.Add(RunReport.HtmlFile);
                Console.WriteLine($"wrote {Path.GetFullPath(options.OutputDir)} ({string.Join(", ", written)})");
            });
        });
        return command;
    }
}
