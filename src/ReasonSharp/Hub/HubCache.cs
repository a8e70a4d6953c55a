namespace ReasonSharp.Hub;

/// <summary>
/// huggingface_hub's cache layout for one repository: `{cache}/models--org--name/blobs/{etag}` holds each file's bytes
/// once, `snapshots/{commit}/{path}` is a relative symbolic link into blobs, and `refs/{revision}` holds the commit a
/// branch or tag pointed at. A blob is written as `blobs/{etag}.incomplete` and renamed when whole.
/// </summary>
public sealed class HubCache(string cacheDir, HubRepo repo)
{
    public string RepoFolder { get; } = Path.Combine(cacheDir, repo.CacheFolderName);

    public string BlobPath(string etag) => Path.Combine(RepoFolder, "blobs", etag);

    public string IncompletePath(string etag) => BlobPath(etag) + ".incomplete";

    public string SnapshotFolder(string commit) => Path.Combine(RepoFolder, "snapshots", commit);

    public string SnapshotPath(string commit, string path) =>
        Path.Combine(SnapshotFolder(commit), path.Replace('/', Path.DirectorySeparatorChar));

    public string RefPath(string revision) =>
        Path.Combine(RepoFolder, "refs", revision.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>The commit `refs/{revision}` records, a commit hash given as the revision, or null.</summary>
    public string? CommitOf(string revision)
    {
        var refPath = RefPath(revision);
        if (File.Exists(refPath)) return File.ReadAllText(refPath).Trim();
        return IsCommitHash(revision) && Directory.Exists(SnapshotFolder(revision)) ? revision : null;
    }

    public void WriteRef(string revision, string commit)
    {
        if (revision == commit) return;
        var path = RefPath(revision);
        if (File.Exists(path) && File.ReadAllText(path).Trim() == commit) return;
        AtomicFile.WriteAllText(path, commit);
    }

    /// <summary>True when the snapshot has <paramref name="path"/> and the blob it points at is there.</summary>
    public bool HasFile(string commit, string path) => File.Exists(SnapshotPath(commit, path));

    /// <summary>
    /// Points `snapshots/{commit}/{path}` at `blobs/{etag}` with a relative link, made under a temporary name and
    /// renamed into place; where links cannot be made the blob is copied, as huggingface_hub does.
    /// </summary>
    public void Link(string commit, string path, string etag)
    {
        var pointer = SnapshotPath(commit, path);
        var folder = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(folder);
        var blob = BlobPath(etag);
        var temp = Path.Combine(folder, $".{Path.GetFileName(pointer)}.{Guid.NewGuid():N}.link");
        try
        {
            File.CreateSymbolicLink(temp, Path.GetRelativePath(folder, blob));
            File.Move(temp, pointer, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (File.Exists(temp) || new FileInfo(temp).LinkTarget is not null) File.Delete(temp);
            AtomicFile.Copy(blob, pointer);
        }
    }

    public static bool IsCommitHash(string revision) => revision.Length == 40 && revision.All(Uri.IsHexDigit);
}
