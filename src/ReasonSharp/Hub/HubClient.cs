using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace ReasonSharp.Hub;

/// <summary>A repository at one commit: its sha and the paths of its files (the API's `siblings`).</summary>
public sealed record HubRevision(string Sha, IReadOnlyList<string> Files);

/// <summary>What a resolve request says about a file: the commit, its etag (the sha256 of LFS files), size and where
/// its bytes are (the CDN address an LFS file redirects to).</summary>
public sealed record HubFileInfo(string Path, string Commit, string Etag, long? Size, Uri DownloadUrl)
{
    /// <summary>LFS files are named by the sha256 of their content (64 hex digits); git blobs by a 40-digit
    /// sha1.</summary>
    public bool IsSha256 => Etag.Length == 64 && Etag.All(Uri.IsHexDigit);
}

/// <summary>
/// The Hub's HTTP API as huggingface_hub speaks it: `GET /api/{models|datasets}/{id}/revision/{rev}`, `HEAD` and `GET`
/// on `{id}/resolve/{rev}/{path}` (headers X-Repo-Commit, X-Linked-Etag or ETag, X-Linked-Size), Range requests, and
/// the token sent as Bearer to the endpoint's own host only (never to the CDN a redirect names).
/// </summary>
public sealed class HubClient : IDisposable
{
    const int MaxRedirects = 10;
    readonly HttpClient _http;
    readonly Uri _endpoint;

    public HubClient(HubSettings settings, HttpMessageHandler? handler = null)
    {
        Settings = settings;
        _endpoint = new Uri(settings.Endpoint.TrimEnd('/') + "/");
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("reasonsharp/1.0 huggingface_hub-compatible");
    }

    public HubSettings Settings { get; }

    public void Dispose() => _http.Dispose();

    public Uri ApiUrl(string relative) => new(_endpoint, relative);

