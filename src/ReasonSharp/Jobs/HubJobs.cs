using ReasonSharp.Hub;

namespace ReasonSharp.Jobs;

/// <summary>Options of the download job, as `huggingface-cli download` names them.</summary>
public sealed record DownloadJobOptions
{
    /// <summary>`org/name` on the Hub.</summary>
    public string RepoId { get; init; } = "";
    /// <summary>A branch, tag or commit.</summary>
    public string Revision { get; init; } = "main";
    /// <summary>model or dataset.</summary>
    public string RepoType { get; init; } = "model";
    /// <summary>Glob patterns of the files to fetch (fnmatch: `*` crosses folders); empty: every file.</summary>
    public IReadOnlyList<string> Include { get; init; } = [];
    /// <summary>A folder the files are copied into besides the cache; null: the snapshot folder in the cache.</summary>
    public string? LocalDir { get; init; }
}

/// <summary>`download`: a Hub repository into huggingface_hub's cache (HF_HOME, HF_HUB_CACHE), resumable.</summary>
public sealed class DownloadJob : Job<DownloadJobOptions>
{
    public override string Name => "download";
    public override string Description => "Download a model or dataset from the Hugging Face Hub into its cache.";
    public override DownloadJobOptions Defaults(RunContext context) => new();

    public override void Validate(DownloadJobOptions o)
    {
        var type = HubRepo.ParseType(o.RepoType, "repo_type");
        if (o.RepoId.Length > 0) HubRepo.Parse(o.RepoId, type, "repo_id");
        if (string.IsNullOrWhiteSpace(o.Revision))
            throw new ReasonSharpException("revision: empty; expected a branch, tag or commit");
    }

    public override JobResult Run(DownloadJobOptions o, RunContext context)
    {
        if (o.RepoId.Length == 0) throw new ReasonSharpException("repo_id: missing; expected org/name");
        var repo = HubRepo.Parse(o.RepoId, HubRepo.ParseType(o.RepoType, "repo_type"), "repo_id");
        var localDir = o.LocalDir ?? context.OutputDir;
        var downloader = new HubDownloader(HubSettings.FromEnvironment(), context.Progress, context.Log);
        var result = downloader.Download(new HubDownloadRequest(repo)
        {
            Revision = o.Revision, Include = o.Include, LocalDir = localDir,
        }, context.Cancellation);
        var kind = repo.Type == HubRepoType.Dataset ? "data" : "model";
        return Result(new Dictionary<string, string> { [kind] = result.Folder, ["folder"] = result.Folder },
            new Dictionary<string, double>
            {
                ["files"] = result.Files.Count, ["files_downloaded"] = result.FilesDownloaded,
                ["bytes_downloaded"] = result.BytesDownloaded,
            }, result);
    }
}

/// <summary>Options of the upload job, as `huggingface-cli upload` names them.</summary>
public sealed record UploadJobOptions
{
    /// <summary>The folder to publish; null: the pipeline's current model.</summary>
    public string? Folder { get; init; }
    /// <summary>`org/name` on the Hub; created when missing.</summary>
    public string RepoId { get; init; } = "";
    public string RepoType { get; init; } = "model";
    /// <summary>The branch the commit goes to.</summary>
    public string Revision { get; init; } = "main";
    public string CommitMessage { get; init; } = "Upload folder using ReasonSharp";
    /// <summary>Create the repository as private.</summary>
    public bool Private { get; init; }
    /// <summary>Glob patterns of files left out (besides .git and .cache/huggingface).</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];
}

/// <summary>`upload`: publishes a folder to the Hub as one commit through its commit API (HF_TOKEN).</summary>
public sealed class UploadJob : Job<UploadJobOptions>
{
    public override string Name => "upload";
    public override string Description => "Publish a model folder to the Hugging Face Hub as one commit.";
    public override UploadJobOptions Defaults(RunContext context) => new();

    public override void Validate(UploadJobOptions o)
    {
        var type = HubRepo.ParseType(o.RepoType, "repo_type");
        if (o.RepoId.Length > 0) HubRepo.Parse(o.RepoId, type, "repo_id");
        if (string.IsNullOrWhiteSpace(o.Revision)) throw new ReasonSharpException("revision: empty; expected a branch");
    }

    public override JobResult Run(UploadJobOptions o, RunContext context)
    {
        if (o.RepoId.Length == 0) throw new ReasonSharpException("repo_id: missing; expected org/name");
        var repo = HubRepo.Parse(o.RepoId, HubRepo.ParseType(o.RepoType, "repo_type"), "repo_id");
        var folder = o.Folder ?? context.RequireModel();
        var uploader = new HubUploader(HubSettings.FromEnvironment(), context.Log);
        var result = uploader.Upload(new HubUploadRequest(repo, folder)
        {
            Revision = o.Revision, CommitMessage = o.CommitMessage, Private = o.Private, Ignore = o.Exclude,
        }, context.Cancellation);
        var outputs = new Dictionary<string, string> { ["repo"] = repo.Id };
        if (result.CommitUrl is { } url) outputs["commit"] = url;
        return Result(outputs, new Dictionary<string, double>
        {
            ["files"] = result.Files.Count, ["lfs_files"] = result.LfsFiles, ["unchanged"] = result.Unchanged,
        }, result);
    }

    /// <summary>push_to_hub: the training run's folder to hub_model_id, checkpoints and `_*` files left out, as
    /// transformers' Trainer.push_to_hub does.</summary>
    public static HubUploadResult? PushTrained(Training.TrainingOptions config, string folder, RunContext context)
    {
        if (!config.PushToHub) return null;
        var repo = HubRepo.Parse(config.HubModelId!, HubRepoType.Model, "hub_model_id");
        context.Log($"push_to_hub: publishing {folder} to {repo}");
        return new HubUploader(HubSettings.FromEnvironment(), context.Log).Upload(new HubUploadRequest(repo, folder)
        {
            CommitMessage = "End of training", Private = config.HubPrivateRepo, Ignore = ["checkpoint-*", "_*"],
        }, context.Cancellation);
    }
}
