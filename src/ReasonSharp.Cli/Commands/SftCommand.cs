using System.CommandLine;
using System.Globalization;
using ReasonSharp.Configuration;
using ReasonSharp.Recipes;
using ReasonSharp.Reporting;
using ReasonSharp.Training;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason sft --config recipe.yaml [--set key=value …]`: supervised fine-tuning (full or LoRA) from a recipe.</summary>
public static class SftCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "YAML recipe of SftConfig options (snake_case keys, e.g. recipes/sft-tiny-cpu.yaml)." };
        var set = new Option<string[]>("--set")
        {
            Description = "Override one option: key=value, value in YAML syntax (repeatable), e.g. --set max_steps=50 --set lora_target_modules=[q_proj,v_proj].",
            AllowMultipleArgumentsPerToken = false,
        };
        var printConfig = new Option<bool>("--print-config") { Description = "Print every option as bound (YAML) and exit without training." };
        var command = new Command("sft", "Supervised fine-tuning on conversations or prompt/completion traces (chat format, assistant-only loss, " +
                                         "truncation, packing, full or LoRA); writes config, metrics, checkpoints, the model or adapter and report.html to output_dir. " +
                                         "Every option (docs/sft.md) can be set in the recipe or with --set; --print-config lists them all with their values.")
        {
            config, set, printConfig,
        };
        var folder = new RunFolderOptions();
        folder.AddTo(command);
        command.SetAction(parse =>
        {
            var options = folder.Apply(Bind(parse.GetValue(config), parse.GetValue(set) ?? []), parse);
            if (parse.GetValue(printConfig))
            {
                Console.Write(OptionsBinder.ToYaml(options));
                return 0;
            }
            var result = SftTrainer.Run(options);
            var training = result.Training;
            var last = training.LogHistory.LastOrDefault(l => l.ContainsKey("loss"));
            Console.WriteLine($"trained {training.GlobalStep} steps in {TimeSpan.FromSeconds(training.Seconds):hh\\:mm\\:ss}; " +
                              $"final loss {last?["loss"]?.GetValue<double>().ToString("0.####", CultureInfo.InvariantCulture) ?? "n/a"}");
            foreach (var (accuracy, index) in result.Accuracy.Select((a, i) => (a, i)))
                Console.WriteLine($"eval {index + 1}: accuracy {accuracy.Accuracy:P1} of {accuracy.Count} held-out prompts, mean reward {accuracy.MeanReward:0.###}");
            var written = new List<string>
            {
                options.UsePeft ? "PEFT adapter" : "model", SftTrainer.ConfigFile, MetricsLogger.MetricsFile,
            };
            if (options.WriteReport) written.Add(RunReport.HtmlFile);
            Console.WriteLine($"wrote {Path.GetFullPath(options.OutputDir)} ({string.Join(", ", written)})");
            return 0;
        });
        return command;
    }

    /// <summary>The recipe (if any) and then the overrides, onto SftConfig's defaults.</summary>
    public static SftConfig Bind(string? recipe, IEnumerable<string> overrides)
    {
        var options = recipe is null ? new SftConfig() : OptionsBinder.LoadFile(recipe, new SftConfig());
        options = OptionsBinder.ApplyOverrides(options, overrides);
        options.Validate();
        return options;
    }
}
