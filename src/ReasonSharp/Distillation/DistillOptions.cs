namespace ReasonSharp.Distillation;

/// <summary>
/// Options of `reason distill` and of a pipeline's distill stage: an OpenAI-compatible teacher (a URL, or a model
/// folder served in-process), the prompts, rejection sampling (n, keep, reward, threshold), the request settings and
/// the reliability and cost knobs. Keys are the and OpenAI's names in snake_case.
/// </summary>
public sealed record DistillOptions
{
    /// <summary>An OpenAI-compatible base URL (http://host:8000 or …/v1), or a model folder run by our
    /// engine.</summary>
    public string Teacher { get; init; } = "";
    /// <summary>The model id sent in each request; null: the first id of the teacher's GET /v1/models.</summary>
    public string? TeacherModel { get; init; }
    /// <summary>Prompts: a .jsonl/.json/.parquet file or a Hugging Face dataset folder (or Hub id).</summary>
    public string Dataset { get; init; } = "";
    public string? DatasetSplit { get; init; } = "train";
    public string? DatasetConfig { get; init; }
    /// <summary>Use only the first N prompts.</summary>
    public int? Limit { get; init; }
    /// <summary>SFT JSONL of verified traces; null: traces.jsonl in the stage's folder.</summary>
    public string? OutputFile { get; init; }
    /// <summary>Completions asked for per prompt, at most.</summary>
    public int N { get; init; } = 4;
    /// <summary>Verified completions kept per prompt; no more requests are sent for a prompt once it has
    /// them.</summary>
    public int Keep { get; init; } = 1;
    /// <summary>Reward functions that verify a completion (the reward library's spec, e.g. accuracy).</summary>
    public string Reward { get; init; } = "accuracy";
    /// <summary>A completion is verified when its total reward reaches this.</summary>
    public double Threshold { get; init; } = 1.0;
    /// <summary>Requests in flight at once.</summary>
    public int Concurrency { get; init; } = 16;
    public int MaxTokens { get; init; } = 4096;
    public double Temperature { get; init; } = 0.6;
    public double TopP { get; init; } = 0.95;
    /// <summary>Seed of the first request; each completion of each prompt gets its own (seed + prompt × n +
    /// sample).</summary>
    public long Seed { get; init; }
    /// <summary>Sent as chat_template_kwargs.enable_thinking when set (vLLM, SGLang, `reason serve`).</summary>
    public bool? EnableThinking { get; init; }
    /// <summary>Environment variable holding the API key (sent as a Bearer token); null: no key.</summary>
    public string? ApiKeyEnv { get; init; }
    /// <summary>Retries of a request after a 429, a 5xx, a time-out or a dropped connection.</summary>
    public int MaxRetries { get; init; } = 8;
    /// <summary>The first retry's wait; each further retry doubles it (up to max_backoff_seconds), unless the
    /// teacher's Retry-After says otherwise.</summary>
    public double BackoffSeconds { get; init; } = 1.0;
    public double MaxBackoffSeconds { get; init; } = 60.0;
    /// <summary>A request that has not answered after this long is retried.</summary>
    public double RequestTimeoutSeconds { get; init; } = 600;
    /// <summary>Finished requests, one file per request hash; null: OUT.cache beside the output file.</summary>
    public string? CacheDir { get; init; }
    /// <summary>Prices for the cost report, per million prompt and completion tokens; null: no cost shown.</summary>
    public double? PromptCostPerMillion { get; init; }
    public double? CompletionCostPerMillion { get; init; }
    /// <summary>cpu, cuda, cuda:N or auto, for a model-folder teacher; null: the pipeline's device (auto).</summary>
    public string? Device { get; init; }
    /// <summary>Chat template of a model-folder teacher instead of its tokenizer's own.</summary>
    public string? ChatFormat { get; init; }

    public bool TeacherIsUrl => Uri.TryCreate(Teacher, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>Checks every setting, naming its snake_case key and what was expected.</summary>
    public void Validate()
    {
        static ReasonSharpException Bad(string key, string problem, string expected) =>
            new($"{key}: {problem}; expected {expected}");
        if (string.IsNullOrWhiteSpace(Teacher))
            throw Bad("teacher", "missing",
                "an OpenAI-compatible URL (http://host:8000/v1), a model folder or a .gguf");
        if (!TeacherIsUrl && Teacher.Contains("://", StringComparison.Ordinal))
            throw Bad("teacher", $"'{Teacher}' is no http(s) URL", "http://host:port[/v1] or a model folder");
        if (string.IsNullOrWhiteSpace(Dataset)) throw Bad("dataset", "missing", "a .jsonl/.json/.parquet file or a " +
            "dataset folder");
        if (N < 1) throw Bad("n", $"got {N}", "at least 1");
        if (Keep < 1) throw Bad("keep", $"got {Keep}", "at least 1");
        if (Keep > N) throw Bad("keep", $"{Keep} is more than n ({N})", "keep ≤ n");
        if (Limit is < 1) throw Bad("limit", $"got {Limit}", "at least 1");
        if (string.IsNullOrWhiteSpace(Reward)) throw Bad("reward", "missing", "reward functions such as accuracy");
        if (!double.IsFinite(Threshold)) throw Bad("threshold", $"got {Threshold}", "a finite number");
        if (Concurrency < 1) throw Bad("concurrency", $"got {Concurrency}", "at least 1");
        if (MaxTokens < 1) throw Bad("max_tokens", $"got {MaxTokens}", "at least 1");
        if (Temperature is < 0 or > 2 || double.IsNaN(Temperature))
            throw Bad("temperature", $"got {Temperature}", "0 to 2");
        if (TopP is <= 0 or > 1 || double.IsNaN(TopP)) throw Bad("top_p", $"got {TopP}", "a number in (0, 1]");
        if (ApiKeyEnv is { } env && string.IsNullOrWhiteSpace(env))
            throw Bad("api_key_env", "empty", "the name of an environment variable such as OPENAI_API_KEY");
        if (MaxRetries < 0) throw Bad("max_retries", $"got {MaxRetries}", "0 or more");
        if (BackoffSeconds < 0 || !double.IsFinite(BackoffSeconds))
            throw Bad("backoff_seconds", $"got {BackoffSeconds}", "0 or more seconds");
        if (MaxBackoffSeconds < BackoffSeconds || !double.IsFinite(MaxBackoffSeconds))
            throw Bad("max_backoff_seconds", $"got {MaxBackoffSeconds}",
                $"at least backoff_seconds ({BackoffSeconds})");
        if (RequestTimeoutSeconds <= 0 || !double.IsFinite(RequestTimeoutSeconds))
            throw Bad("request_timeout_seconds", $"got {RequestTimeoutSeconds}", "more than 0 seconds");
        if (PromptCostPerMillion is < 0 || PromptCostPerMillion is { } p && !double.IsFinite(p))
            throw Bad("prompt_cost_per_million", $"got {PromptCostPerMillion}", "a price of 0 or more");
        if (CompletionCostPerMillion is < 0 || CompletionCostPerMillion is { } c && !double.IsFinite(c))
            throw Bad("completion_cost_per_million", $"got {CompletionCostPerMillion}", "a price of 0 or more");
    }
}
