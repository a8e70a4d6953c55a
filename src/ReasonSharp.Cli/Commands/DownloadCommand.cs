using System.CommandLine;
using ReasonSharp.Hub;
using ReasonSharp.Jobs;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason download REPO_ID [--revision R] [--repo-type model|dataset] [--include GLOB…]
/// [--local-dir DIR]`.</summary>
public static class DownloadCommand
{
    public static Command Create()
    {
        var repoId = new Argument<string>("REPO_ID")
        {
            Description = "A Hub repository, e.g. Qwen/Qwen2.5-0.5B-Instruct.",
        };
        var revision = new Option<string>("--revision")
        {
            Description = "Branch, tag or commit.", DefaultValueFactory = _ => "main",
        };
        var repoType = new Option<string>("--repo-type")
        {
            Description = "model or dataset.", DefaultValueFactory = _ => "model",
        };
        repoType.AcceptOnlyFromAmong("model", "dataset");
        var include = new Option<string[]>("--include")
        {
            Description = "Only files matching these glob patterns (e.g. \"*.json\" \"*.safetensors\"); default: all.",
            AllowMultipleArgumentsPerToken = true,
        };
        var localDir = new Option<string?>("--local-dir") { Description = "Also copy the files into this folder." };
        var command = new Command("download",
            "Download a model or dataset from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN) into its cache (HF_HOME, " +
            "HF_HUB_CACHE): files in parallel, partial files resumed, LFS files checked by sha256. Prints the folder.")
        {
            repoId, revision, repoType, include, localDir,
        };
        var job = new JobCli("download", recipe: false);
        job.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = job.Bind<DownloadJobOptions>(parse, o => o with
            {
                RepoId = parse.GetValue(repoId)!,
                Revision = parse.GetValue(revision)!,
                RepoType = parse.GetValue(repoType)!,
                Include = parse.GetValue(include) ?? [],
                LocalDir = parse.GetValue(localDir),
            });
            return await Task.Run(() => job.Run(parse, options, done =>
            {
                var result = (HubDownloadResult)done.Details!;
                Console.Error.WriteLine($"{options.RepoId} at {result.Commit[..Math.Min(12, result.Commit.Length)]}: " +
                                        $"{result.Files.Count} file(s), {result.FilesDownloaded} downloaded" +
                                        (result.FromCacheOnly ? " (offline: from the cache)" : ""));
                Console.WriteLine(result.Folder);
            }, cancellationToken), cancellationToken);
        });
        return command;
    }
}
