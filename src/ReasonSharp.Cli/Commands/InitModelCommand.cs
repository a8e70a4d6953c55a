using System.CommandLine;
using ReasonSharp.Modeling;
using ReasonSharp.Training;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason init-model`: a randomly initialised model folder of a chosen architecture and size.</summary>
public static class InitModelCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch") { Description = "Architecture: llama, qwen2 or qwen3.", DefaultValueFactory = _ => "qwen2" };
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
        command.SetAction(parse =>
        {
            var preset = ModelPresets.Get(parse.GetValue(size)!);
            var shape = preset with
            {
                HiddenSize = parse.GetValue(hidden) ?? preset.HiddenSize,
                IntermediateSize = parse.GetValue(intermediate) ?? preset.IntermediateSize,
                Layers = parse.GetValue(layers) ?? preset.Layers,
                Heads = parse.GetValue(heads) ?? preset.Heads,
                KvHeads = parse.GetValue(kvHeads) ?? preset.KvHeads,
            };
            var folder = parse.GetValue(output)!;
            bool replace = parse.GetValue(overwrite);
            if (!replace) RunFolder.Claim(folder, overwrite: false, "--out", "--overwrite");
            using (var model = LanguageModel.Initialize(parse.GetValue(arch)!, shape, parse.GetValue(tokenizer)!, parse.GetValue(seed),
                       parse.GetValue(maxPositions), tieWordEmbeddings: !parse.GetValue(untied), device: "cpu"))
            {
                // Only once the new model exists is the old one deleted.
                if (replace && RunFolder.Claim(folder, overwrite: true, "--out", "--overwrite") is { } deleted)
                    Console.WriteLine(deleted);
                model.Save(folder);
            }
            Console.WriteLine($"wrote {Path.GetFullPath(folder)}");
            return InfoCommand.Print(folder);
        });
        return command;
    }
}
