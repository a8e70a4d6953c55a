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
        if (string.IsNullOrWhiteSpace(o.Revision)) throw new ReasonSharpException("revision: empty; expected a branch, tag or commit");
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
