using System.CommandLine;
using ReasonSharp.Recipes;
using ReasonSharp.Training.Star;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason star --config recipe.yaml`: STaR iterations of sample → verify → (rationalise) → SFT → evaluate.</summary>
public static class StarCommand
{
    public static Command Create()
    {
        var job = new JobCli("star");
        var command = new Command("star", "Self-Taught Reasoner: sample rationales, keep the verified ones (optionally rationalise failures with the answer as a hint), fine-tune, evaluate, repeat.");
        job.AddTo(command);
        var folder = new RunFolderOptions();
        folder.AddTo(command);
        command.SetAction(parse =>
        {
            var options = job.Bind<StarConfig>(parse, o => folder.Apply(o, parse));
            return job.Run(parse, options, done =>
            {
                var result = (StarResult)done.Details!;
                foreach (var it in result.Iterations)
                    Console.WriteLine($"iteration {it.Iteration}: {it.TrainRows} rationales ({it.SolvedDirectly} solved, {it.Rationalized} rationalised), held-out accuracy {it.Accuracy:P1}");
                Console.WriteLine($"final model: {Path.GetFullPath(result.FinalModel)}");
            });
        });
        return command;
    }
}
