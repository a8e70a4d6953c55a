using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using ReasonSharp.Reporting;

namespace ReasonSharp.Hub;

/// <summary>What to download: a repository at a revision, the files matching <see cref="Include"/> (all when empty),
/// and a folder to copy them into besides the cache.</summary>
public sealed record HubDownloadRequest(HubRepo Repo)
{
    public string Revision { get; init; } = "main";
    public IReadOnlyList<string> Include { get; init; } = [];
    public string? LocalDir { get; init; }
}

/// <summary>A finished download: the snapshot folder (or the local folder), its commit, and what was fetched.</summary>
public sealed record HubDownloadResult(string Folder, string Commit, IReadOnlyList<string> Files, int FilesDownloaded,
    long BytesDownloaded, bool FromCacheOnly);

/// <summary>
/// Downloads a repository snapshot into huggingface_hub's cache: files in parallel with one progress bar (bytes, rate,
/// ETA), each into `blobs/{etag}.incomplete` resumed with a Range request, LFS files checked against their sha256 etag,
/// renamed into `blobs/{etag}` only when whole and right, then linked from `snapshots/{commit}/{path}`.
/// </summary>
public sealed class HubDownloader(HubSettings settings, ProgressDisplay? progress = null, Action<string>? log = null)
{
    readonly ConcurrentDictionary<string, SemaphoreSlim> _blobLocks = new();
    long _doneBytes;
    bool _finished;

    public HubDownloadResult Download(HubDownloadRequest request, CancellationToken ct = default) =>
        DownloadAsync(request, ct).GetAwaiter().GetResult();

    public async Task<HubDownloadResult> DownloadAsync(HubDownloadRequest request, CancellationToken ct = default)
    {
        var repo = request.Repo;
        var cache = new HubCache(settings.CacheDir, repo);
        var wanted = HubGlob.Matcher(request.Include);
        if (settings.Offline) return FromCache(request, cache, wanted, "HF_HUB_OFFLINE is set");

        using var client = new HubClient(settings);
        HubRevision revision;
        try { revision = await client.RevisionAsync(repo, request.Revision, ct); }
        catch (HubException e) when (e.Kind == HubErrorKind.Network && cache.CommitOf(request.Revision) is not null)
        {
            log?.Invoke($"warning: {e.Message}; using the cached snapshot");
            return FromCache(request, cache, wanted, "the Hub cannot be reached");
        }
        var commit = revision.Sha;
        var files = revision.Files.Where(wanted).ToList();
        if (files.Count == 0)
            throw new HubException(HubErrorKind.FileNotFound, request.Include.Count > 0
                ? $"{repo}: no file matches --include {string.Join(' ', request.Include)} at revision " +
                  $"'{request.Revision}' (the repository has {revision.Files.Count} files)"
                : $"{repo}: the repository has no files at revision '{request.Revision}'");

        var missing = files.Where(f => !cache.HasFile(commit, f)).ToList();
        var infos = new ConcurrentBag<HubFileInfo>();
        await Parallel.ForEachAsync(missing, Options(ct), async (path, token) =>
            infos.Add(await client.FileInfoAsync(repo, commit, path, token)));
        var toFetch = infos.Where(i => !File.Exists(cache.BlobPath(i.Etag)))
            .OrderBy(i => i.Path, StringComparer.Ordinal).ToList();
        long total = toFetch.Sum(i => i.Size ?? 0);
        _doneBytes = 0;
        _finished = false;
        var clock = Stopwatch.StartNew();
        using (var ticker = progress is null ? null : new Timer(_ => Report(total, clock, $"{repo}"), null, 250, 250))
        {
            await Parallel.ForEachAsync(toFetch, Options(ct), async (file, token) =>
                await FetchBlobAsync(client, repo, cache, file, token));
        }
        if (progress is not null)
            lock (progress)
            {
                Report(total, clock, $"{repo}");
                _finished = true; // a timer tick still in flight draws nothing after this
                progress.Finish();
            }
        foreach (var info in infos) cache.Link(commit, info.Path, info.Etag);
        cache.WriteRef(request.Revision, commit);
        if (toFetch.Count > 0)
            log?.Invoke($"{repo}: downloaded {toFetch.Count} file(s), {ProgressDisplay.FormatBytes(_doneBytes)} in " +
                        $"{clock.Elapsed.TotalSeconds:0.0} s");
        var folder = request.LocalDir is { } local
            ? CopyToLocalDir(cache, commit, files, local)
            : cache.SnapshotFolder(commit);
        return new HubDownloadResult(folder, commit, files, toFetch.Count, _doneBytes, FromCacheOnly: false);
    }

    ParallelOptions Options(CancellationToken ct) =>
        new() { MaxDegreeOfParallelism = Math.Max(1, settings.MaxWorkers), CancellationToken = ct };

    void Report(long total, Stopwatch clock, string label)
    {
        if (progress is null) return;
        long done = Interlocked.Read(ref _doneBytes);
        double rate = done / Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
        var eta = rate > 0 && total > done ? TimeSpan.FromSeconds((total - done) / rate) : TimeSpan.Zero;
        lock (progress)
            if (!_finished) progress.UpdateTransfer(label, done, total, rate, eta);
    }

