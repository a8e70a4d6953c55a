using ReasonSharp.Configuration;
using ReasonSharp.Merging;
using ReasonSharp.Training;

namespace ReasonSharp.Jobs;

/// <summary>Options of the merge-models job: mergekit's merge options, and the output folder.</summary>
public sealed record MergeModelsJobOptions
{
    [Flatten]
    public ModelMergeOptions Merge { get; init; } = new();
    /// <summary>Folder for the merged model; null: the stage's folder.</summary>
    public string? OutputDir { get; init; }
    /// <summary>Delete the model or run already in output_dir first (without it such a folder is refused).</summary>
    public bool Overwrite { get; init; }
}

/// <summary>`merge-models`: linear, slerp, ties or dare_ties merges of full models, tensor by tensor.</summary>
public sealed class MergeModelsJob : Job<MergeModelsJobOptions>
{
    public override string Name => "merge-models";
    public override string Description =>
        "Merge full models (linear, slerp, ties, dare_ties as mergekit), tensor by tensor, into one model folder.";
    public override MergeModelsJobOptions Defaults(RunContext context) => new();

    /// <summary>The flag names used in messages about the output folder (the CLI's --out, --overwrite).</summary>
    public (string Folder, string Overwrite) OptionNames { get; init; } = ("output_dir", "overwrite");

    public override void Validate(MergeModelsJobOptions options) =>
        Validation.Once(options.Merge, options.Merge.Validate);

    public override JobResult Run(MergeModelsJobOptions o, RunContext context)
    {
        var output = context.RequireOutputDir(o.OutputDir, OptionNames.Folder);
        // A pipeline stage's own folder is the pipeline's to manage; an output_dir of the stage's or the CLI's is
        // claimed here.
        if (o.OutputDir is not null
            && RunFolder.Claim(output, o.Overwrite, OptionNames.Folder, OptionNames.Overwrite) is { } deleted)
            context.Progress.WriteLine(deleted);
        var result = ModelMerger.Merge(o.Merge, output);
        return Result(new Dictionary<string, string> { ["model"] = output },
            new Dictionary<string, double> { ["merged_tensors"] = result.Merged }, details: result);
    }
}
