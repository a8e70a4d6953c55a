using System.CommandLine;
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
        command.SetAction(parse =>
        {
            var baseDir = parse.GetValue(baseOption)!;
            var adapterDir = parse.GetValue(adapterOption)!;
            var outDir = parse.GetValue(outOption)!;
            bool replace = parse.GetValue(overwrite);
            if (!replace) RunFolder.Claim(outDir, overwrite: false, "--out", "--overwrite");
            using var model = ModelFolder.Load(baseDir);
            var adapters = LoraAdapters.Load(model, adapterDir);
            adapters.MergeAndUnload();
            var dtype = parse.GetValue(dtypeOption) ?? model.Config.TorchDtype;
            if (replace && RunFolder.Claim(outDir, overwrite: true, "--out", "--overwrite") is { } deleted)
                Console.WriteLine(deleted);
            ModelFolder.Save(model, outDir, new ModelSaveOptions { TorchDtype = dtype, TokenizerFolder = baseDir });
            Console.WriteLine($"merged {adapters.Layers.Count} adapted projections (r={adapters.Config.R}, scaling={adapters.Config.Scaling:G4}) into {outDir} ({dtype})");
            return 0;
        });
        return command;
    }
}
