using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ReasonSharp.Distillation;

/// <summary>How a <see cref="TeacherClient"/> retries: attempts after the first, and the exponential backoff.</summary>
public sealed record RetryPolicy(int MaxRetries = 8, double BackoffSeconds = 1.0, double MaxBackoffSeconds = 60.0,
    double TimeoutSeconds = 600)
{
    /// <summary>The wait before retry <paramref name="retry"/> (1-based): backoff × 2^(retry−1), or the teacher's
    /// Retry-After when it sent one; at most max_backoff_seconds.</summary>
    public TimeSpan Delay(int retry, TimeSpan? retryAfter)
    {
        var seconds = retryAfter?.TotalSeconds ?? BackoffSeconds * Math.Pow(2, retry - 1);
        return TimeSpan.FromSeconds(Math.Clamp(seconds, 0, MaxBackoffSeconds));
    }
}

/// <summary>
/// An OpenAI-compatible chat endpoint (vLLM, SGLang, llama-server, Ollama, OpenAI, DeepSeek, `reason serve`): POSTs
/// request bodies to /v1/chat/completions and returns the response body, retrying 429s, 5xx answers, time-outs and
/// dropped connections with exponential backoff (honouring Retry-After). Other errors are final.
/// </summary>
public sealed class TeacherClient : IDisposable
{
    readonly HttpClient _http;
    readonly RetryPolicy _retry;

    /// <summary>The base URL ending in /v1/.</summary>
    public Uri BaseAddress { get; }
    /// <summary>Waits between retries (tests replace it to run without sleeping).</summary>
    public Func<TimeSpan, CancellationToken, Task> Delay { get; init; } = Task.Delay;
    /// <summary>Called before each retry with the attempt's problem and the wait.</summary>
    public Action<string>? Log { get; init; }
    /// <summary>Requests sent over the wire, retries included.</summary>
    public int Attempts => _attempts;
    public int Retries => _retries;
    int _attempts, _retries;

    public TeacherClient(string url, string? apiKey, RetryPolicy retry, HttpMessageHandler? handler = null)
    {
        BaseAddress = V1(url);
        _retry = retry;
        _http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = Timeout.InfiniteTimeSpan;
        if (apiKey is not null)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    /// <summary>http://host:port → http://host:port/v1/; a URL already ending in /v1 keeps it.</summary>
    public static Uri V1(string url)
    {
        var text = url.TrimEnd('/');
        if (!text.EndsWith("/v1", StringComparison.Ordinal)) text += "/v1";
        return new Uri(text + "/");
    }

    /// <summary>The first model id of GET /v1/models.</summary>
    public async Task<string> FirstModelAsync(CancellationToken cancellationToken)
    {
        var body = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(BaseAddress, "models")),
            "GET /v1/models", cancellationToken);
        try
        {
            var data = JsonDocument.Parse(body).RootElement.GetProperty("data");
            if (data.GetArrayLength() > 0 && data[0].GetProperty("id").GetString() is { Length: > 0 } id) return id;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { }
        throw new ReasonSharpException($"teacher {BaseAddress}: GET /v1/models listed no model; expected data[0].id, " +
            "or give teacher_model (--teacher-model)");
    }

    /// <summary>POSTs a chat completion request body and returns the response body.</summary>
    public Task<string> ChatAsync(string requestJson, string where, CancellationToken cancellationToken) =>
        SendAsync(() => new HttpRequestMessage(HttpMethod.Post, new Uri(BaseAddress, "chat/completions"))
        {
            Content = new StringContent(requestJson, Encoding.UTF8, "application/json"),
        }, where, cancellationToken);

    async Task<string> SendAsync(Func<HttpRequestMessage> create, string where, CancellationToken cancellationToken)
    {
        for (int retry = 0; ; retry++)
        {
            string problem;
            TimeSpan? retryAfter = null;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(_retry.TimeoutSeconds));
            try
            {
                using var request = create();
                Interlocked.Increment(ref _attempts);
                using var response = await _http.SendAsync(request, timeout.Token);
                var body = await response.Content.ReadAsStringAsync(timeout.Token);
                if (response.IsSuccessStatusCode) return body;
                var status = (int)response.StatusCode;
                problem = $"HTTP {status} {Brief(body)}";
                if (status != 429 && status < 500)
                    throw new TeacherException(status, $"teacher {BaseAddress}: {where}: {problem}" +
                        (status is 401 or 403 ? "; expected a valid API key (api_key_env)" : ""));
                retryAfter = RetryAfter(response);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                problem = $"no answer after {_retry.TimeoutSeconds:0.#} s";
            }
            catch (HttpRequestException e)
            {
                problem = e.Message;
            }
            if (retry >= _retry.MaxRetries)
                throw new TeacherException(null, $"teacher {BaseAddress}: {where}: {problem}; gave up after " +
                    $"{retry + 1} attempts (max_retries {_retry.MaxRetries})");
            var wait = _retry.Delay(retry + 1, retryAfter);
            Interlocked.Increment(ref _retries);
            Log?.Invoke($"teacher: {where}: {problem}; retry {retry + 1}/{_retry.MaxRetries} in " +
                $"{wait.TotalSeconds:0.##} s");
            await Delay(wait, cancellationToken);
        }
    }

    /// <summary>Retry-After as seconds or an HTTP date.</summary>
    static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta;
        if (header?.Date is { } date) return date - DateTimeOffset.UtcNow is var left && left > TimeSpan.Zero
            ? left : TimeSpan.Zero;
        return null;
    }

    static string Brief(string body)
    {
        try
        {
            if (JsonDocument.Parse(body).RootElement.TryGetProperty("error", out var error))
                return error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m)
                    ? m.ToString() : error.ToString();
        }
        catch (JsonException) { }
        return body.Length > 200 ? body[..200] + "…" : body;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>A teacher's final error (a 4xx other than 429, or retries exhausted); Status is the HTTP status when
/// it answered.</summary>
public sealed class TeacherException(int? status, string message) : ReasonSharpException(message)
{
    public int? Status { get; } = status;
}
