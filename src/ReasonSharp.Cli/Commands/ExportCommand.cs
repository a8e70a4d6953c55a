using System.CommandLine;
using ReasonSharp.Export;
using ReasonSharp.Jobs;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason export gguf MODEL --out FILE --type f32|f16|q8_0|q4_0|q4_k_m|q5_k_m|q6_k`: a model folder to a llama.cpp / Ollama GGUF file.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var command = new Command("export", "Export a model folder to another format.");
        command.Subcommands.Add(CreateGguf());
        return command;
    }

    static Command CreateGguf()
    {
        var model = new Argument<string>("MODEL") { Description = "Model folder (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)." };
        var output = new Option<string>("--out") { Description = "GGUF file to write (written to a temporary file, then renamed).", Required = true };
        var type = new Option<string>("--type")
        {
            Description = "Weight type: f32, f16 or q8_0 (norms and biases stay f32), or q4_0, q4_k_m, q5_k_m, q6_k "
                + "(our f16 file quantized by llama.cpp's own quantizer).",
            DefaultValueFactory = _ => "f32",
        };
        type.AcceptOnlyFromAmong("f32", "f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k");
        var name = new Option<string?>("--name") { Description = "general.name in the file (default: the folder's name)." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace --out when it already exists." };
        var noModelfile = new Option<bool>("--no-modelfile") { Description = "Do not write the Ollama Modelfile beside the GGUF (NAME.Modelfile)." };
        var pre = new Option<string?>("--pre") { Description = "llama.cpp pre-tokenizer name, when it cannot be recognised from tokenizer.json (e.g. qwen2, llama-bpe, gpt2)." };

        var command = new Command("gguf", "Write a GGUF v3 file (llama, qwen2, qwen3) with the tokenizer and chat template, for llama.cpp and Ollama.")
        {
            model, output, type, name, pre, overwrite, noModelfile,
        };
        var job = new JobCli("export", recipe: false) { Job = new ExportJob { FileOption = "--out" } };
        job.AddTo(command);
        command.SetAction(parse =>
        {
            var options = job.Bind<ExportJobOptions>(parse, o => o with
            {
                Model = parse.GetValue(model)!,
                FileName = parse.GetValue(output)!,
                GgufType = Gguf.ParseFileType(parse.GetValue(type)!),
                Name = parse.GetValue(name),
                Pre = parse.GetValue(pre),
                Overwrite = parse.GetValue(overwrite),
                Modelfile = !parse.GetValue(noModelfile),
            });
            return job.Run(parse, options, done =>
            {
                var result = (GgufExportResult)done.Details!;
                Console.WriteLine($"wrote {result.Path} ({result.FileBytes / 1048576.0:F1} MiB): {result.Architecture}, {result.Tensors.Count} tensors, " +
                    $"type {result.FileType} ({string.Join(", ", result.Tensors.GroupBy(t => t.Type).Select(g => $"{g.Count()} {g.Key}"))})");
                foreach (var note in result.Notes) Console.WriteLine($"note: {note}");
                if (done.Outputs.TryGetValue("modelfile", out var modelfile))
                    Console.WriteLine($"wrote {modelfile} (ollama create NAME -f {modelfile})");
            });
        });
        return command;
    }
}
