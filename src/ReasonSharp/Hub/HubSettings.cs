namespace ReasonSharp.Hub;

/// <summary>
/// Where the Hub is and where its files go, read from the environment as huggingface_hub reads it: HF_ENDPOINT,
/// HF_TOKEN (else the token file under HF_HOME), HF_HUB_CACHE (else HF_HOME/hub, else ~/.cache/huggingface/hub) and
/// HF_HUB_OFFLINE.
/// </summary>
public sealed record HubSettings
{
    public const string DefaultEndpoint = "https://huggingface.co";

    public string Endpoint { get; init; } = DefaultEndpoint;
    /// <summary>Sent as `Authorization: Bearer` to the endpoint's host only; null: anonymous.</summary>
    public string? Token { get; init; }
    /// <summary>The cache folder holding `models--org--name/{blobs,snapshots,refs}`.</summary>
    public string CacheDir { get; init; } = "";
    /// <summary>HF_HUB_OFFLINE: use the cache only, never the network.</summary>
    public bool Offline { get; init; }
    /// <summary>Files downloaded at once (huggingface_hub's max_workers, 8).</summary>
    public int MaxWorkers { get; init; } = 8;

    public static HubSettings FromEnvironment()
    {
        var home = Env("HF_HOME") ?? Path.Combine(
            Env("XDG_CACHE_HOME")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
            "huggingface");
        var cache = Env("HF_HUB_CACHE") ?? Env("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(home, "hub");
        return new HubSettings
        {
            Endpoint = (Env("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/'),
            Token = Env("HF_TOKEN") ?? Env("HUGGING_FACE_HUB_TOKEN")
                    ?? ReadTokenFile(Env("HF_TOKEN_PATH") ?? Path.Combine(home, "token")),
            CacheDir = ExpandHome(cache),
            Offline = Env("HF_HUB_OFFLINE") is { } offline && IsTrue(offline),
        };
    }

    static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    static bool IsTrue(string value) => value.Trim().ToLowerInvariant() is "1" or "true" or "yes" or "on";

    static string? ReadTokenFile(string path) =>
        File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } token ? token : null;

    static string ExpandHome(string path) => path.StartsWith("~/", StringComparison.Ordinal)
        ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..])
        : path;
}
