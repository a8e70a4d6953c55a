namespace ReasonSharp.Hub;

/// <summary>What went wrong talking to the Hub, so callers (and tests) can tell the cases apart.</summary>
public enum HubErrorKind { RepoNotFound, RevisionNotFound, FileNotFound, Gated, Network, Integrity, Offline, Rejected }

/// <summary>A Hub error with a one-line message naming the repository, the file and what to do.</summary>
public sealed class HubException(HubErrorKind kind, string message, Exception? inner = null)
    : ReasonSharpException(message, inner)
{
    public HubErrorKind Kind { get; } = kind;
}
