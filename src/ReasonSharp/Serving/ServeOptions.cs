namespace ReasonSharp.Serving;

/// <summary>Options of `reason serve`, with vLLM's names where it has them.</summary>
public sealed record ServeOptions
{
    /// <summary>The address to listen on (0.0.0.0 for every interface).</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>The port (0: a free one, reported once listening).</summary>
    public int Port { get; init; } = 8000;
    /// <summary>Requests to /v1 must carry `Authorization: Bearer KEY`; null: no key needed.</summary>
    public string? ApiKey { get; init; }
    /// <summary>Sequences decoded together (vLLM's max_num_seqs).</summary>
    public int MaxBatch { get; init; } = 32;
    /// <summary>Requests that may wait for a place in the batch; more get 429 with Retry-After.</summary>
    public int MaxQueue { get; init; } = 256;
    /// <summary>The model id clients name (vLLM's served_model_name); null: the model folder's name.</summary>
    public string? ServedModelName { get; init; }

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host))
            throw new ReasonSharpException("host: expected an address such as 127.0.0.1");
        if (Port is < 0 or > 65535) throw new ReasonSharpException($"port: expected 0 to 65535, got {Port}");
        if (MaxBatch < 1) throw new ReasonSharpException($"max_batch: expected at least 1, got {MaxBatch}");
        if (MaxQueue < 1) throw new ReasonSharpException($"max_queue: expected at least 1, got {MaxQueue}");
        if (ApiKey is { Length: 0 }) throw new ReasonSharpException("api_key: expected a non-empty key (or none)");
    }
}
