using ReasonSharp.Export;
using ReasonSharp.Hub;

namespace ReasonSharp.Jobs;

/// <summary>Options of the export job: a model folder as a GGUF file for llama.cpp and Ollama.</summary>
public sealed record ExportJobOptions
{
    /// <summary>The model folder; null: the pipeline's current model.</summary>
    public string? Model { get; init; }
    /// <summary>f32, f16, q8_0, or q4_0, q4_k_m, q5_k_m, q6_k by llama.cpp's quantizer (named gguf_type because
    /// `type` names a stage's type).</summary>
    public GgufFileType GgufType { get; init; } = GgufFileType.F32;
    /// <summary>The GGUF file; a relative name is in the stage's folder; null: model-TYPE.gguf there.</summary>
    public string? FileName { get; init; }
    /// <summary>general.name in the file (default: the folder's name).</summary>
    public string? Name { get; init; }
    /// <summary>llama.cpp pre-tokenizer name, when it cannot be recognised from tokenizer.json.</summary>
    public string? Pre { get; init; }
    /// <summary>Write an Ollama Modelfile beside the GGUF (NAME.gguf → NAME.Modelfile).</summary>
    public bool Modelfile { get; init; } = true;
    /// <summary>Replace the file when it exists.</summary>
    public bool Overwrite { get; init; } = true;
}

/// <summary>`export`: writes a GGUF v3 file with the tokenizer and chat template.</summary>
public sealed class ExportJob : Job<ExportJobOptions>
{
    public override string Name => "export";
    public override string Description => "Export a model folder to GGUF for llama.cpp and Ollama.";
    public override ExportJobOptions Defaults(RunContext context) => new();

    /// <summary>The option named in messages about the file (the CLI's --out).</summary>
    public string FileOption { get; init; } = "file_name";

    public override JobResult Run(ExportJobOptions o, RunContext context)
    {
        var model = HubPaths.Model(context.RequireModel(o.Model));
        var name = o.FileName ?? $"model-{o.GgufType.ToString().ToLowerInvariant()}.gguf";
        var path = context.OutputDir is { } folder ? Path.Combine(folder, name) : name;
        if (Directory.Exists(path))
            throw new ReasonSharpException($"{FileOption} {path}: is a folder; expected a file path such as "
                                           + Path.Combine(path, "model.gguf"));
        if (File.Exists(path) && !o.Overwrite)
            throw new ReasonSharpException($"{FileOption} {path}: the file exists; pass --overwrite to replace it, "
                                           + "or choose another path");
        if (context.OutputDir is not null) Directory.CreateDirectory(context.OutputDir);
        var exportOptions = new GgufExportOptions { Type = o.GgufType, Name = o.Name, PreTokenizer = o.Pre };
        var result = GgufQuantizer.IsLlamaCppType(o.GgufType)
            ? GgufQuantizer.ExportFolder(model, path, exportOptions)
            : GgufExporter.ExportFolder(model, path, exportOptions);
        var outputs = new Dictionary<string, string> { ["file"] = path };
        if (o.Modelfile)
        {
            var (modelfilePath, modelfile) = OllamaModelfile.WriteBeside(path, model);
            outputs["modelfile"] = modelfilePath;
            result = result with { Notes = [.. result.Notes, .. modelfile.Notes] };
        }
        if (context.OutputDir is not null)
            context.Progress.WriteLine($"GGUF ({result.FileType}): {path}, {result.FileBytes / 1e6:F1} MB");
        return Result(outputs,
            new Dictionary<string, double> { ["bytes"] = result.FileBytes }, result);
    }
}
