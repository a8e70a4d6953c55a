using System.CommandLine;
using ReasonSharp.Modeling;
using ReasonSharp.Native;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason info MODEL`: architecture, parameters, dtype and memory of a model folder.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("model") { Description = "A Hugging Face model folder (config.json, safetensors, tokenizer files)." };
        var command = new Command("info", "Show a model folder's architecture, parameter count, dtype, memory and tokenizer.") { folder };
        command.SetAction(parse => Print(parse.GetValue(folder)!));
        return command;
    }

    public static int Print(string folder)
    {
        TorchNative.EnsureLoaded();
        folder = ReasonSharp.Hub.HubPaths.Model(folder);
        var config = ModelConfig.Load(Path.Combine(folder, ModelFolder.ConfigFile));
        var files = ModelFolder.WeightFiles(folder);
        long onDisk = files.Sum(f => { using var file = File.OpenRead(f); return file.Length; });
        long parameters = config.ParameterCount();
        Console.WriteLine($"model:          {Path.GetFullPath(folder)}");
        Console.WriteLine($"architecture:   {config.Architecture} (model_type {config.ModelType})");
        Console.WriteLine($"parameters:     {parameters:N0} ({parameters / 1e6:F2}M)");
        Console.WriteLine($"shape:          {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, intermediate {config.IntermediateSize}, " +
                          $"{config.NumAttentionHeads} heads ({config.NumKeyValueHeads} kv, head_dim {config.HeadDim}), vocab {config.VocabSize}");
        Console.WriteLine($"embeddings:     {(config.TieWordEmbeddings ? "tied (lm_head shares embed_tokens)" : "untied")}");
        Console.WriteLine($"rope:           theta {config.RopeTheta}{(config.RopeScaling is { } s ? $", {s.RopeType} scaling ×{s.Factor}" : "")}, max positions {config.MaxPositionEmbeddings}");
        Console.WriteLine($"stored dtype:   {config.TorchDtype}, {files.Count} file(s), {onDisk / 1e6:F1} MB on disk");
        Console.WriteLine($"memory:         {parameters * 4 / 1e6:F1} MB as float32 (CPU compute), {parameters * 2 / 1e6:F1} MB as bfloat16 (CUDA)");
        if (File.Exists(Path.Combine(folder, Tokenizer.FileName)))
        {
            using var tokenizer = Tokenizer.Load(folder);
            string chat;
            try { chat = $"chat template: {ChatFormat.For(tokenizer).Capabilities}"; }
            catch (ReasonSharpException e) { chat = $"chat template unusable: {e.Message}"; }
            Console.WriteLine($"tokenizer:      {tokenizer.VocabSize} ids, eos "
                + $"{Token(tokenizer, tokenizer.EosTokenId)}, pad {Token(tokenizer, tokenizer.PadTokenId)}, {chat}");
        }
        else Console.WriteLine("tokenizer:      none in this folder");
        Console.WriteLine($"torch native:   {TorchNative.Status}");
        Console.WriteLine($"malloc:         {MemoryPolicy.Status}");
        return 0;
    }

    static string Token(Tokenizer tokenizer, int? id) => id is { } i ? $"{tokenizer.IdToToken(i)} ({i})" : "none";
}
