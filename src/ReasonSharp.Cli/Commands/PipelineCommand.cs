using System.CommandLine;
using ReasonSharp.Recipes;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason pipeline --config recipes/r1.yaml`: multi-stage recipes (data, tokenizer, init, sft, grpo, sample, star, eval, merge, export).</summary>
public static class PipelineCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Pipeline recipe (YAML with output_dir, seed, device and a list of stages).", Required = true };
        var set = new Option<string[]>("--set") { Description = "Override: output_dir=…, seed=…, device=…, or STAGE.KEY=VALUE for one stage's option (repeatable)." };
        var check = new Option<bool>("--check") { Description = "Only check the recipe: bind every stage's options and references, run nothing." };
        var overwrite = new Option<bool>("--overwrite")
        {
            Description = "Delete the previous run in output_dir (stage folders, state, report) and start over.",
        };
        var command = new Command("pipeline",
            "Run a multi-stage recipe; each stage's model feeds the next, and a rerun resumes after the last " +
            "finished stage.")
        {
            config, set, check, overwrite,
        };
        command.SetAction(parse =>
        {
            var pipeline = Pipeline.Load(parse.GetValue(config)!, parse.GetValue(set) ?? []);
            pipeline.Overwrite = parse.GetValue(overwrite);
            if (parse.GetValue(check))
            {
                pipeline.Check();
                Console.WriteLine($"{pipeline.Stages.Count} stages check out: {string.Join(" → ", pipeline.Stages.Select(s => $"{s.Name} ({s.Type})"))}");
                return 0;
            }
            var finished = pipeline.Run();
            Console.WriteLine($"pipeline finished: {finished.Count} stages; state and report in {Path.GetFullPath(pipeline.OutputDir)}");
            return 0;
        });
        return command;
    }
}
