using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Reporting;

namespace ReasonSharp.Hub;

/// <summary>What to publish: a local folder's files (less <see cref="Ignore"/>) as one commit on a revision.</summary>
public sealed record HubUploadRequest(HubRepo Repo, string Folder)
{
    public string Revision { get; init; } = "main";
    public string CommitMessage { get; init; } = "Upload folder using ReasonSharp";
    public string CommitDescription { get; init; } = "";
    /// <summary>Create the repository first when it does not exist.</summary>
    public bool CreateRepo { get; init; } = true;
    public bool Private { get; init; }
    /// <summary>Glob patterns of files not to upload (fnmatch, relative to the folder).</summary>
    public IReadOnlyList<string> Ignore { get; init; } = [];
}

/// <summary>A commit made (or none, when every file was already there): its id and URL, and what went where.</summary>
public sealed record HubUploadResult(string? CommitOid, string? CommitUrl, IReadOnlyList<string> Files, int LfsFiles,
    int RegularFiles, int Unchanged);

/// <summary>
/// Publishes a folder through the Hub's commit API as huggingface_hub does: create the repository (409 when it exists
/// is fine), ask `preupload` which files go to LFS, upload LFS files through the Git LFS batch API (basic or multipart
/// transfer, then verify), and make one commit: NDJSON with a header line, base64 regular files and LFS pointers.
/// Files whose content the Hub already has at the revision are left out; with nothing changed no commit is made.
/// </summary>
public sealed class HubUploader(HubSettings settings, Action<string>? log = null)
{
    /// <summary>Always left out, as huggingface_hub's upload_folder does.</summary>
    public static readonly IReadOnlyList<string> DefaultIgnore = [".git/*", ".cache/huggingface/*", "*/.git/*"];

    const string LfsMediaType = "application/vnd.git-lfs+json";

    sealed record LocalFile(string Path, string FullPath, long Size, string Sha256, string GitSha, byte[] Sample);

    public HubUploadResult Upload(HubUploadRequest request, CancellationToken ct = default) =>
        UploadAsync(request, ct).GetAwaiter().GetResult();

    public async Task<HubUploadResult> UploadAsync(HubUploadRequest request, CancellationToken ct = default)
    {
        var repo = request.Repo;
        if (settings.Token is null)
            throw new HubException(HubErrorKind.Gated,
                $"{repo}: uploading needs a token with write access; set HF_TOKEN " +
                "(or log in with `huggingface-cli login`)");
        if (!Directory.Exists(request.Folder))
            throw new ReasonSharpException($"{request.Folder}: folder not found; expected the folder to upload");
        var files = LocalFiles(request.Folder, request.Ignore);
        if (files.Count == 0) throw new ReasonSharpException($"{request.Folder}: no files to upload");

        using var client = new HubClient(settings);
        if (request.CreateRepo) await CreateRepoAsync(client, repo, request.Private, ct);
        var modes = await PreuploadAsync(client, repo, request.Revision, files, ct);
        var changed = files.Where(f => !modes[f.Path].Unchanged && !modes[f.Path].Ignored).ToList();
        int unchanged = files.Count - changed.Count;
        if (changed.Count == 0)
        {
            log?.Invoke($"{repo}: every file is already on the Hub at '{request.Revision}'; no commit made");
            return new HubUploadResult(null, null, files.Select(f => f.Path).ToList(), 0, 0, unchanged);
        }
        var lfs = changed.Where(f => modes[f.Path].Lfs).ToList();
        if (lfs.Count > 0) await UploadLfsAsync(client, repo, request.Revision, lfs, ct);
        var (oid, url) = await CommitAsync(client, request, changed, modes, ct);
        log?.Invoke($"{repo}: committed {changed.Count} file(s) ({lfs.Count} LFS, " +
                    $"{ProgressDisplay.FormatBytes(changed.Sum(f => f.Size))}) as {oid}");
        return new HubUploadResult(oid, url, changed.Select(f => f.Path).ToList(), lfs.Count, changed.Count - lfs.Count,
            unchanged);
    }

