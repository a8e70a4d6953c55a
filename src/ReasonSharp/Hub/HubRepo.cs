using System.Text.RegularExpressions;

namespace ReasonSharp.Hub;

public enum HubRepoType { Model, Dataset }

/// <summary>A repository on the Hub: `org/name` (or a bare `name`) and its type.</summary>
public sealed partial record HubRepo(string Id, HubRepoType Type = HubRepoType.Model)
{
    /// <summary>"model" or "dataset", as huggingface_hub's repo_type.</summary>
    public string TypeName => Type == HubRepoType.Dataset ? "dataset" : "model";

    /// <summary>The API's collection: "models" or "datasets".</summary>
    public string ApiCollection => TypeName + "s";

    /// <summary>The prefix of web and resolve URLs: "" for models, "datasets/" for datasets.</summary>
    public string UrlPrefix => Type == HubRepoType.Dataset ? "datasets/" : "";

    /// <summary>The repository's folder in the cache: `models--org--name` or `datasets--org--name`.</summary>
    public string CacheFolderName => $"{ApiCollection}--{Id.Replace("/", "--", StringComparison.Ordinal)}";

    public override string ToString() => Type == HubRepoType.Dataset ? $"dataset {Id}" : Id;

    /// <summary>A repository id as the Hub accepts it: `name` or `org/name`, letters, digits, `-`, `_`, `.`.</summary>
    public static HubRepo Parse(string id, HubRepoType type, string source)
    {
        if (!IdPattern().IsMatch(id) || id.Contains("--", StringComparison.Ordinal)
            || id.Contains("..", StringComparison.Ordinal))
            throw new ReasonSharpException(
                $"{source}: '{id}' is not a Hub repository id; expected org/name (letters, digits, '-', '_', '.')");
        return new HubRepo(id, type);
    }

    public static HubRepoType ParseType(string text, string source) => text.Trim().ToLowerInvariant() switch
    {
        "model" or "models" => HubRepoType.Model,
        "dataset" or "datasets" => HubRepoType.Dataset,
        _ => throw new ReasonSharpException($"{source}: repo type '{text}' is unknown; expected model or dataset"),
    };

    /// <summary>
    /// True when <paramref name="path"/> reads as `org/name` and names nothing on disk: the form that is resolved
    /// through the Hub wherever a model or dataset path is accepted.
    /// </summary>
    public static bool LooksLikeId(string? path) =>
        path is { Length: > 0 } && OrgNamePattern().IsMatch(path) && !path.Contains("--", StringComparison.Ordinal)
        && !path.Contains("..", StringComparison.Ordinal) && !File.Exists(path) && !Directory.Exists(path);

    /// <summary>True when <paramref name="id"/> has the form `org/name`, whatever is on disk.</summary>
    public static bool LooksLikeIdForm(string id) =>
        OrgNamePattern().IsMatch(id) && !id.Contains("--", StringComparison.Ordinal)
        && !id.Contains("..", StringComparison.Ordinal);

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95})?$")]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}$")]
    private static partial Regex OrgNamePattern();
}
