using ReasonSharp.Data;
using ReasonSharp.Hub;
using ReasonSharp.Tests.Data;
using ReasonSharp.Tests.Hub;
using YamlDotNet.RepresentationModel;

namespace ReasonSharp.Tests.Recipes;

/// <summary>
/// Every GPU recipe against a <see cref="FakeHub"/> serving tiny repositories under the Hub ids the recipe names: its
/// header's `reason download` commands run verbatim (as processes, HF_ENDPOINT pointing at the fake Hub), its train
/// command runs with `--check` (pipelines) or `--print-config` (sft, grpo), and every model and dataset split it
/// names then resolves from the cache those downloads filled, with nothing more fetched.
/// </summary>
[Collection("Console")] // sets HF_ENDPOINT and HF_HUB_CACHE for the process
public class GpuRecipeHeaderTests
{
    /// <summary>A model or dataset split a recipe reads from the Hub.</summary>
    public sealed record HubUse(HubRepoType Type, string Id, string? Config, string? Split);

    public static IEnumerable<object[]> GpuRecipes() => RecipeHeaders.All()
        .Where(r => RecipeHeaders.Scalar(RecipeHeaders.Yaml(r), "device") == "cuda")
        .Select(r => new object[] { r });

    /// <summary>The Hub ids of the recipe's job (or of each stage), with each dataset's config and split.</summary>
    public static IReadOnlyList<HubUse> HubUses(string recipe)
    {
        var root = RecipeHeaders.Yaml(recipe);
        var jobs = root.Children.TryGetValue(new YamlScalarNode("stages"), out var stages)
            ? ((YamlSequenceNode)stages).Children.Cast<YamlMappingNode>().ToList()
            : [root];
        var uses = new List<HubUse>();
        foreach (var job in jobs)
        {
            string? Get(string key) => RecipeHeaders.Scalar(job, key);
            bool IsId(string? value) => value is not null && !value.Contains("${") && HubRepo.LooksLikeId(value);
            foreach (var key in new[] { "model_name_or_path", "model" })
                if (Get(key) is { } model && IsId(model)) uses.Add(new(HubRepoType.Model, model, null, null));
            var config = Get("dataset_config");
            var defaultSplit = Get("type") == "sample" ? "train" : "test";
            foreach (var (key, split) in new[]
            {
                ("dataset_name", Get("dataset_train_split") ?? "train"),
                ("eval_dataset_name", Get("dataset_test_split") ?? "test"),
                ("dataset", Get("dataset_split") ?? defaultSplit),
            })
                if (Get(key) is { } dataset && IsId(dataset))
                    uses.Add(new(HubRepoType.Dataset, dataset, config, split));
        }
        return uses.Distinct().ToList();
    }

    public sealed class GsmRow
    {
        [System.Text.Json.Serialization.JsonPropertyName("question")] public string Question { get; set; } = "";
        [System.Text.Json.Serialization.JsonPropertyName("answer")] public string Answer { get; set; } = "";
    }

    public sealed class MessageRow
    {
        [System.Text.Json.Serialization.JsonPropertyName("content")] public string Content { get; set; } = "";
        [System.Text.Json.Serialization.JsonPropertyName("role")] public string Role { get; set; } = "";
    }

    /// <summary>trl-lib/ultrafeedback_binarized: implicit-prompt conversations and their scores.</summary>
    public sealed class PreferenceRow
    {
        [System.Text.Json.Serialization.JsonPropertyName("chosen")] public List<MessageRow> Chosen { get; set; } = [];
        [System.Text.Json.Serialization.JsonPropertyName("rejected")]
        public List<MessageRow> Rejected { get; set; } = [];
        [System.Text.Json.Serialization.JsonPropertyName("score_chosen")] public double ScoreChosen { get; set; }
        [System.Text.Json.Serialization.JsonPropertyName("score_rejected")] public double ScoreRejected { get; set; }
    }

    static IEnumerable<PreferenceRow> Preferences(int count, int offset) => Enumerable.Range(offset, count)
        .Select(i => new PreferenceRow
        {
            Chosen = [new() { Role = "user", Content = $"What is {i} + {i}?" },
                new() { Role = "assistant", Content = $"{2 * i}" }],
            Rejected = [new() { Role = "user", Content = $"What is {i} + {i}?" },
                new() { Role = "assistant", Content = $"{2 * i + 1}" }],
            ScoreChosen = 8, ScoreRejected = 3,
        });

