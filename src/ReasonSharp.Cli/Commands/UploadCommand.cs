using System.CommandLine;
using ReasonSharp.Hub;
using ReasonSharp.Jobs;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason upload DIR REPO_ID [--repo-type] [--revision] [--commit-message] [--private]
/// [--exclude GLOB…]`.</summary>
public static class UploadCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("DIR") { Description = "The folder to publish (e.g. a trained model)." };
        var repoId = new Argument<string>("REPO_ID")
        {
            Description = "The Hub repository, org/name; created when missing.",
        };
        var repoType = new Option<string>("--repo-type")
        {
            Description = "model or dataset.", DefaultValueFactory = _ => "model",
        };
        repoType.AcceptOnlyFromAmong("model", "dataset");
        var revision = new Option<string>("--revision")
        {
            Description = "The branch to commit to.", DefaultValueFactory = _ => "main",
        };
        var message = new Option<string>("--commit-message")
        {
            Description = "The commit's summary.", DefaultValueFactory = _ => "Upload folder using ReasonSharp",
        };
        var isPrivate = new Option<bool>("--private") { Description = "Create the repository as private." };
        var exclude = new Option<string[]>("--exclude")
        {
            Description = "Leave out files matching these glob patterns (e.g. \"checkpoint-*\").",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("upload",
            "Publish a folder to the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN) as one commit: large files through " +
            "Git LFS, files the Hub already has left out.")
        {
            folder, repoId, repoType, revision, message, isPrivate, exclude,
        };
        var job = new JobCli("upload", recipe: false);
        job.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = job.Bind<UploadJobOptions>(parse, o => o with
            {
                Folder = parse.GetValue(folder)!,
                RepoId = parse.GetValue(repoId)!,
                RepoType = parse.GetValue(repoType)!,
                Revision = parse.GetValue(revision)!,
                CommitMessage = parse.GetValue(message)!,
                Private = parse.GetValue(isPrivate),
                Exclude = parse.GetValue(exclude) ?? [],
            });
            return await Task.Run(() => job.Run(parse, options, done =>
            {
                var result = (HubUploadResult)done.Details!;
                Console.WriteLine(result.CommitUrl is { } url
                    ? $"committed {result.Files.Count} file(s) ({result.LfsFiles} LFS, " +
                      $"{result.Unchanged} unchanged): {url}"
                    : $"nothing to commit: all {result.Unchanged} file(s) are already on the Hub");
            }, cancellationToken), cancellationToken);
        });
        return command;
    }
}
