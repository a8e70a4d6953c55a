using System.Collections.Concurrent;
using ReasonSharp.Reporting;

namespace ReasonSharp.Hub;

/// <summary>
/// Where a model or dataset path is accepted, a Hub id (`org/name` that names nothing on disk) becomes the folder of
/// its snapshot in the cache, downloaded when absent. Local paths pass through unchanged. Each id is resolved once per
/// process (one revision request, then only missing files are fetched).
/// </summary>
public static class HubPaths
{
    static readonly ConcurrentDictionary<string, string> Resolved = new();

    /// <summary>The settings used for resolution; null: read from the environment each time.</summary>
    public static HubSettings? Settings { get; set; }

    /// <summary>Where progress of a download made while resolving goes (the console by default).</summary>
    public static ProgressDisplay? Progress { get; set; }

    /// <summary>The files a model folder needs (weights, config, tokenizer, chat template); no other formats.</summary>
    public static readonly IReadOnlyList<string> ModelFiles =
        ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken", "*.md"];

    /// <summary>A model folder for <paramref name="pathOrId"/>: the path itself, or the id's Hub snapshot.</summary>
    public static string Model(string pathOrId) =>
        IsHubId(pathOrId) ? Resolve(new HubRepo(pathOrId, HubRepoType.Model), ModelFiles) : pathOrId;

    /// <summary>
    /// `org/name` that names nothing on disk, and whose `org` is no local folder either: `runs/sft-tiny` beside an
    /// existing `runs/` is a missing local folder (its own error), not a Hub id.
    /// </summary>
    public static bool IsHubId(string? pathOrId) =>
        pathOrId is not null && HubRepo.LooksLikeId(pathOrId) && !Directory.Exists(pathOrId[..pathOrId.IndexOf('/')]);

    /// <summary>A dataset file or folder for <paramref name="pathOrId"/>; for an id with <paramref name="config"/>,
    /// only that configuration's folder (when the repository has one) and README.md are fetched.</summary>
    public static string Dataset(string pathOrId, string? config = null)
    {
        if (!IsHubId(pathOrId)) return pathOrId;
        IReadOnlyList<string> include = config is { Length: > 0 } ? [$"{config}/*", "README.md"] : [];
        try { return Resolve(new HubRepo(pathOrId, HubRepoType.Dataset), include); }
        catch (HubException e) when (e.Kind == HubErrorKind.FileNotFound && include.Count > 0)
        {
            return Resolve(new HubRepo(pathOrId, HubRepoType.Dataset), []);
        }
    }

    static string Resolve(HubRepo repo, IReadOnlyList<string> include)
    {
        var settings = Settings ?? HubSettings.FromEnvironment();
        var key = $"{settings.Endpoint}|{settings.CacheDir}|{repo.CacheFolderName}|{string.Join(',', include)}";
        if (Resolved.TryGetValue(key, out var folder) && Directory.Exists(folder)) return folder;
        var progress = Progress ?? ProgressDisplay.ForConsole(false);
        var downloader = new HubDownloader(settings, progress, Console.Error.WriteLine);
        try { folder = downloader.Download(new HubDownloadRequest(repo) { Include = include }).Folder; }
        catch (HubException e)
            when (e.Kind is HubErrorKind.RepoNotFound or HubErrorKind.Network or HubErrorKind.Offline)
        {
            // The id may have been meant as a local path: say both.
            throw new HubException(e.Kind,
                $"'{repo.Id}' is no local file or folder, and as a Hub {repo.TypeName} id: {e.Message}", e);
        }
        Resolved[key] = folder;
        return folder;
    }

    /// <summary>Forgets what was resolved in this process (tests).</summary>
    public static void Reset() => Resolved.Clear();
}
