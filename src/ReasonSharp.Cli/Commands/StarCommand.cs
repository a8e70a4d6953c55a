using System.CommandLine;
using ReasonSharp.Configuration;
using ReasonSharp.Recipes;
using ReasonSharp.Training.Star;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason star --config recipe.yaml`: STaR iterations of sample → verify → (rationalise) → SFT → evaluate.</summary>
public static class StarCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "YAML of STaR options (SFT options plus iterations, num_generations, reward, rationalization, …)." };
        var set = new Option<string[]>("--set") { Description = "Override one option: key=value (repeatable)." };
        var command = new Command("star", "Self-Taught Reasoner: sample rationales, keep the verified ones (optionally rationalise failures with the answer as a hint), fine-tune, evaluate, repeat.")
        {
            config, set,
        };
        var folder = new RunFolderOptions();
        folder.AddTo(command);
        command.SetAction(parse =>
        {
            var options = new StarConfig();
            if (parse.GetValue(config) is { } path) options = OptionsBinder.LoadFile(path, options);
            options = folder.Apply(OptionsBinder.ApplyOverrides(options, parse.GetValue(set) ?? []), parse);
            var result = StarTrainer.Run(options);
            foreach (var it in result.Iterations)
                Console.WriteLine($"iteration {it.Iteration}: {it.TrainRows} rationales ({it.SolvedDirectly} solved, {it.Rationalized} rationalised), held-out accuracy {it.Accuracy:P1}");
            Console.WriteLine($"final model: {Path.GetFullPath(result.FinalModel)}");
            return 0;
        });
        return command;
    }
}
