using System.Text;
using ReasonSharp.Hub;

namespace ReasonSharp.Tests.Hub;

/// <summary>`reason upload` against <see cref="FakeHub"/>: the commit API round trip (create, preupload, LFS batch,
/// NDJSON commit), multipart LFS, no empty commits, and the token it needs.</summary>
public sealed class HubUploadTests
{
    static readonly byte[] Weights = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 31 % 253)).ToArray();

    static string MakeFolder(TempDir dir)
    {
        var folder = dir.File("model");
        Directory.CreateDirectory(Path.Combine(folder, "nested"));
        Directory.CreateDirectory(Path.Combine(folder, ".git"));
        File.WriteAllText(Path.Combine(folder, "config.json"), "{\"model_type\": \"qwen2\"}");
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), Weights);
        File.WriteAllText(Path.Combine(folder, "nested", "notes.txt"), "hello");
        File.WriteAllText(Path.Combine(folder, ".git", "HEAD"), "ref: refs/heads/main");
        return folder;
    }

    static HubSettings Settings(FakeHub hub, TempDir dir, string? token) =>
        new() { Endpoint = hub.Endpoint, CacheDir = dir.File("hub"), Token = token };

    [Fact]
    public void Upload_CommitsTheFolderAndADownloadGetsItBack()
    {
        using var hub = new FakeHub();
        using var dir = TestEnvironment.NewTempDir();
        var folder = MakeFolder(dir);
        var settings = Settings(hub, dir, hub.Token);

        var result = new HubUploader(settings)
            .Upload(new HubUploadRequest(new HubRepo("me/tiny"), folder) { CommitMessage = "first" });

        Assert.NotNull(result.CommitOid);
        Assert.Equal((1, 2, 0), (result.LfsFiles, result.RegularFiles, result.Unchanged));
        Assert.Equal(["config.json", "model.safetensors", "nested/notes.txt"], result.Files);
        var payload = Assert.Single(hub.CommitPayloads);
        Assert.Equal("header", payload[0]["key"]!.GetValue<string>());
        Assert.Equal("first", payload[0]["value"]!["summary"]!.GetValue<string>());
        var lfs = Assert.Single(payload, l => l["key"]!.GetValue<string>() == "lfsFile");
        Assert.Equal(FakeHub.Sha256(Weights), lfs["value"]!["oid"]!.GetValue<string>());
        Assert.Contains(hub.Requests, r => r.Method == "PUT" && r.Path == $"/lfs-upload/{FakeHub.Sha256(Weights)}");
        Assert.Contains(hub.Requests, r => r.Path == "/lfs-verify");

        var download = new HubDownloader(settings).Download(new HubDownloadRequest(new HubRepo("me/tiny")));
        Assert.Equal(result.CommitOid, download.Commit);
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(download.Folder, "model.safetensors")));
        Assert.Equal("hello", File.ReadAllText(Path.Combine(download.Folder, "nested", "notes.txt")));
        Assert.False(Directory.Exists(Path.Combine(download.Folder, ".git")));

        // Nothing changed: no second commit.
        var again = new HubUploader(settings).Upload(new HubUploadRequest(new HubRepo("me/tiny"), folder));
        Assert.Null(again.CommitOid);
        Assert.Equal(3, again.Unchanged);
        Assert.Single(hub.CommitPayloads);

        // One changed file: a commit with just it.
        File.WriteAllText(Path.Combine(folder, "nested", "notes.txt"), "changed");
        var third = new HubUploader(settings).Upload(new HubUploadRequest(new HubRepo("me/tiny"), folder));
        Assert.Equal(["nested/notes.txt"], third.Files);
        Assert.Equal("changed", Encoding.UTF8.GetString(hub.Files("me/tiny")["nested/notes.txt"]));
        Assert.Equal(Weights, hub.Files("me/tiny")["model.safetensors"]);
    }

    [Fact]
    public void LargeLfsFiles_GoUpInParts()
    {
        using var hub = new FakeHub { MultipartChunk = 100_000 };
        using var dir = TestEnvironment.NewTempDir();
        var folder = MakeFolder(dir);

        var result = new HubUploader(Settings(hub, dir, hub.Token))
            .Upload(new HubUploadRequest(new HubRepo("me/parts"), folder));

        Assert.Equal(1, result.LfsFiles);
        Assert.Equal(3,
            hub.Requests.Count(r => r.Method == "PUT" && r.Path.StartsWith("/lfs-part/", StringComparison.Ordinal)));
        Assert.Equal(Weights, hub.Files("me/parts")["model.safetensors"]);
    }

    [Fact]
    public void Upload_NeedsAToken()
    {
        using var hub = new FakeHub();
        using var dir = TestEnvironment.NewTempDir();
        var folder = MakeFolder(dir);
        var error = Assert.Throws<HubException>(() =>
            new HubUploader(Settings(hub, dir, null)).Upload(new HubUploadRequest(new HubRepo("me/tiny"), folder)));
        Assert.Contains("me/tiny: uploading needs a token", error.Message);
        Assert.Contains("HF_TOKEN", error.Message);
        var wrong = Assert.Throws<HubException>(() =>
            new HubUploader(Settings(hub, dir, "hf_wrong"))
                .Upload(new HubUploadRequest(new HubRepo("me/tiny"), folder)));
        Assert.Equal(HubErrorKind.Gated, wrong.Kind);
        Assert.Empty(hub.CommitPayloads);
    }
}
