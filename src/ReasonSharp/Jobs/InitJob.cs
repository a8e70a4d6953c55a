using ReasonSharp.Modeling;
using ReasonSharp.Training;

namespace ReasonSharp.Jobs;

/// <summary>Options of the init job: a randomly initialised model of an architecture and shape, sized to a
/// tokenizer.</summary>
public sealed record InitJobOptions
{
    public string Arch { get; init; } = "qwen2";
    public string Size { get; init; } = "tiny";
    /// <summary>Folder with tokenizer.json; its vocabulary sizes the model.</summary>
    public string Tokenizer { get; init; } = "";
    public int MaxPositions { get; init; } = 1024;
    public int? HiddenSize { get; init; }
    public int? IntermediateSize { get; init; }
    public int? Layers { get; init; }
    public int? Heads { get; init; }
    public int? KvHeads { get; init; }
    /// <summary>null: the pipeline's seed (0 on the command line).</summary>
    public long? Seed { get; init; }
    /// <summary>Give the model its own lm_head instead of sharing the embedding matrix.</summary>
    public bool Untied { get; init; }
    /// <summary>Folder to write the model to; null: the stage's folder.</summary>
    public string? OutputDir { get; init; }
    /// <summary>Delete the model or run already in output_dir first (without it such a folder is refused).</summary>
    public bool Overwrite { get; init; }
}

/// <summary>`init`: writes a randomly initialised Hugging Face model folder.</summary>
public sealed class InitJob : Job<InitJobOptions>
{
    public override string Name => "init";
    public override string Description => "Create a randomly initialised model folder sized to a tokenizer.";
    public override InitJobOptions Defaults(RunContext context) => new();

    /// <summary>The flag names used in messages about the output folder (the CLI's --out, --overwrite).</summary>
    public (string Folder, string Overwrite) OptionNames { get; init; } = ("output_dir", "overwrite");

    public override JobResult Run(InitJobOptions o, RunContext context)
    {
        var preset = ModelPresets.Get(o.Size);
        var shape = preset with
        {
            HiddenSize = o.HiddenSize ?? preset.HiddenSize,
            IntermediateSize = o.IntermediateSize ?? preset.IntermediateSize,
            Layers = o.Layers ?? preset.Layers,
            Heads = o.Heads ?? preset.Heads,
            KvHeads = o.KvHeads ?? preset.KvHeads,
        };
        var folder = context.RequireOutputDir(o.OutputDir, OptionNames.Folder);
        // A folder of the job's own (given in the options) is claimed; a stage's folder is the pipeline's.
        bool own = o.OutputDir is not null;
        if (own && !o.Overwrite) RunFolder.Claim(folder, overwrite: false, OptionNames.Folder, OptionNames.Overwrite);
        using var model = LanguageModel.Initialize(o.Arch, shape, o.Tokenizer, o.Seed ?? context.Seed ?? 0, o.MaxPositions,
            tieWordEmbeddings: !o.Untied, device: "cpu");
        // Only once the new model exists is the old one deleted.
        if (own && o.Overwrite && RunFolder.Claim(folder, overwrite: true, OptionNames.Folder, OptionNames.Overwrite) is
            { } deleted)
            context.Progress.WriteLine(deleted);
        model.Save(folder);
        if (!own) context.Progress.WriteLine($"{model.Model.Config.Architecture}: {model.ParameterCount() / 1e6:F2}M parameters");
        return Result(new Dictionary<string, string> { ["model"] = folder },
            new Dictionary<string, double> { ["parameters"] = model.ParameterCount() });
    }
}
