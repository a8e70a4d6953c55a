using System.CommandLine;
using ReasonSharp.Jobs;
using ReasonSharp.Merging;

namespace ReasonSharp.Cli.Commands;

public static class MergeModelsCommand
{
    public static Command Create()
    {
        var models = new Argument<string[]>("models")
        {
            Description = "Model folders (or Hub ids) to merge, with the same architecture and tensors.",
            Arity = ArgumentArity.OneOrMore,
        };
        var method = new Option<string>("--method")
        {
            Description = "linear (weighted average), slerp (two models), ties or dare_ties (task vectors from "
                + "--base-model)",
            DefaultValueFactory = _ => "linear",
        };
        var weights = new Option<double[]>("--weights")
        {
            Description = "One weight per model (default 1 each); slerp: t = w2 / (w1 + w2) unless --t",
            AllowMultipleArgumentsPerToken = true,
        };
        var density = new Option<double[]>("--density")
        {
            Description = "ties/dare_ties: fraction of each task vector kept, in (0, 1]; one value or one per model",
            AllowMultipleArgumentsPerToken = true,
        };
        var baseModel = new Option<string?>("--base-model") { Description = "ties/dare_ties: the base model folder" };
        var t = new Option<double?>("--t") { Description = "slerp: interpolation factor (0: first model, 1: second)" };
        var noNormalize = new Option<bool>("--no-normalize")
        {
            Description = "linear/ties: do not divide by the sum of the weights",
        };
        var seed = new Option<long>("--seed")
        {
            Description = "dare_ties: seed of the random drop", DefaultValueFactory = _ => 42,
        };
        var output = new Option<string>("--out")
        {
            Description = "Folder to write the merged model to", Required = true,
        };
        var overwrite = new Option<bool>("--overwrite")
        {
            Description = "Delete the model or run already in --out first (without it such a folder is refused).",
        };
        var command = new Command("merge-models",
            "Merge full models as mergekit does (linear, slerp, ties, dare_ties), tensor by tensor.")
        {
            models, method, weights, density, baseModel, t, noNormalize, seed, output, overwrite,
        };
        var job = new JobCli("merge-models", recipe: false)
        {
            Job = new MergeModelsJob { OptionNames = ("--out", "--overwrite") },
        };
        job.AddTo(command);
        command.SetAction(parse =>
        {
            var options = job.Bind<MergeModelsJobOptions>(parse, o => o with
            {
                Merge = o.Merge with
                {
                    Models = parse.GetValue(models)!,
                    Method = parse.GetValue(method)!,
                    Weights = parse.GetValue(weights) ?? [],
                    Density = parse.GetValue(density) ?? [],
                    BaseModel = parse.GetValue(baseModel),
                    T = parse.GetValue(t),
                    Normalize = !parse.GetValue(noNormalize),
                    Seed = parse.GetValue(seed),
                },
                OutputDir = parse.GetValue(output)!,
                Overwrite = parse.GetValue(overwrite),
            });
            return job.Run(parse, options, done =>
            {
                var m = (ModelMergeResult)done.Details!;
                Console.WriteLine($"merged {m.Merged} tensors ({m.Method}, {m.Copied} copied) into {m.Output}; "
                    + $"config and tokenizer from {m.ConfigFrom}");
            });
        });
        return command;
    }
}
