using System.CommandLine;
using ReasonSharp.Jobs;
using ReasonSharp.Modeling;
using ReasonSharp.Training;
using ReasonSharp.Training.Lora;

namespace ReasonSharp.Cli.Commands;

public static class MergeCommand
{
    public static Command Create()
    {
        var baseOption = new Option<string>("--base") { Description = "Base model folder (Hugging Face format)", Required = true };
        var adapterOption = new Option<string>("--adapter") { Description = "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors)", Required = true };
        var outOption = new Option<string>("--out") { Description = "Folder to write the merged model to", Required = true };
        var dtypeOption = new Option<string?>("--dtype") { Description = "Saved dtype: float32, float16 or bfloat16 (default: the base model's torch_dtype)" };
        var overwrite = new Option<bool>("--overwrite")
        {
            Description = "Delete the model or run already in --out first (without it such a folder is refused).",
        };
        var command = new Command("merge", "Merge a LoRA adapter into its base model (W + scaling·B·A) and save a full model.")
        {
            baseOption, adapterOption, outOption, dtypeOption, overwrite,
        };
        var job = new JobCli("merge", recipe: false) { Job = new MergeJob { OptionNames = ("--out", "--overwrite") } };
        job.AddTo(command);
        command.SetAction(parse =>
        {
            var options = job.Bind<MergeJobOptions>(parse, o => o with
            {
                Base = parse.GetValue(baseOption)!,
                Adapter = parse.GetValue(adapterOption)!,
                OutputDir = parse.GetValue(outOption)!,
                Dtype = parse.GetValue(dtypeOption),
                Overwrite = parse.GetValue(overwrite),
            });
            return job.Run(parse, options, done =>
            {
                var m = (MergeJob.Merged)done.Details!;
                Console.WriteLine($"merged {m.Projections} adapted projections (r={m.R}, scaling={m.Scaling:G4}) into {options.OutputDir} ({m.Dtype})");
            });
        });
        return command;
    }
}
