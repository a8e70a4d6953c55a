using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ReasonSharp.Tests.Hub;

/// <summary>
/// A Hugging Face Hub on loopback, with exactly the endpoints ReasonSharp uses: revision info with siblings, resolve
/// (LFS files redirect to a CDN-like path with X-Linked-Etag/X-Linked-Size; regular files answer with their git etag),
/// Range requests, 401 for gated repositories without the token, 404 with X-Error-Code; and the commit API (create,
/// preupload, LFS batch and upload, NDJSON commit). Every request is recorded.
/// </summary>
public sealed class FakeHub : IDisposable
{
    public sealed record Request(string Method, string Path, string? Range, string? Authorization);

    sealed class Repo
    {
        public bool Gated;
        public readonly Dictionary<string, string> Refs = new() { ["main"] = "" };
        public readonly Dictionary<string, Dictionary<string, byte[]>> Commits = new();
    }

    readonly HttpListener _listener = new();
    readonly ConcurrentDictionary<string, Repo> _repos = new();
    readonly ConcurrentDictionary<string, byte[]> _lfs = new();
    readonly Task _loop;

    public FakeHub()
    {
        for (int attempt = 0; ; attempt++)
        {
            var port = FreePort();
            Endpoint = $"http://127.0.0.1:{port}";
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add(Endpoint + "/");
            _listener.Prefixes.Add($"http://localhost:{port}/");
            CdnEndpoint = $"http://localhost:{port}";
            try { _listener.Start(); break; }
            catch (HttpListenerException) when (attempt < 5) { }
        }
        _loop = Task.Run(LoopAsync);
    }

    public string Endpoint { get; private set; } = "";
    /// <summary>Where LFS files redirect to: the same server under another host name, as a CDN is another
    /// host.</summary>
    public string CdnEndpoint { get; private set; } = "";
    /// <summary>The token gated repositories accept.</summary>
    public string Token { get; init; } = "hf_test_token";
    public ConcurrentQueue<Request> Requests { get; } = new();
    /// <summary>Files at or above this size are LFS files (the Hub's rule is 10 MB; tests use a smaller one).</summary>
    public long LfsThreshold { get; init; } = 1024;
    /// <summary>Paths whose CDN bytes are served corrupted (one byte flipped).</summary>
    public ConcurrentDictionary<string, bool> Corrupt { get; } = new();
    /// <summary>When set, a CDN answer stops after this many bytes and the connection drops (a lost network).</summary>
    public long? CutAfterBytes { get; set; }

    static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    static string Key(string type, string id) => $"{type}s/{id}";

