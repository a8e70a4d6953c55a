using System.CommandLine;
using ReasonSharp.Jobs;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason serve MODEL [--host … --port … --api-key … --max-batch … --max-queue …]`: an OpenAI-compatible
/// server.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model")
        {
            Description = "A Hugging Face model folder, or a .gguf file served by llama.cpp (CPU; one request at "
                + "a time, n choices in turn, no logprobs; --max-batch, --device and --format do not apply).",
        };
        var host = new Option<string>("--host")
        {
            Description = "Address to listen on (0.0.0.0: every interface).", DefaultValueFactory = _ => "127.0.0.1",
        };
        var port = new Option<int>("--port")
        {
            Description = "Port to listen on (0: a free one).", DefaultValueFactory = _ => 8000,
        };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "Require `Authorization: Bearer KEY` on /v1 requests.",
        };
        var maxBatch = new Option<int>("--max-batch")
        {
            Description = "Sequences decoded together (continuous batching).", DefaultValueFactory = _ => 32,
        };
        var maxQueue = new Option<int>("--max-queue")
        {
            Description = "Requests that may wait for the batch; more get 429 with Retry-After.",
            DefaultValueFactory = _ => 256,
        };
        var name = new Option<string?>("--served-model-name")
        {
            Description = "The model id clients send; default: the folder's name.",
        };
        var device = CommonOptions.Device();
        var format = CommonOptions.ChatFormatOption();
        var command = new Command("serve",
            "Serve a model over an OpenAI-compatible HTTP API: /v1/chat/completions (reasoning_content, " +
            "streaming, /think and /no_think), /v1/completions, /v1/models, /health; continuous batching for a model "
            + "folder, one request at a time for a .gguf (the queue and its 429 apply to both).")
        {
            model, host, port, apiKey, maxBatch, maxQueue, name, device, format,
        };
        var job = new JobCli("serve", recipe: false);
        job.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var bound = job.Bind<ServeJobOptions>(parse, o => o with
            {
                Model = parse.GetValue(model)!,
                Device = parse.GetValue(device)!,
                ChatFormat = parse.GetValue(format),
                Serve = o.Serve with
                {
                    Host = parse.GetValue(host)!,
                    Port = parse.GetValue(port),
                    ApiKey = parse.GetValue(apiKey),
                    MaxBatch = parse.GetValue(maxBatch),
                    MaxQueue = parse.GetValue(maxQueue),
                    ServedModelName = parse.GetValue(name),
                },
            });
            return await Task.Run(() => job.Run(parse, bound, null, cancellationToken), cancellationToken);
        });
        return command;
    }
}