    static List<LocalFile> LocalFiles(string folder, IReadOnlyList<string> ignore)
    {
        var skip = HubGlob.Matcher([.. DefaultIgnore, .. ignore]);
        var files = new List<LocalFile>();
        var all = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal);
        foreach (var full in all)
        {
            var path = Path.GetRelativePath(folder, full).Replace(Path.DirectorySeparatorChar, '/');
            if (skip(path)) continue;
            using var stream = File.OpenRead(full);
            var sample = new byte[Math.Min(512, stream.Length)];
            stream.ReadExactly(sample);
            stream.Position = 0;
            var sha256 = Convert.ToHexStringLower(SHA256.HashData(stream));
            stream.Position = 0;
            using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
            sha1.AppendData(Encoding.ASCII.GetBytes($"blob {stream.Length}\0"));
            var buffer = new byte[1 << 20];
            int read;
            while ((read = stream.Read(buffer)) > 0) sha1.AppendData(buffer, 0, read);
            var gitSha = Convert.ToHexStringLower(sha1.GetHashAndReset());
            files.Add(new LocalFile(path, full, stream.Length, sha256, gitSha, sample));
        }
        return files;
    }

    async Task CreateRepoAsync(HubClient client, HubRepo repo, bool isPrivate, CancellationToken ct)
    {
        var slash = repo.Id.IndexOf('/');
        var body = new JsonObject { ["name"] = slash < 0 ? repo.Id : repo.Id[(slash + 1)..], ["private"] = isPrivate };
        if (slash > 0) body["organization"] = repo.Id[..slash];
        if (repo.Type == HubRepoType.Dataset) body["type"] = "dataset";
        using var response = await PostJsonAsync(client, client.ApiUrl("api/repos/create"), body, repo, ct);
        if (response.StatusCode == HttpStatusCode.Conflict) return; // it exists
        await client.ThrowIfFailedAsync(response, repo, null, null);
        log?.Invoke($"{repo}: created");
    }

    sealed record Mode(bool Lfs, bool Ignored, bool Unchanged);

    async Task<Dictionary<string, Mode>> PreuploadAsync(HubClient client, HubRepo repo, string revision,
        List<LocalFile> files, CancellationToken ct)
    {
        var modes = new Dictionary<string, Mode>();
        foreach (var chunk in files.Chunk(256))
        {
            var body = new JsonObject
            {
                ["files"] = new JsonArray([.. chunk.Select(f => (JsonNode)new JsonObject
                {
                    ["path"] = f.Path, ["sample"] = Convert.ToBase64String(f.Sample), ["size"] = f.Size,
                })]),
            };
            var url = client.ApiUrl($"api/{repo.ApiCollection}/{repo.Id}/preupload/{Uri.EscapeDataString(revision)}");
            using var response = await PostJsonAsync(client, url, body, repo, ct);
            await client.ThrowIfFailedAsync(response, repo, null, revision);
            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))?["files"]?.AsArray()
                ?? throw new HubException(HubErrorKind.Rejected, $"{repo}: the preupload answer has no files");
            foreach (var entry in answer)
            {
                var path = entry!["path"]!.GetValue<string>();
                var lfs = entry["uploadMode"]?.GetValue<string>() == "lfs";
                var ignored = entry["shouldIgnore"]?.GetValue<bool>() ?? false;
                var local = chunk.First(f => f.Path == path);
                var remote = entry["oid"]?.GetValue<string>();
                var same = remote is not null && remote == (lfs ? local.Sha256 : local.GitSha);
                modes[path] = new Mode(lfs, ignored, same);
            }
        }
        foreach (var file in files)
            if (!modes.ContainsKey(file.Path))
                throw new HubException(HubErrorKind.Rejected,
                    $"{repo}: the preupload answer does not mention {file.Path}");
        return modes;
    }

    async Task UploadLfsAsync(HubClient client, HubRepo repo, string revision, List<LocalFile> files,
        CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["operation"] = "upload",
            ["transfers"] = new JsonArray("basic", "multipart"),
            ["objects"] = new JsonArray([
                .. files.Select(f => (JsonNode)new JsonObject { ["oid"] = f.Sha256, ["size"] = f.Size }),
            ]),
            ["hash_algo"] = "sha256",
            ["ref"] = new JsonObject { ["name"] = revision },
        };
        var url = client.ApiUrl($"{repo.UrlPrefix}{repo.Id}.git/info/lfs/objects/batch");
        using var response = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = LfsContent(body),
            Headers = { Accept = { new MediaTypeWithQualityHeaderValue(LfsMediaType) } },
        }, repo, null, revision, followRedirects: true, timeout: TimeSpan.FromMinutes(1), ct);
        await client.ThrowIfFailedAsync(response, repo, null, revision);
        var objects = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))?["objects"]?.AsArray()
            ?? throw new HubException(HubErrorKind.Rejected, $"{repo}: the LFS batch answer has no objects");
        foreach (var entry in objects)
        {
            var oid = entry!["oid"]!.GetValue<string>();
            var file = files.First(f => f.Sha256 == oid);
            if (entry["error"] is { } error)
            {
                var why = error["message"]?.GetValue<string>() ?? error.ToJsonString();
                throw new HubException(HubErrorKind.Rejected,
                    $"{repo}: {file.Path}: the LFS server refused the upload: {why}");
            }
            if (entry["actions"] is not JsonObject actions) continue; // the server has the object already
            if (actions["upload"] is JsonObject upload) await TransferAsync(client, repo, file, upload, ct);
            if (actions["verify"] is JsonObject verify)
            {
                var href = verify["href"]!.GetValue<string>();
                var body2 = new JsonObject { ["oid"] = oid, ["size"] = file.Size };
                using var verified = await client.SendAsync(
                    () => WithHeaders(new HttpRequestMessage(HttpMethod.Post, href) { Content = LfsContent(body2) },
                        verify["header"]),
                    repo, file.Path, revision, followRedirects: true, timeout: TimeSpan.FromMinutes(1), ct);
                await client.ThrowIfFailedAsync(verified, repo, file.Path, revision);
            }
        }
    }

    /// <summary>One PUT of the whole file (basic), or a PUT per part and a completion POST (multipart: the header
    /// names a chunk_size and one URL per part number).</summary>
    async Task TransferAsync(HubClient client, HubRepo repo, LocalFile file, JsonObject upload, CancellationToken ct)
    {
        var href = upload["href"]!.GetValue<string>();
        var header = upload["header"] as JsonObject;
        if (header?["chunk_size"] is { } chunkNode)
        {
            long chunkSize = long.Parse(chunkNode.ToString(), System.Globalization.CultureInfo.InvariantCulture);
            var parts = header.Where(kv => int.TryParse(kv.Key, out _)).OrderBy(kv => int.Parse(kv.Key)).ToList();
            if ((file.Size + chunkSize - 1) / chunkSize != parts.Count)
                throw new HubException(HubErrorKind.Rejected,
                    $"{repo}: {file.Path}: the LFS server gave {parts.Count} part URLs for {file.Size} bytes " +
                    $"in chunks of {chunkSize}");
            var etags = new JsonArray();
            foreach (var (number, partUrl) in parts)
            {
                long offset = (int.Parse(number) - 1) * chunkSize;
                int length = (int)Math.Min(chunkSize, file.Size - offset);
                var bytes = new byte[length];
                await using (var stream = File.OpenRead(file.FullPath))
                {
                    stream.Position = offset;
                    await stream.ReadExactlyAsync(bytes, ct);
                }
                var target = partUrl!.GetValue<string>();
                using var put = await client.SendAsync(
                    () => new HttpRequestMessage(HttpMethod.Put, target) { Content = new ByteArrayContent(bytes) },
                    repo, file.Path, null, followRedirects: true, timeout: null, ct);
                await client.ThrowIfFailedAsync(put, repo, file.Path, null);
                var etag = put.Headers.ETag?.Tag ?? throw new HubException(HubErrorKind.Rejected,
                    $"{repo}: {file.Path}: part {number} was stored without an ETag");
                etags.Add(new JsonObject { ["partNumber"] = int.Parse(number), ["etag"] = etag });
            }
            using var done = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Post, href)
            {
                Content = LfsContent(new JsonObject { ["oid"] = file.Sha256, ["parts"] = etags.DeepClone() }),
            }, repo, file.Path, null, followRedirects: true, timeout: TimeSpan.FromMinutes(5), ct);
            await client.ThrowIfFailedAsync(done, repo, file.Path, null);
            return;
        }
        using var response = await client.SendAsync(() => WithHeaders(new HttpRequestMessage(HttpMethod.Put, href)
        {
            Content = new StreamContent(File.OpenRead(file.FullPath), 1 << 20),
        }, header), repo, file.Path, null, followRedirects: true, timeout: null, ct);
        await client.ThrowIfFailedAsync(response, repo, file.Path, null);
    }

    static async Task<(string? Oid, string? Url)> CommitAsync(HubClient client, HubUploadRequest request,
        List<LocalFile> files, Dictionary<string, Mode> modes, CancellationToken ct)
    {
        var ndjson = new StringBuilder();
        void Line(string key, JsonObject value) =>
            ndjson.Append(new JsonObject { ["key"] = key, ["value"] = value }.ToJsonString()).Append('\n');
        Line("header", new JsonObject
        {
            ["summary"] = request.CommitMessage, ["description"] = request.CommitDescription,
        });
        foreach (var file in files)
        {
            if (modes[file.Path].Lfs)
                Line("lfsFile", new JsonObject { ["path"] = file.Path, ["algo"] = "sha256", ["oid"] = file.Sha256 });
            else
                Line("file", new JsonObject
                {
                    ["content"] = Convert.ToBase64String(await File.ReadAllBytesAsync(file.FullPath, ct)),
                    ["path"] = file.Path, ["encoding"] = "base64",
                });
        }
        var repo = request.Repo;
        var url = client.ApiUrl($"api/{repo.ApiCollection}/{repo.Id}/commit/{Uri.EscapeDataString(request.Revision)}");
        var text = ndjson.ToString();
        using var response = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(text, new UTF8Encoding(false),
                new MediaTypeHeaderValue("application/x-ndjson")),
        }, repo, null, request.Revision, followRedirects: true, timeout: TimeSpan.FromMinutes(5), ct);
        await client.ThrowIfFailedAsync(response, repo, null, request.Revision);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct));
        return (answer?["commitOid"]?.GetValue<string>(), answer?["commitUrl"]?.GetValue<string>());
    }

    static Task<HttpResponseMessage> PostJsonAsync(HubClient client, Uri url, JsonObject body, HubRepo repo,
        CancellationToken ct)
    {
        var text = body.ToJsonString();
        return client.SendAsync(() => new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(text, new UTF8Encoding(false), new MediaTypeHeaderValue("application/json")),
        }, repo, null, null, followRedirects: true, timeout: TimeSpan.FromMinutes(1), ct);
    }

    static StringContent LfsContent(JsonNode body) =>
        new(body.ToJsonString(), new UTF8Encoding(false), new MediaTypeHeaderValue(LfsMediaType));

    /// <summary>The headers an LFS action names (e.g. a presigned URL's), set on the request or its content.</summary>
    static HttpRequestMessage WithHeaders(HttpRequestMessage request, JsonNode? headers)
    {
        if (headers is not JsonObject map) return request;
        foreach (var (name, value) in map)
        {
            var text = value?.ToString() ?? "";
            if (!request.Headers.TryAddWithoutValidation(name, text))
                request.Content?.Headers.TryAddWithoutValidation(name, text);
        }
        return request;
    }
}
