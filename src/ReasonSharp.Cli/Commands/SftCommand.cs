using System.CommandLine;
using System.Globalization;
using ReasonSharp.Reporting;
using ReasonSharp.Training;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason sft --config recipe.yaml [--set key=value …]`: supervised fine-tuning (full or LoRA) from a recipe.</summary>
public static class SftCommand
{
    public static Command Create()
    {
        var job = new JobCli("sft");
        var command = new Command("sft", "Supervised fine-tuning on conversations or prompt/completion traces (chat format, assistant-only loss, " +
                                         "truncation, packing, full or LoRA); writes config, metrics, checkpoints, the model or adapter and report.html to output_dir. " +
                                         "Every option (docs/sft.md) can be set in the recipe or with --set; --print-config lists them all with their values.");
        job.AddTo(command);
        var folder = new RunFolderOptions();
        folder.AddTo(command);
        command.SetAction(parse =>
        {
            var options = job.Bind<SftConfig>(parse, o => folder.Apply(o, parse));
            return job.Run(parse, options, done =>
            {
                var result = (SftResult)done.Details!;
                var training = result.Training;
                var last = training.LogHistory.LastOrDefault(l => l.ContainsKey("loss"));
                Console.WriteLine($"trained {training.GlobalStep} steps in {TimeSpan.FromSeconds(training.Seconds):hh\\:mm\\:ss}; " +
                                  $"final loss {last?["loss"]?.GetValue<double>().ToString("0.####", CultureInfo.InvariantCulture) ?? "n/a"}");
                foreach (var (accuracy, index) in result.Accuracy.Select((a, i) => (a, i)))
                    Console.WriteLine($"eval {index + 1}: accuracy {accuracy.Accuracy:P1} of {accuracy.Count} held-out prompts, mean reward {accuracy.MeanReward:0.###}");
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
