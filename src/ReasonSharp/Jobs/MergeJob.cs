using ReasonSharp.Hub;
using ReasonSharp.Modeling;
using ReasonSharp.Training;
using ReasonSharp.Training.Lora;

namespace ReasonSharp.Jobs;

/// <summary>Options of the merge job: a LoRA adapter merged into its base model.</summary>
public sealed record MergeJobOptions
{
    /// <summary>The base model folder; empty: the pipeline's current model.</summary>
    public string Base { get; init; } = "";
    public string Adapter { get; init; } = "";
    /// <summary>Saved dtype (float32, float16, bfloat16); null: the base model's torch_dtype.</summary>
    public string? Dtype { get; init; }
    /// <summary>Folder for the merged model; null: the stage's folder.</summary>
    public string? OutputDir { get; init; }
    /// <summary>Delete the model or run already in output_dir first (without it such a folder is refused).</summary>
    public bool Overwrite { get; init; }
}

/// <summary>`merge`: W + scaling·B·A for every adapted projection, saved as a full model with the tokenizer.</summary>
public sealed class MergeJob : Job<MergeJobOptions>
{
    public override string Name => "merge";
    public override string Description => "Merge a LoRA adapter into its base model and save a full model.";
    public override MergeJobOptions Defaults(RunContext context) => new() { Base = context.Model ?? "" };

    /// <summary>The flag names used in messages about the output folder (the CLI's --out, --overwrite).</summary>
    public (string Folder, string Overwrite) OptionNames { get; init; } = ("output_dir", "overwrite");

    public override JobResult Run(MergeJobOptions o, RunContext context)
    {
        var output = context.RequireOutputDir(o.OutputDir, OptionNames.Folder);
        bool own = o.OutputDir is not null;
        if (own && !o.Overwrite) RunFolder.Claim(output, overwrite: false, OptionNames.Folder, OptionNames.Overwrite);
        var result = MergeAdapter(o.Base, o.Adapter, output, o.Dtype,
            own && o.Overwrite ? () => RunFolder.Claim(output, overwrite: true, OptionNames.Folder, OptionNames.Overwrite) : null,
            context.Progress.WriteLine);
        return Result(new Dictionary<string, string> { ["model"] = output }, details: result);
    }

    /// <summary>What a merge did: the adapted projections and the adapter's rank and scaling, the saved dtype.</summary>
    public sealed record Merged(int Projections, int R, double Scaling, string Dtype);

    /// <summary>
    /// Base + LoRA adapter → a full model folder with the tokenizer. <paramref name="clear"/> runs once the merged
    /// model exists, before it is saved (deleting what was in the folder); its message goes to <paramref name="log"/>.
    /// </summary>
    public static Merged MergeAdapter(string baseFolder, string adapterFolder, string output, string? dtype = null,
        Func<string?>? clear = null, Action<string>? log = null)
    {
        baseFolder = HubPaths.Model(baseFolder);
        adapterFolder = HubPaths.Model(adapterFolder); // a LoRA adapter on the Hub works too
        using var model = ModelFolder.Load(baseFolder);
        var adapters = LoraAdapters.Load(model, adapterFolder);
        adapters.MergeAndUnload();
        var saved = dtype ?? model.Config.TorchDtype;
        if (clear?.Invoke() is { } deleted) log?.Invoke(deleted);
        ModelFolder.Save(model, output, new ModelSaveOptions { TorchDtype = saved, TokenizerFolder = baseFolder });
        return new Merged(adapters.Layers.Count, adapters.Config.R, adapters.Config.Scaling, saved);
    }
}