    /// <summary>The cached snapshot of the revision, without the network; an error when it is not all there.</summary>
    HubDownloadResult FromCache(HubDownloadRequest request, HubCache cache, Func<string, bool> wanted, string why)
    {
        var commit = cache.CommitOf(request.Revision) ?? throw new HubException(HubErrorKind.Offline,
            $"{request.Repo}: revision '{request.Revision}' is not in the cache ({settings.CacheDir}) and {why}; " +
            "download it once with network access");
        var snapshot = cache.SnapshotFolder(commit);
        var files = Directory.Exists(snapshot)
            ? Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(snapshot, f).Replace(Path.DirectorySeparatorChar, '/')).Where(wanted)
                .Order(StringComparer.Ordinal).ToList()
            : [];
        if (files.Count == 0)
            throw new HubException(HubErrorKind.Offline,
                $"{request.Repo}: no matching file of revision '{request.Revision}' is in the cache and {why}");
        var folder = request.LocalDir is { } local ? CopyToLocalDir(cache, commit, files, local) : snapshot;
        return new HubDownloadResult(folder, commit, files, 0, 0, FromCacheOnly: true);
    }

    /// <summary>
    /// Fetches one blob: resumes `blobs/{etag}.incomplete` from its length with a Range request (starting over when the
    /// server sends the whole file), checks the size and, for LFS files, the sha256, then renames it into place.
    /// </summary>
    async Task FetchBlobAsync(HubClient client, HubRepo repo, HubCache cache, HubFileInfo file, CancellationToken ct)
    {
        var gate = _blobLocks.GetOrAdd(file.Etag, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            var blob = cache.BlobPath(file.Etag);
            if (File.Exists(blob)) return;
            var incomplete = cache.IncompletePath(file.Etag);
            Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!);
            long have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
            if (file.Size is { } size && have > size) { File.Delete(incomplete); have = 0; }
            if (file.Size is { } whole && have == whole && have > 0)
                Interlocked.Add(ref _doneBytes, have);
            else
                await ReceiveAsync(client, repo, file, incomplete, have, ct);
            await VerifyAsync(repo, file, incomplete, ct);
            File.Move(incomplete, blob, overwrite: true);
        }
        finally { gate.Release(); }
    }

    async Task ReceiveAsync(HubClient client, HubRepo repo, HubFileInfo file, string incomplete, long have,
        CancellationToken ct)
    {
        using var response = await client.GetBytesAsync(repo, file, have, ct);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The partial file cannot be continued: start it again.
            File.Delete(incomplete);
            await ReceiveAsync(client, repo, file, incomplete, 0, ct);
            return;
        }
        bool resumed = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
        if (have > 0 && !resumed) have = 0;
        Interlocked.Add(ref _doneBytes, have);
        try
        {
            await using var source = await response.Content.ReadAsStreamAsync(ct);
            await using var target = new FileStream(incomplete, resumed ? FileMode.Append : FileMode.Create,
                FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
            var buffer = new byte[1 << 20];
            int read;
            while ((read = await source.ReadAsync(buffer, ct)) > 0)
            {
                await target.WriteAsync(buffer.AsMemory(0, read), ct);
                Interlocked.Add(ref _doneBytes, read);
            }
            await target.FlushAsync(ct);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !DiskFullException.IsDiskFull(e))
        {
            throw client.NetworkError(repo, file.Path, e);
        }
    }

    static long Length(string path)
    {
        using var file = File.OpenRead(path);
        return file.Length;
    }

    static async Task VerifyAsync(HubRepo repo, HubFileInfo file, string incomplete, CancellationToken ct)
    {
        long length = new FileInfo(incomplete).Length;
        if (file.Size is { } size && length != size)
            throw new HubException(HubErrorKind.Network,
                $"{repo}: {file.Path}: the transfer ended after {length} of {size} bytes; run again to resume it");
        if (!file.IsSha256) return;
        string actual;
        await using (var stream = new FileStream(incomplete, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20,
                         useAsync: true))
            actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
        if (string.Equals(actual, file.Etag, StringComparison.OrdinalIgnoreCase)) return;
        File.Delete(incomplete);
        throw new HubException(HubErrorKind.Integrity,
            $"{repo}: {file.Path}: sha256 {actual} does not match the Hub's {file.Etag}; the corrupt download was " +
            "deleted, run again to fetch it anew");
    }

    /// <summary>
    /// `--local-dir`: the snapshot's files copied (atomically) into a plain folder, with huggingface_hub's metadata
    /// file per path under `.cache/huggingface/download/` (commit, etag, time) so an unchanged file is not copied
    /// again.
    /// </summary>
    static string CopyToLocalDir(HubCache cache, string commit, IReadOnlyList<string> files, string localDir)
    {
        foreach (var path in files)
        {
            var source = cache.SnapshotPath(commit, path);
            var target = Path.Combine(localDir, path.Replace('/', Path.DirectorySeparatorChar));
            var etag = new FileInfo(source).LinkTarget is { } link ? Path.GetFileName(link) : "";
            var metadata = Path.Combine(localDir, ".cache", "huggingface", "download",
                path.Replace('/', Path.DirectorySeparatorChar) + ".metadata");
            if (File.Exists(target) && File.Exists(metadata)
                && File.ReadAllLines(metadata) is [var c, var e, ..] && c == commit && e == etag
                && new FileInfo(target).Length == Length(source))
                continue;
            AtomicFile.Copy(source, target);
            var seconds = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
            var time = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            AtomicFile.WriteAllText(metadata, $"{commit}\n{etag}\n{time}\n");
        }
        return localDir;
    }
}
