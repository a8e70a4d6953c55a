using System.Security.Cryptography;
using System.Text;

namespace ReasonSharp.Distillation;

/// <summary>
/// Finished teacher requests on disk: one file per request, named by the SHA-256 of the teacher's address and the
/// request body, holding the response body. Written atomically once the whole response is in, so a crash or Ctrl-C
/// never leaves a partial entry and a rerun pays for no request that finished.
/// </summary>
public sealed class RequestCache
{
    public string Folder { get; }

    public RequestCache(string folder)
    {
        Folder = folder;
        Directory.CreateDirectory(folder);
    }

    public static string Key(Uri teacher, string requestJson) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(teacher.AbsoluteUri + "\n" + requestJson)));

    public string PathOf(string key) => Path.Combine(Folder, key[..2], key + ".json");

    public string? Get(string key) => File.Exists(PathOf(key)) ? File.ReadAllText(PathOf(key)) : null;

    public void Put(string key, string responseJson) => AtomicFile.WriteAllText(PathOf(key), responseJson);

    /// <summary>Entries on disk.</summary>
    public int Count => Directory.Exists(Folder)
        ? Directory.EnumerateFiles(Folder, "*.json", SearchOption.AllDirectories).Count() : 0;
}
