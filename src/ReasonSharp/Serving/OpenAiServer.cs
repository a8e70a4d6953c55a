using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ReasonSharp.Data;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Serving;

/// <summary>
/// An OpenAI-compatible HTTP server (Kestrel) over an <see cref="IInferenceBackend"/>: POST /v1/chat/completions,
/// POST /v1/completions, GET /v1/models and GET /health. A model folder's requests are decoded together by a
/// <see cref="Scheduler"/> (continuous batching), a GGUF's by a <see cref="LlamaCppBackend"/> (one at a time);
/// chat prompts are rendered with the model's chat template as training renders them, `/think` and `/no_think` and
/// chat_template_kwargs.enable_thinking included, and the think block comes back as reasoning_content.
/// </summary>
public sealed class OpenAiServer : IAsyncDisposable
{
    readonly WebApplication app;
    readonly IInferenceBackend backend;
    readonly ServeOptions options;
    readonly string[] modelNames;
    readonly byte[]? key;

    /// <summary>The id clients name in `model`.</summary>
    public string ModelName { get; }
    /// <summary>Where it listens, e.g. http://127.0.0.1:8000 (known once started).</summary>
    public Uri Address { get; private set; } = null!;
    /// <summary>The engine that runs requests (the server disposes it).</summary>
    public IInferenceBackend Backend => backend;