    /// <summary>Publishes a folder's files as a new commit of `type/id` on main; returns the commit.</summary>
    public string Publish(string id, string folder, string type = "model", bool gated = false) =>
        Publish(id, Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(folder, f).Replace('\\', '/'), File.ReadAllBytes), type, gated);

    public string Publish(string id, IReadOnlyDictionary<string, byte[]> files, string type = "model",
        bool gated = false)
    {
        var repo = _repos.GetOrAdd(Key(type, id), _ => new Repo());
        repo.Gated = gated;
        var commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(
            id + string.Join("|", files.OrderBy(f => f.Key).Select(f => f.Key + GitSha(f.Value))) + Guid.NewGuid())));
        lock (repo)
        {
            repo.Commits[commit] = new Dictionary<string, byte[]>(files);
            repo.Refs["main"] = commit;
        }
        return commit;
    }

    public bool IsLfs(byte[] content) => content.Length >= LfsThreshold;

    /// <summary>The etag huggingface_hub stores a file under: sha256 for LFS files, the git blob sha1
    /// otherwise.</summary>
    public string EtagOf(byte[] content) => IsLfs(content) ? Sha256(content) : GitSha(content);

    public IReadOnlyDictionary<string, byte[]> Files(string id, string type = "model", string revision = "main")
    {
        var repo = _repos[Key(type, id)];
        lock (repo) return repo.Commits[repo.Refs.GetValueOrDefault(revision) ?? revision];
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string GitSha(byte[] content) => Convert.ToHexStringLower(SHA1.HashData(
        Encoding.ASCII.GetBytes($"blob {content.Length}\0").Concat(content).ToArray()));

    async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception e)
                when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var path = Uri.UnescapeDataString(request.Url!.AbsolutePath);
        Requests.Enqueue(
            new Request(request.HttpMethod, path, request.Headers["Range"], request.Headers["Authorization"]));
        try { await RouteAsync(request, response, path); }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException) { }
        finally
        {
            try { response.Close(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { }
        }
    }

    async Task RouteAsync(HttpListenerRequest request, HttpListenerResponse response, string path)
    {
        if (path.StartsWith("/cdn/", StringComparison.Ordinal))
        {
            await ServeCdnAsync(request, response, path[5..]);
            return;
        }
        if (request.HttpMethod is "POST" or "PUT") { await RouteWriteAsync(request, response, path); return; }
        if (path.StartsWith("/api/", StringComparison.Ordinal) && path.Contains("/revision/", StringComparison.Ordinal))
        {
            var rest = path[5..];
            var type = rest.StartsWith("datasets/", StringComparison.Ordinal) ? "dataset" : "model";
            rest = rest[(type.Length + 2)..];
            var at = rest.IndexOf("/revision/", StringComparison.Ordinal);
            var (repo, commit) = Find(response, type, rest[..at], rest[(at + 10)..], request);
            if (repo is null) return;
            var files = repo.Commits[commit!].Keys.Order(StringComparer.Ordinal)
                .Select(f => new JsonObject { ["rfilename"] = f });
            await WriteJsonAsync(response,
                new JsonObject { ["id"] = rest[..at], ["sha"] = commit, ["siblings"] = new JsonArray([.. files]) });
            return;
        }
        if (path.Contains("/resolve/", StringComparison.Ordinal))
        {
            var type = path.StartsWith("/datasets/", StringComparison.Ordinal) ? "dataset" : "model";
            var rest = type == "dataset" ? path[10..] : path[1..];
            var at = rest.IndexOf("/resolve/", StringComparison.Ordinal);
            var tail = rest[(at + 9)..];
            var slash = tail.IndexOf('/');
            var (repo, commit) = Find(response, type, rest[..at], tail[..slash], request);
            if (repo is null) return;
            var file = tail[(slash + 1)..];
            if (!repo.Commits[commit!].TryGetValue(file, out var content))
            {
                Error(response, 404, "EntryNotFound", $"{file} does not exist");
                return;
            }
            response.AddHeader("X-Repo-Commit", commit!);
            if (IsLfs(content))
            {
                var sha = Sha256(content);
                _lfs[sha] = content;
                Corrupt.TryGetValue(file, out var corrupt);
                response.StatusCode = 302;
                response.AddHeader("Location", $"{CdnEndpoint}/cdn/{sha}{(corrupt ? "?corrupt=1" : "")}");
                response.AddHeader("X-Linked-Etag", $"\"{sha}\"");
                response.AddHeader("X-Linked-Size", content.Length.ToString());
                var pointer = $"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {content.Length}\n";
                response.AddHeader("ETag", $"\"{GitSha(Encoding.UTF8.GetBytes(pointer))}\"");
                return;
            }
            response.AddHeader("ETag", $"\"{GitSha(content)}\"");
            await ServeBytesAsync(request, response, content);
            return;
        }
        Error(response, 404, null, $"no route for {request.HttpMethod} {path}");
    }

    /// <summary>LFS objects at or above this size are uploaded in parts of this size (multipart transfer).</summary>
    public long? MultipartChunk { get; init; }
    /// <summary>Commits made through the commit API: the NDJSON lines of each.</summary>
    public ConcurrentQueue<IReadOnlyList<JsonNode>> CommitPayloads { get; } = new();

    readonly ConcurrentDictionary<string, byte[]> _parts = new();

    async Task RouteWriteAsync(HttpListenerRequest request, HttpListenerResponse response, string path)
    {
        byte[] body;
        using (var buffer = new MemoryStream())
        {
            await request.InputStream.CopyToAsync(buffer);
            body = buffer.ToArray();
        }
        if (request.Headers["Authorization"] != $"Bearer {Token}")
        {
            Error(response, 401, null, "Invalid credentials");
            return;
        }
        if (path == "/api/repos/create")
        {
            var json = JsonNode.Parse(body)!;
            var id = (json["organization"]?.GetValue<string>() is { } org ? org + "/" : "")
                + json["name"]!.GetValue<string>();
            var type = json["type"]?.GetValue<string>() ?? "model";
            if (_repos.ContainsKey(Key(type, id)))
            {
                Error(response, 409, null, "You already created this repo");
                return;
            }
            Publish(id, new Dictionary<string, byte[]>
            {
                [".gitattributes"] = "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"u8.ToArray(),
            }, type);
            await WriteJsonAsync(response, new JsonObject { ["url"] = $"{Endpoint}/{id}" });
            return;
        }
        if (path.StartsWith("/lfs-part/", StringComparison.Ordinal))
        {
            _parts[path[10..]] = body;
            response.AddHeader("ETag", $"\"{Sha256(body)[..16]}\"");
            return;
        }
        if (path.StartsWith("/lfs-complete/", StringComparison.Ordinal))
        {
            var oid = path[14..];
            var parts = JsonNode.Parse(body)!["parts"]!.AsArray().OrderBy(p => p!["partNumber"]!.GetValue<int>())
                .SelectMany(p => _parts[$"{oid}/{p!["partNumber"]!.GetValue<int>()}"]).ToArray();
            if (Sha256(parts) != oid) { Error(response, 400, null, "assembled parts do not match the oid"); return; }
            _lfs[oid] = parts;
            return;
        }
        if (path.StartsWith("/lfs-upload/", StringComparison.Ordinal))
        {
            var oid = path[12..];
            if (Sha256(body) != oid) { Error(response, 400, null, "content does not match the oid"); return; }
            _lfs[oid] = body;
            return;
        }
        if (path == "/lfs-verify")
        {
            var oid = JsonNode.Parse(body)!["oid"]!.GetValue<string>();
            if (!_lfs.ContainsKey(oid)) Error(response, 404, null, "object not uploaded");
            return;
        }
        if (path.EndsWith(".git/info/lfs/objects/batch", StringComparison.Ordinal))
        {
            var objects = new JsonArray();
            foreach (var o in JsonNode.Parse(body)!["objects"]!.AsArray())
            {
                var oid = o!["oid"]!.GetValue<string>();
                long size = o["size"]!.GetValue<long>();
                var entry = new JsonObject { ["oid"] = oid, ["size"] = size };
                if (!_lfs.ContainsKey(oid))
                {
                    JsonObject upload;
                    if (MultipartChunk is { } chunk && size >= chunk)
                    {
                        var header = new JsonObject { ["chunk_size"] = chunk.ToString() };
                        for (int part = 1; (part - 1) * chunk < size; part++)
                            header[part.ToString()] = $"{Endpoint}/lfs-part/{oid}/{part}";
                        upload = new JsonObject { ["href"] = $"{Endpoint}/lfs-complete/{oid}", ["header"] = header };
                    }
                    else upload = new JsonObject { ["href"] = $"{Endpoint}/lfs-upload/{oid}" };
                    entry["actions"] = new JsonObject
                    {
                        ["upload"] = upload, ["verify"] = new JsonObject { ["href"] = $"{Endpoint}/lfs-verify" },
                    };
                }
                objects.Add(entry);
            }
            await WriteJsonAsync(response, new JsonObject { ["transfer"] = "basic", ["objects"] = objects });
            return;
        }
        var api = path.StartsWith("/api/datasets/", StringComparison.Ordinal) ? "dataset"
            : path.StartsWith("/api/models/", StringComparison.Ordinal) ? "model" : null;
        foreach (var verb in new[] { "/preupload/", "/commit/" })
        {
            var at = path.IndexOf(verb, StringComparison.Ordinal);
            if (api is null || at < 0) continue;
            var id = path[(api.Length + 7)..at];
            var revision = path[(at + verb.Length)..];
            var (repo, commit) = Find(response, api, id, revision, request);
            if (repo is null) return;
            var current = repo.Commits[commit!];
            if (verb == "/preupload/")
            {
                var files = new JsonArray();
                foreach (var f in JsonNode.Parse(body)!["files"]!.AsArray())
                {
                    var filePath = f!["path"]!.GetValue<string>();
                    bool lfs = f["size"]!.GetValue<long>() >= LfsThreshold;
                    var entry = new JsonObject
                    {
                        ["path"] = filePath, ["uploadMode"] = lfs ? "lfs" : "regular", ["shouldIgnore"] = false,
                    };
                    if (current.TryGetValue(filePath, out var existing)) entry["oid"] = EtagOf(existing);
                    files.Add(entry);
                }
                await WriteJsonAsync(response, new JsonObject { ["files"] = files });
                return;
            }
            var lines = Encoding.UTF8.GetString(body).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonNode.Parse(l)!).ToList();
            CommitPayloads.Enqueue(lines);
            if (request.ContentType?.StartsWith("application/x-ndjson", StringComparison.Ordinal) != true
                || lines[0]["key"]!.GetValue<string>() != "header")
            {
                Error(response, 400, null, "expected NDJSON starting with a header line");
                return;
            }
            var next = new Dictionary<string, byte[]>(current);
            foreach (var line in lines.Skip(1))
            {
                var value = line["value"]!;
                var filePath = value["path"]!.GetValue<string>();
                switch (line["key"]!.GetValue<string>())
                {
                    case "file": next[filePath] = Convert.FromBase64String(value["content"]!.GetValue<string>()); break;
                    case "lfsFile":
                        if (!_lfs.TryGetValue(value["oid"]!.GetValue<string>(), out var blob))
                        {
                            Error(response, 400, null, $"LFS object of {filePath} missing");
                            return;
                        }
                        next[filePath] = blob;
                        break;
                    default: Error(response, 400, null, "unknown key"); return;
                }
            }
            var made = Publish(id, next, api);
            await WriteJsonAsync(response,
                new JsonObject { ["commitOid"] = made, ["commitUrl"] = $"{Endpoint}/{id}/commit/{made}" });
            return;
        }
        Error(response, 404, null, $"no route for {request.HttpMethod} {path}");
    }

    (Repo? Repo, string? Commit) Find(HttpListenerResponse response, string type, string id, string revision,
        HttpListenerRequest request)
    {
        if (!_repos.TryGetValue(Key(type, id), out var repo))
        {
            Error(response, 401, "RepoNotFound", "Repository not found");
            return (null, null);
        }
        if (repo.Gated && request.Headers["Authorization"] != $"Bearer {Token}")
        {
            Error(response, 401, "GatedRepo",
                $"Access to model {id} is restricted. You must have access to it and be authenticated.");
            return (null, null);
        }
        lock (repo)
        {
            var commit = repo.Refs.GetValueOrDefault(revision)
                ?? (repo.Commits.ContainsKey(revision) ? revision : null);
            if (commit is null) Error(response, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            return (commit is null ? null : repo, commit);
        }
    }

    async Task ServeCdnAsync(HttpListenerRequest request, HttpListenerResponse response, string sha)
    {
        if (!_lfs.TryGetValue(sha, out var content)) { Error(response, 404, null, "no such object"); return; }
        if (request.QueryString["corrupt"] == "1")
        {
            content = (byte[])content.Clone();
            content[content.Length / 2] ^= 0xFF;
        }
        await ServeBytesAsync(request, response, content);
    }

    async Task ServeBytesAsync(HttpListenerRequest request, HttpListenerResponse response, byte[] content)
    {
        long from = 0;
        if (request.Headers["Range"] is { } range && range.StartsWith("bytes=", StringComparison.Ordinal)
            && range.EndsWith('-'))
        {
            from = long.Parse(range[6..^1]);
            if (from >= content.Length)
            {
                response.StatusCode = 416;
                response.AddHeader("Content-Range", $"bytes */{content.Length}");
                return;
            }
            response.StatusCode = 206;
            response.AddHeader("Content-Range", $"bytes {from}-{content.Length - 1}/{content.Length}");
        }
        response.ContentLength64 = content.Length - from;
        if (request.HttpMethod == "HEAD") return;
        if (CutAfterBytes is { } cut && cut < content.Length - from)
        {
            await response.OutputStream.WriteAsync(content.AsMemory((int)from, (int)cut));
            await response.OutputStream.FlushAsync();
            response.Abort();
            return;
        }
        await response.OutputStream.WriteAsync(content.AsMemory((int)from));
    }

    static void Error(HttpListenerResponse response, int status, string? code, string message)
    {
        response.StatusCode = status;
        if (code is not null) response.AddHeader("X-Error-Code", code);
        response.AddHeader("X-Error-Message", message);
    }

    static async Task WriteJsonAsync(HttpListenerResponse response, JsonNode body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        response.ContentType = "application/json";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
