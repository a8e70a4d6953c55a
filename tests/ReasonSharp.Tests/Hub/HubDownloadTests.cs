using System.Text;
using ReasonSharp.Hub;

namespace ReasonSharp.Tests.Hub;

/// <summary>`reason download` against <see cref="FakeHub"/>: huggingface_hub's cache layout, no-op repeats, resumed
/// partial files, sha256 checks and the gated, missing and lost-network errors.</summary>
public sealed class HubDownloadTests
{
    static readonly byte[] Weights = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7919 % 251)).ToArray();

    static Dictionary<string, byte[]> RepoFiles() => new()
    {
        ["config.json"] = Encoding.UTF8.GetBytes("{\"model_type\": \"qwen2\"}"),
        ["model.safetensors"] = Weights,
        ["nested/deeper/notes.txt"] = Encoding.UTF8.GetBytes("hello"),
        ["README.md"] = Encoding.UTF8.GetBytes("# tiny"),
    };

    static HubSettings Settings(FakeHub hub, TempDir dir, string? token = null) =>
        new() { Endpoint = hub.Endpoint, CacheDir = dir.File("hub"), Token = token, MaxWorkers = 4 };

    static HubDownloadResult Download(HubSettings settings, string id, IReadOnlyList<string>? include = null) =>
        new HubDownloader(settings).Download(new HubDownloadRequest(new HubRepo(id)) { Include = include ?? [] });

    [Fact]
    public void Download_WritesHuggingFaceHubsCacheLayout()
    {
        using var hub = new FakeHub();
        using var dir = TestEnvironment.NewTempDir();
        var files = RepoFiles();
        var commit = hub.Publish("org/tiny", files);
        var result = Download(Settings(hub, dir), "org/tiny");

        var repoFolder = Path.Combine(dir.File("hub"), "models--org--tiny");
        Assert.Equal(Path.Combine(repoFolder, "snapshots", commit), result.Folder);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repoFolder, "refs", "main")));
        Assert.Equal(4, result.FilesDownloaded);
        foreach (var (path, content) in files)
        {
            var pointer = Path.Combine(result.Folder, path);
            var link = new FileInfo(pointer).LinkTarget;
            var depth = path.Count(c => c == '/');
            var expected = string.Concat(Enumerable.Repeat("../", depth + 2)) + "blobs/" + hub.EtagOf(content);
            Assert.Equal(expected, link);
            Assert.Equal(content, File.ReadAllBytes(pointer));
        }
        Assert.Equal(64, hub.EtagOf(Weights).Length); // the weights are an LFS file named by their sha256
        Assert.True(File.Exists(Path.Combine(repoFolder, "blobs", FakeHub.Sha256(Weights))));
        Assert.Empty(Directory.EnumerateFiles(repoFolder, "*.incomplete", SearchOption.AllDirectories));
        Assert.Contains(hub.Requests, r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal));
    }

    [Fact]
    public void SecondDownload_FetchesNothing()
    {
        using var hub = new FakeHub();
        using var dir = TestEnvironment.NewTempDir();
        hub.Publish("org/tiny", RepoFiles());
        var settings = Settings(hub, dir);
        var first = Download(settings, "org/tiny");
        int before = hub.Requests.Count;
        var second = Download(settings, "org/tiny");

        Assert.Equal(first.Folder, second.Folder);
        Assert.Equal(0, second.FilesDownloaded);
        Assert.Equal(0, second.BytesDownloaded);
        var after = hub.Requests.Skip(before).ToList();
        Assert.Single(after); // only the revision request
        Assert.Contains("/revision/main", after[0].Path);
    }

    [Fact]
    public void IncompleteBlob_ResumesWithARangeRequest()
    {
        using var hub = new FakeHub();
        using var dir = TestEnvironment.NewTempDir();
        hub.Publish("org/tiny", RepoFiles());
        var sha = FakeHub.Sha256(Weights);
        var incomplete = Path.Combine(dir.File("hub"), "models--org--tiny", "blobs", sha + ".incomplete");
        Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!);
        const int half = 123_457;
        File.WriteAllBytes(incomplete, Weights[..half]);

        var result = Download(Settings(hub, dir), "org/tiny", ["*.safetensors"]);

        Assert.Contains(hub.Requests, r => r.Path == $"/cdn/{sha}" && r.Range == $"bytes={half}-");
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(result.Folder, "model.safetensors")));
        Assert.Equal(Weights.Length - half, result.BytesDownloaded - half);
        Assert.False(File.Exists(incomplete));
        Assert.Equal(["model.safetensors"], result.Files);
    }

    [Fact]
    public void Sha256Mismatch_IsRejectedAndNothingIsTakenAsComplete()
    {
        using var hub = new FakeHub();
        using var dir = TestEnvironment.NewTempDir();
        hub.Publish("org/tiny", RepoFiles());
        hub.Corrupt["model.safetensors"] = true;

        var error = Assert.Throws<HubException>(() => Download(Settings(hub, dir), "org/tiny"));

        Assert.Equal(HubErrorKind.Integrity, error.Kind);
        Assert.Contains("model.safetensors", error.Message);
        Assert.Contains(FakeHub.Sha256(Weights), error.Message);
        var blobs = Path.Combine(dir.File("hub"), "models--org--tiny", "blobs");
        Assert.False(File.Exists(Path.Combine(blobs, FakeHub.Sha256(Weights))));
        Assert.False(File.Exists(Path.Combine(blobs, FakeHub.Sha256(Weights) + ".incomplete")));
        Assert.False(Directory.Exists(Path.Combine(dir.File("hub"), "models--org--tiny", "snapshots")));
    }

    [Fact]
    public void LostNetwork_KeepsThePartialFileAndTheNextRunResumesIt()
    {
        using var hub = new FakeHub();
        using var dir = TestEnvironment.NewTempDir();
        hub.Publish("org/tiny", RepoFiles());
        hub.CutAfterBytes = 100_000;
        var settings = Settings(hub, dir);

        var error = Assert.Throws<HubException>(() => Download(settings, "org/tiny", ["model.safetensors"]));
        Assert.Equal(HubErrorKind.Network, error.Kind);
        Assert.Contains("org/tiny: model.safetensors", error.Message);
        Assert.Contains("run again", error.Message);
        var incomplete =
            Path.Combine(dir.File("hub"), "models--org--tiny", "blobs", FakeHub.Sha256(Weights) + ".incomplete");
        long kept = new FileInfo(incomplete).Length;
        Assert.InRange(kept, 1, Weights.Length - 1);
        Assert.False(File.Exists(incomplete[..^".incomplete".Length]));

        hub.CutAfterBytes = null;
        var result = Download(settings, "org/tiny", ["model.safetensors"]);
        Assert.Contains(hub.Requests, r => r.Range == $"bytes={kept}-");
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(result.Folder, "model.safetensors")));
    }

    [Fact]
    public void GatedRepo_NeedsTheToken()
    {
        using var hub = new FakeHub();
        using var dir = TestEnvironment.NewTempDir();
        hub.Publish("org/gated", RepoFiles(), gated: true);

        var error = Assert.Throws<HubException>(() => Download(Settings(hub, dir), "org/gated"));
        Assert.Equal(HubErrorKind.Gated, error.Kind);
        Assert.Contains("org/gated", error.Message);
        Assert.Contains("HF_TOKEN", error.Message);

        var wrong = Assert.Throws<HubException>(() => Download(Settings(hub, dir, "hf_wrong"), "org/gated"));
        Assert.Contains("with the token given", wrong.Message);

        var result = Download(Settings(hub, dir, hub.Token), "org/gated");
        Assert.Equal(4, result.Files.Count);
        Assert.Contains(hub.Requests, r => r.Path.Contains("/resolve/") && r.Authorization == $"Bearer {hub.Token}");
        // The token goes to the Hub only, never to the CDN host an LFS file redirects to.
        var cdn = hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(cdn);
        Assert.All(cdn, r => Assert.Null(r.Authorization));
    }

    [Fact]
    public void MissingRepoFileOrRevision_SayWhich()
    {
        using var hub = new FakeHub();
        using var dir = TestEnvironment.NewTempDir();
        hub.Publish("org/tiny", RepoFiles());
        var settings = Settings(hub, dir);

        var repo = Assert.Throws<HubException>(() => Download(settings, "org/absent"));
        Assert.Equal(HubErrorKind.RepoNotFound, repo.Kind);
        Assert.Contains("org/absent: repository not found", repo.Message);

        var none = Assert.Throws<HubException>(() => Download(settings, "org/tiny", ["*.gguf"]));
        Assert.Equal(HubErrorKind.FileNotFound, none.Kind);
        Assert.Contains("no file matches --include *.gguf", none.Message);

        var revision = Assert.Throws<HubException>(() => new HubDownloader(settings).Download(
            new HubDownloadRequest(new HubRepo("org/tiny")) { Revision = "v9" }));
        Assert.Equal(HubErrorKind.RevisionNotFound, revision.Kind);
        Assert.Contains("revision 'v9' not found", revision.Message);

        using var client = new HubClient(settings);
        var file = Assert.Throws<HubException>(() =>
            client.FileInfoAsync(new HubRepo("org/tiny"), "main", "missing.bin", default).GetAwaiter().GetResult());
        Assert.Equal(HubErrorKind.FileNotFound, file.Kind);
        Assert.Contains("file 'missing.bin' not found", file.Message);
    }

    [Fact]
    public void UnreachableHub_IsANetworkErrorOrTheCachedSnapshot()
    {
        using var dir = TestEnvironment.NewTempDir();
        string commit;
        HubSettings settings;
        using (var hub = new FakeHub())
        {
            commit = hub.Publish("org/tiny", RepoFiles());
            settings = Settings(hub, dir);
            Download(settings, "org/tiny");
        }
        // The hub is gone: the cached snapshot of main is used; an uncached repository is a network error.
        var cached = Download(settings, "org/tiny");
        Assert.True(cached.FromCacheOnly);
        Assert.EndsWith(commit, cached.Folder);
        var error = Assert.Throws<HubException>(() => Download(settings, "org/other"));
        Assert.Equal(HubErrorKind.Network, error.Kind);
        Assert.Contains("network error", error.Message);

        var offline = new HubDownloader(settings with { Offline = true })
            .Download(new HubDownloadRequest(new HubRepo("org/tiny")));
        Assert.Equal(4, offline.Files.Count);
    }

    [Fact]
    public void LocalDir_GetsPlainCopies()
    {
        using var hub = new FakeHub();
        using var dir = TestEnvironment.NewTempDir();
        var files = RepoFiles();
        hub.Publish("org/tiny", files);
        var result = new HubDownloader(Settings(hub, dir)).Download(
            new HubDownloadRequest(new HubRepo("org/tiny")) { LocalDir = dir.File("local") });
        Assert.Equal(dir.File("local"), result.Folder);
        foreach (var (path, content) in files)
        {
            var copy = Path.Combine(dir.File("local"), path);
            Assert.Null(new FileInfo(copy).LinkTarget);
            Assert.Equal(content, File.ReadAllBytes(copy));
        }
    }

    [Theory]
    [InlineData("*.json", "config.json", true)]
    [InlineData("*.json", "onnx/config.json", true)]
    [InlineData("onnx/", "onnx/model.onnx", true)]
    [InlineData("model-0000[1-2]*", "model-00003-of-00003.safetensors", false)]
    [InlineData("model-0000[1-2]*", "model-00002-of-00003.safetensors", true)]
    [InlineData("tokenizer.?son", "tokenizer.json", true)]
    public void IncludePatterns_MatchAsFnmatch(string pattern, string path, bool matches) =>
        Assert.Equal(matches, HubGlob.Matcher([pattern])(path));

    [Theory]
    [InlineData("Qwen/Qwen2.5-0.5B-Instruct", true)]
    [InlineData("openai/gsm8k", true)]
    [InlineData("gpt2", false)]
    [InlineData("./org/name", false)]
    [InlineData("/abs/path", false)]
    [InlineData("runs/sft-tiny/extra", false)]
    public void HubIds_AreOrgSlashName(string text, bool isId) => Assert.Equal(isId, HubRepo.LooksLikeId(text));

}
