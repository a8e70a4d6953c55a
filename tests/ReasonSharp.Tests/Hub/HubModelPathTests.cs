using System.Text.Json.Serialization;
using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Hub;
using ReasonSharp.Tests.Data;

namespace ReasonSharp.Tests.Hub;

/// <summary>Hub ids where a model or dataset path is accepted, resolved through the cache from the Hub HF_ENDPOINT
/// names (a <see cref="FakeHub"/>).</summary>
[Collection("Console")]
public sealed class HubModelPathTests
{
    /// <summary>Points HF_ENDPOINT and HF_HUB_CACHE at <paramref name="hub"/> and a temp cache until
    /// disposed.</summary>
    internal sealed class HubEnvironment : IDisposable
    {
        readonly Dictionary<string, string?> _saved = new();

        public HubEnvironment(FakeHub hub, string cache, string? token = null)
        {
            Set("HF_ENDPOINT", hub.Endpoint);
            Set("HF_HUB_CACHE", cache);
            Set("HF_TOKEN", token);
            Set("HF_HUB_OFFLINE", null);
            HubPaths.Reset();
        }

        void Set(string name, string? value)
        {
            _saved[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, value);
        }

        public void Dispose()
        {
            foreach (var (name, value) in _saved) Environment.SetEnvironmentVariable(name, value);
            HubPaths.Reset();
        }
    }

    [Fact]
    public async Task SftTrainsAHubModelOnAHubDatasetThroughTheCache()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var hub = new FakeHub { LfsThreshold = 4096 };
        using (var model = TinyLanguageModels.Create(dir)) model.Save(dir.File("tiny"));
        var modelCommit = hub.Publish("org/tiny", dir.File("tiny"));
        var data = dir.File("arith.jsonl");
        Assert.Equal(0, (await CliHarness.Run("data", "generate", "--task", "arithmetic", "--difficulty", "1",
            "--n", "40", "--seed", "0", "--out", data, "--test-fraction", "0.1")).Code);
        var (train, test) = SyntheticDataset.SplitPaths(data);
        var dataCommit = hub.Publish("org/arith", new Dictionary<string, byte[]>
        {
            ["main/train-00000-of-00001.jsonl"] = File.ReadAllBytes(train),
            ["main/test-00000-of-00001.jsonl"] = File.ReadAllBytes(test),
            ["socratic/train-00000-of-00001.jsonl"] = File.ReadAllBytes(test),
            ["README.md"] = "# arith"u8.ToArray(),
        }, type: "dataset");
        var cache = dir.File("cache");
        using var environment = new HubEnvironment(hub, cache, hub.Token);

        var output = dir.File("run");
        var (code, text) = await CliHarness.Run("sft", "--set", "model_name_or_path=org/tiny",
            "--set", "dataset_name=org/arith", "--set", "dataset_config=main", "--set", $"output_dir={output}",
            "--set", "max_steps=2", "--set", "device=cpu", "--set", "per_device_train_batch_size=2",
            "--set", "max_length=128", "--set", "write_report=false", "--set", "eval_strategy=no",
            "--set", "push_to_hub=true", "--set", "hub_model_id=me/tiny-sft");
        Assert.True(code == 0, text);
        Assert.Contains("train data: 36 examples", text);
        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
        // push_to_hub published the trained model.
        var pushed = hub.Files("me/tiny-sft");
        Assert.Equal(File.ReadAllBytes(Path.Combine(output, "model.safetensors")), pushed["model.safetensors"]);
        Assert.True(pushed.ContainsKey("tokenizer.json"));

        var snapshot = Path.Combine(cache, "models--org--tiny", "snapshots", modelCommit);
        Assert.NotNull(new FileInfo(Path.Combine(snapshot, "model.safetensors")).LinkTarget);
        Assert.NotNull(new FileInfo(Path.Combine(snapshot, "tokenizer.json")).LinkTarget);
        var dataSnapshot = Path.Combine(cache, "datasets--org--arith", "snapshots", dataCommit);
        Assert.True(File.Exists(Path.Combine(dataSnapshot, "main", "train-00000-of-00001.jsonl")));
        Assert.False(File.Exists(Path.Combine(dataSnapshot, "socratic", "train-00000-of-00001.jsonl"))); // config only

