using System.CommandLine;
using ReasonSharp.Jobs;
using ReasonSharp.Modeling;
using ReasonSharp.Training;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason init-model`: a randomly initialised model folder of a chosen architecture and size.</summary>
public static class InitModelCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch")
        {
            Description = "Architecture (config.json model_type): " + string.Join(", ", ModelArchitecture.ModelTypes) + ".",
            DefaultValueFactory = _ => "qwen2",
        };
        var size = new Option<string>("--size") { Description = "Shape preset: " + string.Join(", ", ModelPresets.Shapes.Keys) + ".", DefaultValueFactory = _ => "tiny" };
        var tokenizer = new Option<string>("--tokenizer") { Description = "Folder with tokenizer.json (and tokenizer_config.json); the vocabulary sizes the model.", Required = true };
        var output = new Option<string>("--out") { Description = "Folder to write the model to.", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed of the normal(0, initializer_range) initialisation.", DefaultValueFactory = _ => 0 };
        var hidden = new Option<int?>("--hidden-size") { Description = "Override the preset's hidden size." };
        var intermediate = new Option<int?>("--intermediate-size") { Description = "Override the preset's MLP size." };
        var layers = new Option<int?>("--layers") { Description = "Override the preset's layer count." };
        var heads = new Option<int?>("--heads") { Description = "Override the preset's attention heads." };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Override the preset's key/value heads (grouped-query attention)." };
        var maxPositions = new Option<int>("--max-positions") { Description = "max_position_embeddings.", DefaultValueFactory = _ => 2048 };
        var untied = new Option<bool>("--untied") { Description = "Give the model its own lm_head instead of sharing the embedding matrix." };
        var overwrite = new Option<bool>("--overwrite")
        {
            Description = "Delete the model or run already in --out first (without it such a folder is refused).",
        };
        var command = new Command("init-model", "Create a randomly initialised Hugging Face model folder, sized to a tokenizer, then print `reason info` for it.")
        {
            arch, size, tokenizer, output, seed, hidden, intermediate, layers, heads, kvHeads, maxPositions, untied,
            overwrite,
        };
        var job = new JobCli("init", recipe: false) { Job = new InitJob { OptionNames = ("--out", "--overwrite") } };
        job.AddTo(command);
        command.SetAction(parse =>
        {
            var options = job.Bind<InitJobOptions>(parse, o => o with
            {
                Arch = parse.GetValue(arch)!,
                Size = parse.GetValue(size)!,
                Tokenizer = parse.GetValue(tokenizer)!,
                OutputDir = parse.GetValue(output)!,
                Seed = parse.GetValue(seed),
                HiddenSize = parse.GetValue(hidden),
                IntermediateSize = parse.GetValue(intermediate),
                Layers = parse.GetValue(layers),
                Heads = parse.GetValue(heads),
                KvHeads = parse.GetValue(kvHeads),
                MaxPositions = parse.GetValue(maxPositions),
                Untied = parse.GetValue(untied),
                Overwrite = parse.GetValue(overwrite),
            });
            if (parse.GetValue(job.PrintConfig)) return job.Run(parse, options);
            job.Run(parse, options);
            Console.WriteLine($"wrote {Path.GetFullPath(options.OutputDir!)}");
            return InfoCommand.Print(options.OutputDir!);
        });
        return command;
    }
}
