using ReasonSharp.Configuration;
using ReasonSharp.Modeling;
using ReasonSharp.Serving;

namespace ReasonSharp.Jobs;

/// <summary>Options of the serve job: the model and every <see cref="ServeOptions"/> key beside it.</summary>
public sealed record ServeJobOptions
{
    /// <summary>The model folder or a .gguf file (llama.cpp); null: the pipeline's current model.</summary>
    public string? Model { get; init; }
    /// <summary>cpu, cuda, cuda:N or auto; null: the pipeline's device (auto on the command line).</summary>
    public string? Device { get; init; }
    /// <summary>Chat template instead of the tokenizer's own.</summary>
    public string? ChatFormat { get; init; }
    [Flatten] public ServeOptions Serve { get; init; } = new();
}

/// <summary>`serve`: an OpenAI-compatible HTTP server over a model folder or a .gguf, until cancelled
/// (Ctrl-C).</summary>
public sealed class ServeJob : Job<ServeJobOptions>
{
    public override string Name => "serve";
    public override string Description => "Serve a model folder (continuous batching) or a .gguf file (llama.cpp, "
        + "one request at a time) over an OpenAI-compatible HTTP API.";

    public override ServeJobOptions Defaults(RunContext context) => new();

    public override void Validate(ServeJobOptions o) => Validation.Once(o.Serve, o.Serve.Validate);

    public override JobResult Run(ServeJobOptions o, RunContext context)
    {
        var folder = context.RequireModel(o.Model);
        LanguageModel? model = null;
        OpenAiServer server;
        if (folder.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            server = OpenAiServer.StartAsync(LlamaCppBackend.Load(folder, o.Serve.MaxQueue, context.Log), folder,
                o.Serve, context.Cancellation).GetAwaiter().GetResult();
        else
        {
            if (!Directory.Exists(folder))
                throw new ReasonSharpException($"model {folder}: folder not found; expected a model folder or a .gguf");
            model = LanguageModel.Load(folder, o.Device ?? context.Device ?? "auto", o.ChatFormat);
            try
            {
                server = OpenAiServer.StartAsync(model, folder, o.Serve, context.Log, context.Cancellation)
                    .GetAwaiter().GetResult();
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        try
        {
            context.Log($"serving {server.ModelName} at {server.Address} (POST /v1/chat/completions, /v1/completions; "
                + $"GET /v1/models, /health); {server.Backend.Batching}, max_queue {o.Serve.MaxQueue}; "
                + "Ctrl-C stops");
            server.RunUntilCancelledAsync(context.Cancellation).GetAwaiter().GetResult();
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            model?.Dispose();
        }
        return Result(new Dictionary<string, string> { ["url"] = server.Address.ToString() });
    }
}