    /// <summary>The repository's commit at <paramref name="revision"/> and its files.</summary>
    public async Task<HubRevision> RevisionAsync(HubRepo repo, string revision, CancellationToken ct)
    {
        var url = ApiUrl($"api/{repo.ApiCollection}/{repo.Id}/revision/{Uri.EscapeDataString(revision)}");
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, url), repo, null, revision,
            followRedirects: true, timeout: TimeSpan.FromSeconds(30), ct);
        await ThrowIfFailedAsync(response, repo, null, revision);
        var body = await response.Content.ReadAsStreamAsync(ct);
        using var json = await JsonDocument.ParseAsync(body, cancellationToken: ct);
        var root = json.RootElement;
        var sha = root.TryGetProperty("sha", out var s) && s.GetString() is { Length: > 0 } text ? text
            : throw new HubException(HubErrorKind.Rejected,
                $"{repo}: the Hub's answer for revision '{revision}' has no sha");
        var files = root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array
            ? siblings.EnumerateArray().Select(e => e.GetProperty("rfilename").GetString()!).ToList()
            : [];
        return new HubRevision(sha, files);
    }

    /// <summary>The resolve URL of a file: `{endpoint}/{datasets/}{id}/resolve/{rev}/{path}`.</summary>
    public Uri ResolveUrl(HubRepo repo, string revision, string path) =>
        ApiUrl($"{repo.UrlPrefix}{repo.Id}/resolve/{Uri.EscapeDataString(revision)}/"
               + string.Join('/', path.Split('/').Select(Uri.EscapeDataString)));

    /// <summary>
    /// HEAD on the file's resolve URL without following the Hub's redirect to the CDN, as huggingface_hub does: the
    /// redirect carries X-Linked-Etag and X-Linked-Size; a relative redirect (a renamed repository) is followed.
    /// </summary>
    public async Task<HubFileInfo> FileInfoAsync(HubRepo repo, string revision, string path, CancellationToken ct)
    {
        var url = ResolveUrl(repo, revision, path);
        for (int hop = 0; ; hop++)
        {
            var current = url;
            using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, current), repo, path,
                revision, followRedirects: false, timeout: TimeSpan.FromSeconds(30), ct);
            int status = (int)response.StatusCode;
            var etag = Header(response, "X-Linked-Etag") ?? response.Headers.ETag?.Tag ?? Header(response, "ETag");
            if (status is >= 300 and < 400 && response.Headers.Location is { } location && etag is null
                && !location.IsAbsoluteUri && hop < MaxRedirects)
            {
                url = new Uri(current, location);
                continue;
            }
            if (status is >= 300 and < 400 && response.Headers.Location is null)
                throw new HubException(HubErrorKind.Rejected,
                    $"{repo}: {path}: redirect without a Location from {current}");
            if (status >= 400) await ThrowIfFailedAsync(response, repo, path, revision);
            var commit = Header(response, "X-Repo-Commit")
                ?? throw new HubException(HubErrorKind.Rejected,
                    $"{repo}: {path}: the Hub's answer has no X-Repo-Commit header; " +
                    $"is HF_ENDPOINT ({Settings.Endpoint}) a Hub?");
            if (etag is null)
                throw new HubException(HubErrorKind.Rejected,
                    $"{repo}: {path}: the Hub's answer has no ETag; cannot check the file");
            var sizeText = Header(response, "X-Linked-Size");
            long? size = sizeText is not null && long.TryParse(sizeText, out var linked)
                ? linked
                : response.Content.Headers.ContentLength;
            var download = status is >= 300 and < 400 ? new Uri(current, response.Headers.Location!) : current;
            return new HubFileInfo(path, commit, NormalizeEtag(etag), size, download);
        }
    }

    /// <summary>GET the file's bytes from <paramref name="from"/> on (a Range request when above 0), following
    /// redirects; the caller owns the response (206 when the range was honoured, 200 when it was not).</summary>
    public async Task<HttpResponseMessage> GetBytesAsync(HubRepo repo, HubFileInfo file, long from,
        CancellationToken ct)
    {
        var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, file.DownloadUrl);
            if (from > 0) request.Headers.Range = new RangeHeaderValue(from, null);
            return request;
        }, repo, file.Path, file.Commit, followRedirects: true, timeout: null, ct,
            HttpCompletionOption.ResponseHeadersRead);
        if ((int)response.StatusCode >= 400 && response.StatusCode != HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            using (response) await ThrowIfFailedAsync(response, repo, file.Path, file.Commit);
        }
        return response;
    }

    /// <summary>Sends a request built by <paramref name="build"/> (again for each redirect hop), the token only to the
    /// endpoint's host; network failures become one clear <see cref="HubException"/>.</summary>
    public async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> build, HubRepo repo, string? path,
        string? revision, bool followRedirects, TimeSpan? timeout, CancellationToken ct,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (timeout is { } limit) timeoutSource.CancelAfter(limit);
        Uri? redirect = null;
        for (int hop = 0; ; hop++)
        {
            var request = build();
            if (redirect is not null) request.RequestUri = redirect;
            var current = request.RequestUri!;
            if (Settings.Token is { } token && SameHost(request.RequestUri!))
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            HttpResponseMessage response;
            try { response = await _http.SendAsync(request, completion, timeoutSource.Token); }
            catch (Exception e) when (e is HttpRequestException or IOException
                                      || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                throw NetworkError(repo, path, e);
            }
            finally { request.Dispose(); }
            int status = (int)response.StatusCode;
            if (followRedirects && status is 301 or 302 or 303 or 307 or 308
                && response.Headers.Location is { } location && hop < MaxRedirects)
            {
                redirect = new Uri(current, location);
                response.Dispose();
                continue;
            }
            return response;
        }
    }

    public HubException NetworkError(HubRepo repo, string? path, Exception e) => new(HubErrorKind.Network,
        $"{repo}{(path is null ? "" : $": {path}")}: network error reaching {Settings.Endpoint} ({e.Message}); " +
        "check the connection or HF_ENDPOINT and run again: finished files are kept and a partial one resumes", e);

    bool SameHost(Uri url) =>
        string.Equals(url.Host, _endpoint.Host, StringComparison.OrdinalIgnoreCase) && url.Port == _endpoint.Port;

    /// <summary>An error for a failed answer, from the Hub's X-Error-Code header where it gives one, else the
    /// status.</summary>
    public async Task ThrowIfFailedAsync(HttpResponseMessage response, HubRepo repo, string? path, string? revision)
    {
        int status = (int)response.StatusCode;
        if (status < 400) return;
        var code = Header(response, "X-Error-Code");
        var serverMessage = Header(response, "X-Error-Message");
        if (serverMessage is null)
        {
            try { serverMessage = (await response.Content.ReadAsStringAsync()).Trim(); }
            catch (HttpRequestException) { }
            if (serverMessage is { Length: > 200 }) serverMessage = serverMessage[..200] + "…";
        }
        var web = $"{Settings.Endpoint}/{repo.UrlPrefix}{repo.Id}";
        var said = string.IsNullOrEmpty(serverMessage) ? "" : $" (the Hub said: {serverMessage})";
        var notFound = $"{repo}: repository not found on {Settings.Endpoint} (HTTP {status}); " +
                       "check the id and --repo-type" +
                       (Settings.Token is null ? ", or set HF_TOKEN if it is private" : "") + said;
        throw (code, status) switch
        {
            ("RepoNotFound", _) => new HubException(HubErrorKind.RepoNotFound, notFound),
            ("RevisionNotFound", _) => new HubException(HubErrorKind.RevisionNotFound,
                $"{repo}: revision '{revision}' not found; check --revision (a branch, tag or commit){said}"),
            ("EntryNotFound", _) => new HubException(HubErrorKind.FileNotFound,
                $"{repo}: file '{path}' not found at revision '{revision}'{said}"),
            (_, 401 or 403) when Settings.Token is null => new HubException(HubErrorKind.Gated,
                $"{repo}: access denied (HTTP {status}): the repository is gated or private and no token is set; " +
                $"accept its terms at {web} and set HF_TOKEN (or log in with `huggingface-cli login`){said}"),
            (_, 401 or 403) => new HubException(HubErrorKind.Gated,
                $"{repo}: access denied (HTTP {status}) with the token given: accept the repository's terms at " +
                $"{web} or use a token with access to it{said}"),
            (_, 404) when path is not null => new HubException(HubErrorKind.FileNotFound,
                $"{repo}: file '{path}' not found at revision '{revision}' (HTTP 404){said}"),
            (_, 404) => new HubException(HubErrorKind.RepoNotFound, notFound),
            _ => new HubException(HubErrorKind.Rejected,
                $"{repo}{(path is null ? "" : $": {path}")}: the Hub answered HTTP {status}{said}"),
        };
    }

    /// <summary>An etag as huggingface_hub keeps it: no weak marker `W/`, no quotes.</summary>
    public static string NormalizeEtag(string etag)
    {
        var text = etag.Trim();
        if (text.StartsWith("W/", StringComparison.Ordinal)) text = text[2..];
        return text.Trim('"');
    }

    static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault()
            : null;
}
