using ReasonSharp.Hub;
using ReasonSharp.Modeling;
using ReasonSharp.Serving;

namespace ReasonSharp.Distillation;

/// <summary>
/// The teacher a distill run talks to: a client for an OpenAI-compatible URL, or, for a model folder, our own server
/// (`reason serve`, continuous batching) started on a free loopback port for the run, so that both go through the same
/// requests, cache and retries.
/// </summary>
public sealed class TeacherConnection : IAsyncDisposable
{
    LanguageModel? _model;
    OpenAiServer? _server;

    public required TeacherClient Client { get; init; }
    /// <summary>The model id sent in requests.</summary>
    public required string ModelName { get; init; }

    public static async Task<TeacherConnection> OpenAsync(DistillOptions options, string? device, Action<string>? log,
        CancellationToken cancellationToken, HttpMessageHandler? handler = null)
    {
        var retry = new RetryPolicy(options.MaxRetries, options.BackoffSeconds, options.MaxBackoffSeconds,
            options.RequestTimeoutSeconds);
        if (options.TeacherIsUrl)
        {
            var client = new TeacherClient(options.Teacher, ApiKey(options), retry, handler) { Log = log };
            try
            {
                var name = options.TeacherModel ?? await client.FirstModelAsync(cancellationToken);
                return new TeacherConnection { Client = client, ModelName = name };
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }
        var gguf = options.Teacher.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);
        var folder = gguf ? options.Teacher : HubPaths.Model(options.Teacher);
        if (gguf ? !File.Exists(folder) : !Directory.Exists(folder))
            throw new ReasonSharpException($"teacher: {folder}: no such {(gguf ? "file" : "folder")}; expected an "
                + "OpenAI-compatible URL (http://host:8000/v1), a model folder or a .gguf file");
        var serve = new ServeOptions
        {
            Host = "127.0.0.1", Port = 0, MaxBatch = Math.Max(1, options.Concurrency),
            MaxQueue = Math.Max(256, options.Concurrency * 2), ServedModelName = options.TeacherModel,
        };
        var model = gguf ? null : LanguageModel.Load(folder, device ?? "auto", options.ChatFormat);
        OpenAiServer? server = null;
        try
        {
            server = model is null
                ? await OpenAiServer.StartAsync(LlamaCppBackend.Load(folder, serve.MaxQueue, log), folder, serve,
                    cancellationToken)
                : await OpenAiServer.StartAsync(model, folder, serve, log, cancellationToken);
            log?.Invoke($"teacher {folder}: served by {(gguf ? "llama.cpp" : "our engine")} at {server.Address} "
                + "for this run");
            var client = new TeacherClient(server.Address.ToString(), null, retry, handler) { Log = log };
            return new TeacherConnection
            {
                Client = client, ModelName = server.ModelName, _model = model, _server = server,
            };
        }
        catch
        {
            if (server is not null) await server.DisposeAsync();
            model?.Dispose();
            throw;
        }
    }

    static string? ApiKey(DistillOptions options)
    {
        if (options.ApiKeyEnv is not { } name) return null;
        var key = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(key))
            throw new ReasonSharpException($"api_key_env: environment variable {name} is not set; expected the " +
                "teacher's API key in it");
        return key;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (_server is not null) await _server.DisposeAsync();
        _model?.Dispose();
    }
}