    OpenAiServer(IInferenceBackend backend, string modelPath, ServeOptions options)
    {
        (this.backend, this.options) = (backend, options);
        ModelName = options.ServedModelName
            ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelPath)));
        modelNames = [ModelName, modelPath];
        key = options.ApiKey is { } apiKey ? Encoding.UTF8.GetBytes("Bearer " + apiKey) : null;

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var host = options.Host;
            if (host == "localhost") kestrel.ListenLocalhost(options.Port);
            else if (host is "0.0.0.0" or "*") kestrel.ListenAnyIP(options.Port);
            else if (IPAddress.TryParse(host, out var address)) kestrel.Listen(address, options.Port);
            else throw new ReasonSharpException(
                $"host: '{host}' is not an IP address; expected e.g. 127.0.0.1, 0.0.0.0 or localhost");
        });
        app = builder.Build();
        app.Use(Authorize);
        app.MapGet("/health", (HttpContext context) => WriteJson(context, 200, w =>
        {
            w.WriteString("status", "ok");
            w.WriteNumber("running", backend.Running);
            w.WriteNumber("waiting", backend.Waiting);
        }));
        app.MapGet("/v1/models", (HttpContext context) => WriteJson(context, 200, w =>
        {
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            w.WriteStartObject();
            w.WriteString("id", ModelName);
            w.WriteString("object", "model");
            w.WriteNumber("created", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            w.WriteString("owned_by", "reasonsharp");
            w.WriteNumber("max_model_len", backend.ContextLength);
            w.WriteEndObject();
            w.WriteEndArray();
        }));
        app.MapPost("/v1/chat/completions", (HttpContext context) => Complete(context, chat: true));
        app.MapPost("/v1/completions", (HttpContext context) => Complete(context, chat: false));
        app.MapFallback((HttpContext context) => WriteError(context,
            new OpenAiError(404, $"{context.Request.Method} {context.Request.Path}: no such endpoint",
                code: "not_found")));
    }

    /// <summary>Starts listening with our engine (continuous batching); the model stays the caller's (dispose it
    /// after the server).</summary>
    public static Task<OpenAiServer> StartAsync(LanguageModel model, string modelPath, ServeOptions options,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var scheduler = new Scheduler(model, options.MaxBatch, options.MaxQueue, log ?? (_ => { }));
        return StartAsync(scheduler, modelPath, options, cancellationToken);
    }

    /// <summary>Starts listening over <paramref name="backend"/>, which the server owns from then on (disposed with
    /// it, or here when listening fails).</summary>
    public static async Task<OpenAiServer> StartAsync(IInferenceBackend backend, string modelPath,
        ServeOptions options, CancellationToken cancellationToken = default)
    {
        OpenAiServer server;
        try
        {
            options.Validate();
            server = new OpenAiServer(backend, modelPath, options);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
        try
        {
            await server.app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await server.DisposeAsync();
            throw new ReasonSharpException($"port {options.Port} on {options.Host}: cannot listen ({e.Message})", e);
        }
        var address = server.app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.First();
        server.Address = new Uri(address.Replace("[::]", "localhost", StringComparison.Ordinal));
        return server;
    }

    async Task Authorize(HttpContext context, RequestDelegate next)
    {
        if (key is not null && context.Request.Path.StartsWithSegments("/v1"))
        {
            var given = Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString());
            if (!CryptographicOperations.FixedTimeEquals(given, key))
            {
                await WriteError(context, new OpenAiError(401,
                    "Incorrect or missing API key: send `Authorization: Bearer KEY` "
                    + "with the key given to `reason serve --api-key`", code: "invalid_api_key"));
                return;
            }
        }
        await next(context);
    }

    async Task Complete(HttpContext context, bool chat)
    {
        InferenceRequest work;
        CompletionRequest request;
        int promptTokens;
        try
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            request = CompletionRequest.Parse(body.GetBuffer().AsMemory(0, (int)body.Length), chat);
            if (request.Model is { } name && !modelNames.Contains(name))
                throw new OpenAiError(400, $"model '{name}' is not served here; this server serves '{ModelName}'",
                    param: "model", code: "model_not_found");
            (work, promptTokens) = Prepare(request, chat, context.RequestAborted);
            if (!backend.TrySubmit(work))
            {
                context.Response.Headers.RetryAfter = "1";
                throw new OpenAiError(429, $"the server is busy: {options.MaxQueue} requests are already waiting "
                    + "(max_queue); retry later", "rate_limit_exceeded", code: "queue_full");
            }
        }
        catch (OpenAiError e)
        {
            await WriteError(context, e);
            return;
        }
        catch (OperationCanceledException) { return; }

        var id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var response = new ResponseWriter(context, chat, id, created, ModelName, request, promptTokens,
            work.ChoicePrompts.Count);
        try
        {
            if (request.Stream) await response.StreamAsync(work.Updates.Reader);
            else await response.WholeAsync(work.Updates.Reader);
        }
        catch (OperationCanceledException) { }
        catch (OpenAiError e) when (!context.Response.HasStarted) { await WriteError(context, e); }
        catch (OpenAiError e) { await response.StreamErrorAsync(e); }
    }

    /// <summary>The request's choices: prompt ids (rendered and checked against the context) and sampling
    /// settings.</summary>
    (InferenceRequest Work, int PromptTokens) Prepare(CompletionRequest request, bool chat, CancellationToken aborted)
    {
        if (request.TopLogProbs >= 0 && backend.LogProbsUnsupported is { } why)
            throw new OpenAiError(400, why, param: "logprobs", code: "unsupported_parameter");
        var prompts = new List<(int[] Ids, bool ThinkingOpen)>();
        if (chat) prompts.Add(ChatPrompt(request));
        else foreach (var text in request.Prompts!) prompts.Add((backend.Encode(text), false));

        int context = backend.ContextLength;
        var param = chat ? "messages" : "prompt";
        foreach (var (ids, _) in prompts)
        {
            if (ids.Length == 0) throw OpenAiError.BadField(param, "the prompt encodes to no tokens");
            if (ids.Length + (request.MaxTokens ?? 1) > context)
                throw new OpenAiError(400,
                    $"This model's maximum context length is {context} tokens. However, you requested "
                    + $"{ids.Length + (request.MaxTokens ?? 1)} tokens ({ids.Length} in the {param}, "
                    + $"{request.MaxTokens ?? 1} for the completion). Please reduce the length of the prompt or of "
                    + "max_tokens.",
                    param: param, code: "context_length_exceeded");
        }
        long seed = request.Seed ?? Random.Shared.NextInt64(0, long.MaxValue / 2);
        var choices = new List<int[]>();
        var open = new List<bool>();
        var sampling = new List<SamplingOptions>();
        foreach (var (ids, thinkingOpen) in prompts)
            for (int i = 0; i < request.N; i++)
            {
                choices.Add(ids);
                open.Add(thinkingOpen);
                sampling.Add(new SamplingOptions
                {
                    MaxNewTokens = request.MaxTokens ?? context - ids.Length,
                    DoSample = request.Temperature > 0,
                    Temperature = request.Temperature,
                    TopP = request.TopP,
                    EosTokenIds = request.IgnoreEos ? [] : backend.StopTokenIds,
                    Seed = seed + sampling.Count,
                });
            }
        var work = new InferenceRequest
        {
            ChoicePrompts = choices,
            ThinkingOpen = open,
            Sampling = sampling,
            Stop = request.Stop,
            TopLogProbs = request.TopLogProbs,
            SplitReasoning = chat,
            Cancellation = aborted,
        };
        return (work, prompts.Sum(p => p.Ids.Length));
    }

    /// <summary>
    /// The chat prompt as training renders it: thinking from chat_template_kwargs.enable_thinking, else from a
    /// `/think` or `/no_think` flag in a system message (default on); templates that read the system flag get it set
    /// there (as dual-mode training data has it), and the template renders with enable_thinking.
    /// </summary>
    (int[] Ids, bool ThinkingOpen) ChatPrompt(CompletionRequest request)
    {
        var messages = request.Messages!;
        bool thinking = request.EnableThinking ?? ReasoningFlags.Find(messages) != ReasoningFlags.NoThink;
        var capabilities = backend.Chat.Capabilities;
        if (!thinking && !capabilities.CanSwitchThinkingOff)
            throw new OpenAiError(400,
                $"thinking cannot be switched off: the chat template ({backend.Chat.Name}) reads neither "
                + "enable_thinking nor a /no_think system flag", param: "chat_template_kwargs.enable_thinking");
        messages = backend.Chat.InThinkingMode(messages, thinking);
        string text;
        try
        {
            text = backend.Chat.Render(messages, new ChatRenderOptions
            {
                AddGenerationPrompt = true,
                EnableThinking = thinking,
                ChatTemplateKwargs = request.TemplateKwargs.Count > 0 ? request.TemplateKwargs : null,
            });
        }
        catch (ReasonSharpException e)
        {
            throw new OpenAiError(400, $"the chat template failed: {e.Message}", param: "messages");
        }
        bool open = text.TrimEnd().EndsWith(ReasoningTrace.ThinkOpen, StringComparison.Ordinal);
        return (backend.Encode(text), open);
    }

    internal static Task WriteError(HttpContext context, OpenAiError error) => WriteJson(context, error.Status, w =>
    {
        w.WriteStartObject("error");
        w.WriteString("message", error.Message);
        w.WriteString("type", error.Type);
        if (error.Param is null) w.WriteNull("param"); else w.WriteString("param", error.Param);
        if (error.Code is null) w.WriteNull("code"); else w.WriteString("code", error.Code);
        w.WriteEndObject();
    });

    /// <summary>JSON as an API sends it: `+`, `&lt;` and non-ASCII text unescaped (the body is never embedded in
    /// HTML).</summary>
    internal static readonly JsonWriterOptions JsonOptions =
        new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    internal static async Task WriteJson(HttpContext context, int status, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, OpenAiServer.JsonOptions))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(buffer.WrittenMemory);
    }

    /// <summary>Waits until <paramref name="cancellationToken"/> fires or the host stops (Ctrl-C, SIGTERM).</summary>
    public async Task RunUntilCancelledAsync(CancellationToken cancellationToken)
    {
        using var either =
            CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, app.Lifetime.ApplicationStopping);
        try { await Task.Delay(Timeout.Infinite, either.Token); }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        // The scheduler first: requests in flight end at once with a 503 (an error event when streaming), so that
        // Kestrel's stop does not wait for long generations.
        backend.Dispose();
        try { await app.StopAsync(); } catch (InvalidOperationException) { }
        await app.DisposeAsync();
    }
}