    /// <summary>Tiny stand-ins of the datasets the recipes name, in their Hub layout and schema.</summary>
    static Dictionary<string, byte[]> FakeDataset(string id, TempDir dir)
    {
        byte[] Parquet<T>(IEnumerable<T> rows)
        {
            var path = dir.File($"{Guid.NewGuid():N}.parquet");
            DataFiles.WriteParquet(path, rows);
            return File.ReadAllBytes(path);
        }
        IEnumerable<GsmRow> Gsm(int count, int offset) => Enumerable.Range(offset, count).Select(i => new GsmRow
        {
            Question = $"What is {i} + {i}?", Answer = $"{i} + {i} = {2 * i}\n#### {2 * i}",
        });
        return id switch
        {
            "openai/gsm8k" => new()
            {
                ["main/train-00000-of-00001.parquet"] = Parquet(Gsm(8, 0)),
                ["main/test-00000-of-00001.parquet"] = Parquet(Gsm(3, 100)),
                ["socratic/train-00000-of-00001.parquet"] = Parquet(Gsm(5, 200)),
                ["socratic/test-00000-of-00001.parquet"] = Parquet(Gsm(2, 300)),
                ["README.md"] = "# gsm8k"u8.ToArray(),
            },
            "bespokelabs/Bespoke-Stratos-17k" => new()
            {
                ["data/train-00000-of-00001.parquet"] = Parquet(DataFiles.BespokeRows(6)),
                ["README.md"] = "# Bespoke-Stratos-17k"u8.ToArray(),
            },
            "trl-lib/ultrafeedback_binarized" => new()
            {
                ["data/train-00000-of-00001.parquet"] = Parquet(Preferences(6, 0)),
                ["data/test-00000-of-00001.parquet"] = Parquet(Preferences(3, 100)),
                ["README.md"] = "# ultrafeedback_binarized"u8.ToArray(),
            },
            _ => throw new InvalidOperationException($"no fake of the Hub dataset {id}: add one to this test"),
        };
    }

    [Theory]
    [MemberData(nameof(GpuRecipes))]
    public void HeaderDownloadsWhatTheRecipeReadsAndItsTrainCommandChecksOut(string recipe)
    {
        var commands = RecipeHeaders.Commands(recipe);
        var train = Assert.Single(commands, c => c.Config == $"recipes/{recipe}");
        var uses = HubUses(recipe);
        Assert.Contains(uses, u => u.Type == HubRepoType.Model);
        Assert.Contains(uses, u => u.Type == HubRepoType.Dataset);

        using var dir = RecipeHeaders.EmptyFolderWithRecipes();
        using var files = TestEnvironment.NewTempDir();
        using var hub = new FakeHub { LfsThreshold = 4096 };
        using (var model = TinyLanguageModels.Create(files)) model.Save(files.File("model"));
        foreach (var id in uses.Select(u => (u.Type, u.Id)).Distinct())
            if (id.Type == HubRepoType.Model) hub.Publish(id.Id, files.File("model"));
            else hub.Publish(id.Id, FakeDataset(id.Id, files), type: "dataset");
        using var environment = new HubModelPathTests.HubEnvironment(hub, files.File("hf-cache"));

        foreach (var download in commands.Where(c => c.Verb == "download"))
        {
            var (code, output) = RecipeHeaders.Run(download, dir.Path);
            Assert.True(code == 0, $"recipes/{recipe}: `{download}` exited {code}:\n{output}");
        }
        int downloaded = hub.Requests.Count;

        var check = train.Verb == "pipeline" ? "--check" : "--print-config";
        var (checkCode, checkOutput) = RecipeHeaders.Run(train, dir.Path, [check]);
        Assert.True(checkCode == 0, $"recipes/{recipe}: `{train} {check}` exited {checkCode}:\n{checkOutput}");
        if (train.Verb == "pipeline") Assert.Contains("stages check out", checkOutput);

        foreach (var use in uses)
        {
            if (use.Type == HubRepoType.Model)
            {
                var folder = HubPaths.Model(use.Id);
                foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json" })
                    Assert.True(File.Exists(Path.Combine(folder, file)), $"{use.Id}: {file} is missing");
                continue;
            }
            var source = new DatasetSource(use.Id) { Config = use.Config, Split = use.Split };
            // Preference data (reward-model, dpo) is read as pairs, everything else as examples.
            int rows = DatasetReader.ReadRows(source).Take(1).Any(r => r.Has("chosen"))
                ? DatasetReader.ReadRows(source).Select(r => ReasonSharp.Training.Dpo.PreferenceData.FromRow(r)).Count()
                : DatasetReader.ReadExamples(source).Count();
            Assert.True(rows > 0, $"{use}: no rows");
        }
        // The header's downloads fetched every file the recipe reads (a README a download left out aside).
        var fetchedLater = hub.Requests.Skip(downloaded)
            .Where(r => r.Path.Contains("/resolve/") && !r.Path.EndsWith("/README.md")).ToList();
        Assert.True(fetchedLater.Count == 0,
            $"recipes/{recipe}: fetched after its header's downloads: {string.Join(", ", fetchedLater)}");
    }
}
