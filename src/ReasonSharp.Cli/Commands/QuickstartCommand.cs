using System.CommandLine;
using ReasonSharp.Recipes;
using ReasonSharp.Training;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason quickstart`: trains a small reasoning model from scratch on the CPU and shows every method working.</summary>
public static class QuickstartCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder for the run (stages, models, report).", DefaultValueFactory = _ => "runs/quickstart" };
        var seed = new Option<long>("--seed") { Description = "Seed of data, initialisation, sampling and training; the same seed on the same machine gives the same table.", DefaultValueFactory = _ => 42 };
        var minutes = new Option<double>("--minutes") { Description = "Training budget: scales every training stage's steps (10 = the default run, about 13 minutes on 2 idle cores).", DefaultValueFactory = _ => 10 };
        var quick = new Option<bool>("--quick") { Description = "A CI-sized run (about a minute): tiny data and a few steps per stage; the numbers mean nothing." };
        var device = new Option<string>("--device") { Description = "cpu or cuda.", DefaultValueFactory = _ => "cpu" };
        var overwrite = new Option<bool>("--overwrite")
        {
            Description = "Delete the previous run in --out and start over (without it, a rerun with the same " +
                          "settings resumes).",
        };
        var command = new Command("quickstart",
            "Train a small reasoning model from scratch: synthetic task → BPE tokenizer → Qwen2 model → SFT on teacher traces → GRPO → rejection sampling → dual mode; "
            + "evaluates held-out accuracy after each stage and writes a report, the final model and a GGUF file.")
        {
            output, seed, minutes, quick, device, overwrite,
        };
        command.SetAction(parse =>
        {
            var options = new QuickstartOptions
            {
                OutputDir = parse.GetValue(output)!,
                Seed = parse.GetValue(seed),
                Minutes = parse.GetValue(minutes),
                Quick = parse.GetValue(quick),
                Device = parse.GetValue(device)!,
            };
            // --out is checked (or cleared) here, so that the messages name --out rather than the recipe's output_dir.
            var pipeline = Quickstart.BuildPipeline(options);
            pipeline.Overwrite = parse.GetValue(overwrite);
            if (pipeline.PrepareOutputDir("--out") is { Count: > 0 } deleted)
                Console.WriteLine($"deleted the previous run in {options.OutputDir}: {RunFolder.Describe(deleted)}");
            var result = Quickstart.Run(options);
            Console.WriteLine();
            Console.WriteLine($"Held-out accuracy (greedy, verified) after each stage — {result.Seconds / 60:F1} minutes in all:");
            Console.WriteLine($"({ReasonSharp.Reporting.MachineInfo.Describe()}; {ReasonSharp.Native.ThreadPolicy.Describe()})");
            Console.WriteLine();
            Console.Write(Quickstart.FormatTable(result.Table));
            Console.WriteLine();
            Console.WriteLine($"report:      {Path.GetFullPath(result.Report)}");
            Console.WriteLine($"final model: {Path.GetFullPath(result.FinalModel)} (Hugging Face format)");
            Console.WriteLine($"GGUF:        {Path.GetFullPath(result.Gguf)}");
            Console.WriteLine();
            Console.WriteLine("Try it:");
            Console.WriteLine($"  dotnet run -c Release --project src/ReasonSharp.Cli -- chat {result.FinalModel}");
            Console.WriteLine($"  dotnet run -c Release --project src/ReasonSharp.Cli -- chat {result.FinalModel} --no-think");
            // --jinja: llama.cpp runs the GGUF's own template (strips /think, /no_think as training did).
            Console.WriteLine($"  llama-cli -m {Path.GetFullPath(result.Gguf)} --jinja -cnv -sys /think     (llama.cpp)");
            var modelfile = Path.ChangeExtension(Path.GetFullPath(result.Gguf), ".Modelfile");
            Console.WriteLine($"  ollama create reasonsharp-quickstart -f {modelfile}   (Ollama)");
            return 0;
        });
        return command;
    }
}