        // `reason download` prints the snapshot folder; nothing is fetched again.
        int before = hub.Requests.Count;
        (code, text) = await CliHarness.Run("download", "org/tiny");
        Assert.True(code == 0, text);
        Assert.Contains(snapshot, text);
        Assert.Contains("0 downloaded", text);
        Assert.DoesNotContain(hub.Requests.Skip(before), r => r.Path.Contains("/resolve/"));
    }

    public sealed class GsmRow
    {
        [JsonPropertyName("question")] public string Question { get; set; } = "";
        [JsonPropertyName("answer")] public string Answer { get; set; } = "";
    }

    [Fact]
    public void AParquetHubDatasetWithConfigsReadsOneConfigsSplit()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var hub = new FakeHub();
        byte[] Parquet(string name, int count, int offset)
        {
            var path = dir.File(name);
            DataFiles.WriteParquet(path, Enumerable.Range(offset, count).Select(i => new GsmRow
            {
                Question = $"What is {i} + {i}?", Answer = $"{i} + {i} = {2 * i}\n#### {2 * i}",
            }));
            return File.ReadAllBytes(path);
        }
        var commit = hub.Publish("openai/gsm8k", new Dictionary<string, byte[]>
        {
            ["main/train-00000-of-00001.parquet"] = Parquet("a.parquet", 8, 0),
            ["main/test-00000-of-00001.parquet"] = Parquet("b.parquet", 3, 100),
            ["socratic/train-00000-of-00001.parquet"] = Parquet("c.parquet", 5, 200),
            ["socratic/test-00000-of-00001.parquet"] = Parquet("d.parquet", 2, 300),
            ["README.md"] = "# gsm8k"u8.ToArray(),
        }, type: "dataset");
        using var environment = new HubEnvironment(hub, dir.File("cache"));

        var test = DatasetLoading.Load("openai/gsm8k", "test", "main", null);
        Assert.Equal(3, test.Count);
        Assert.Equal("200", test[0].GoldAnswer);
        var snapshot = Path.Combine(dir.File("cache"), "datasets--openai--gsm8k", "snapshots", commit);
        Assert.False(Directory.Exists(Path.Combine(snapshot, "socratic")));

        var socratic = DatasetReader
            .ReadExamples(new DatasetSource("openai/gsm8k") { Split = "train", Config = "socratic" }).ToList();
        Assert.Equal(5, socratic.Count);
        Assert.Equal("400", socratic[0].GoldAnswer);
    }

    [Fact] // changes the working folder: runs alone (Console collection)
    public void AMissingFolderUnderAnExistingLocalFolderIsNoHubId()
    {
        using var dir = TestEnvironment.NewTempDir();
        Directory.CreateDirectory(dir.File("runs"));
        var cwd = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = dir.Path;
            Assert.False(HubPaths.IsHubId("runs/sft-tiny"));
            Assert.True(HubPaths.IsHubId("org/sft-tiny"));
            Assert.Equal("runs/sft-tiny", HubPaths.Model("runs/sft-tiny"));
        }
        finally { Environment.CurrentDirectory = cwd; }
    }

    [Fact]
    public async Task UploadThenDownloadFromTheCommandLine()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var hub = new FakeHub();
        var folder = dir.File("model");
        Directory.CreateDirectory(Path.Combine(folder, "checkpoint-5"));
        File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), new byte[5000]);
        File.WriteAllText(Path.Combine(folder, "checkpoint-5", "state.json"), "{}");
        using var environment = new HubEnvironment(hub, dir.File("cache"), hub.Token);

        var (code, text) = await CliHarness.Run("upload", folder, "me/cli-model", "--exclude", "checkpoint-*");
        Assert.True(code == 0, text);
        Assert.Contains("committed 2 file(s) (1 LFS, 0 unchanged)", text);
        Assert.Equal([".gitattributes", "config.json", "model.safetensors"], hub.Files("me/cli-model").Keys.Order());
        (code, text) = await CliHarness.Run("upload", folder, "me/cli-model", "--exclude", "checkpoint-*");
        Assert.Contains("nothing to commit: all 2 file(s) are already on the Hub", text);

        var local = dir.File("local");
        (code, text) = await CliHarness.Run("download", "me/cli-model", "--include", "*.json", "--local-dir", local);
        Assert.True(code == 0, text);
        Assert.Contains(local, text);
        Assert.Equal("{}", File.ReadAllText(Path.Combine(local, "config.json")));
        Assert.False(File.Exists(Path.Combine(local, "model.safetensors")));
    }

    [Fact]
    public void SettingsComeFromTheEnvironmentAsHuggingFaceHubReadsThem()
    {
        using var dir = TestEnvironment.NewTempDir();
        string[] names = ["HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
            "HF_TOKEN_PATH", "HF_ENDPOINT", "HF_HUB_OFFLINE"];
        var saved = names.ToDictionary(n => n, Environment.GetEnvironmentVariable);
        try
        {
            foreach (var name in names) Environment.SetEnvironmentVariable(name, null);
            Environment.SetEnvironmentVariable("HF_HOME", dir.Path);
            Environment.SetEnvironmentVariable("HF_ENDPOINT", "https://hub.example/");
            File.WriteAllText(dir.File("token"), "hf_from_file\n");
            var settings = HubSettings.FromEnvironment();
            Assert.Equal(Path.Combine(dir.Path, "hub"), settings.CacheDir);
            Assert.Equal("hf_from_file", settings.Token);
            Assert.Equal("https://hub.example", settings.Endpoint);
            Assert.False(settings.Offline);

            Environment.SetEnvironmentVariable("HF_HUB_CACHE", dir.File("elsewhere"));
            Environment.SetEnvironmentVariable("HF_TOKEN", "hf_env");
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
            settings = HubSettings.FromEnvironment();
            Assert.Equal((dir.File("elsewhere"), "hf_env", true),
                (settings.CacheDir, settings.Token, settings.Offline));
        }
        finally
        {
            foreach (var (name, value) in saved) Environment.SetEnvironmentVariable(name, value);
        }
    }

    [Fact]
    public async Task AMissingHubModelIsOneClearError()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var hub = new FakeHub();
        using var environment = new HubEnvironment(hub, dir.File("cache"));
        var (code, text) = await CliHarness.Run("generate", "org/nothing-here", "--prompt", "hi");
        Assert.Equal(2, code);
        Assert.Contains("error: 'org/nothing-here' is no local file or folder, and as a Hub model id: " +
                        "org/nothing-here: repository not found", text);
        (code, text) = await CliHarness.Run("download", "org/nothing-here", "--repo-type", "dataset");
        Assert.Equal(2, code);
        Assert.Contains("error: dataset org/nothing-here: repository not found", text);
    }
}
