using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Hub;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

public sealed record ModelSaveOptions
{
    /// <summary>Dtype of the saved floating-point tensors ("float32", "float16" or "bfloat16").</summary>
    public string TorchDtype { get; init; } = "float32";
    /// <summary>Shard above this many bytes, as save_pretrained's max_shard_size (5 GB).</summary>
    public long MaxShardBytes { get; init; } = 5_000_000_000;
    /// <summary>Folder to copy tokenizer files from (tokenizer.json, tokenizer_config.json, ...).</summary>
    public string? TokenizerFolder { get; init; }
}

/// <summary>Loads and saves Hugging Face model folders: config.json, model.safetensors (or shards with an index), generation_config.json, tokenizer files.</summary>
public static class ModelFolder
{
    public const string ConfigFile = "config.json";
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";
    public const string GenerationConfigFile = "generation_config.json";
    public static readonly string[] TokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja"];

    /// <summary>Loads a model folder strictly, converting stored dtypes to <paramref name="dtype"/> (float32 by default).</summary>
    public static CausalLM Load(string folder, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        folder = HubPaths.Model(folder);
        if (!Directory.Exists(folder)) throw new ReasonSharpException($"{folder}: model folder not found");
        var config = ModelConfig.Load(Path.Combine(folder, ConfigFile));
        var model = new CausalLM(config, device, seed: null, initialize: false);
        if (dtype != ScalarType.Float32) model.to(dtype);
        LoadWeights(model, folder);
        return model;
    }

    /// <summary>
    /// Loads a reward model (a sequence classifier): a *ForSequenceClassification folder as it is, or a causal LM's
    /// folder (SFT output, a base model) with a fresh `score` head of <paramref name="numLabels"/> outputs drawn from
    /// normal(0, initializer_range) with <paramref name="seed"/> (transformers' init of a missing head) and its
    /// lm_head dropped. <c>FreshHead</c> tells which.
    /// </summary>
    /// <param name="padTokenId">pad_token_id for a config that has none (transformers needs one to find the last
    /// token of padded rows).</param>
    public static (CausalLM Model, bool FreshHead) LoadSequenceClassifier(string folder, int numLabels = 1,
        Device? device = null, ScalarType dtype = ScalarType.Float32, long seed = 0, int? padTokenId = null)
    {
        folder = HubPaths.Model(folder);
        if (!Directory.Exists(folder)) throw new ReasonSharpException($"{folder}: model folder not found");
        var config = ModelConfig.Load(Path.Combine(folder, ConfigFile));
        if (config.IsSequenceClassifier)
        {
            if (config.NumLabels != numLabels)
                throw new ReasonSharpException($"{Path.Combine(folder, ConfigFile)}: the classifier has " +
                    $"{config.NumLabels} labels, expected {numLabels}");
            return (Load(folder, device, dtype), false);
        }
        var classifier = config.AsSequenceClassifier(numLabels) with { PadTokenId = config.PadTokenId ?? padTokenId };
        var model = new CausalLM(classifier, device, seed);
        try
        {
            if (dtype != ScalarType.Float32) model.to(dtype);
            LoadWeights(model, folder, causalLmBody: true);
            return (model, true);
        }
        catch { model.Dispose(); throw; }
    }

    /// <summary>Copies the folder's weights into an existing model. Any missing, unexpected or mis-shaped key is an
    /// error listing them all. <paramref name="causalLmBody"/>: the folder is a causal LM whose body fills this
    /// classifier; its lm_head is skipped and the classifier keeps its own score head.</summary>
    public static void LoadWeights(CausalLM model, string folder, bool causalLmBody = false)
    {
        var files = WeightFiles(folder);
        var opened = files.Select(SafetensorsFile.Open).ToList();
        try
        {
            var location = new Dictionary<string, SafetensorsFile>();
            foreach (var file in opened)
                foreach (var name in file.Entries.Keys)
                    location[name] = file;
            var parameters = model.state_dict();
            if (causalLmBody)
            {
                parameters.Remove("score.weight");
                location.Remove("lm_head.weight");
            }
            var problems = new List<string>();
            foreach (var (name, tensor) in parameters)
            {
                if (!location.TryGetValue(name, out var file)) { problems.Add($"missing key '{name}' (expected shape [{string.Join(", ", tensor.shape)}])"); continue; }
                var stored = file.Entries[name].Shape;
                if (!stored.SequenceEqual(tensor.shape))
                    problems.Add($"{Path.GetFileName(file.Path)}: key '{name}' has shape [{string.Join(", ", stored)}], expected [{string.Join(", ", tensor.shape)}]");
            }
            foreach (var (name, file) in location)
                if (!parameters.ContainsKey(name) && !IsRedundantTiedHead(model, name))
                    problems.Add($"{Path.GetFileName(file.Path)}: unexpected key '{name}'");
            if (problems.Count > 0)
                throw new ReasonSharpException($"{folder}: the checkpoint does not match config.json ({model.Config.Architecture}):\n  " + string.Join("\n  ", problems));

            using var _ = no_grad();
            foreach (var (name, tensor) in parameters)
                location[name].CopyInto(name, tensor);
            if (model.Config.TieWordEmbeddings && !model.Config.IsSequenceClassifier
                && location.TryGetValue("lm_head.weight", out var headFile))
            {
                using var head = headFile.Read("lm_head.weight", model.LmHeadWeight.dtype);
                if (!head.eq(model.LmHeadWeight.cpu()).all().item<bool>())
                    throw new ReasonSharpException($"{Path.Combine(folder, Path.GetFileName(headFile.Path))}: 'lm_head.weight' differs from 'model.embed_tokens.weight' but config.json sets tie_word_embeddings=true");
            }
        }
        finally
        {
            foreach (var f in opened) f.Dispose();
        }
    }

    static bool IsRedundantTiedHead(CausalLM model, string name) => model.Config.TieWordEmbeddings && name == "lm_head.weight";

    /// <summary>The safetensors files of a folder: model.safetensors, or the shards its index names (each must exist).</summary>
    public static IReadOnlyList<string> WeightFiles(string folder)
    {
        var index = Path.Combine(folder, IndexFile);
        if (File.Exists(index))
        {
            JsonObject json;
            try { json = JsonNode.Parse(File.ReadAllText(index)) as JsonObject ?? throw new ReasonSharpException($"{index}: expected a JSON object"); }
            catch (JsonException e) { throw new ReasonSharpException($"{index}: malformed JSON: {e.Message}", e); }
            if (json["weight_map"] is not JsonObject map) throw new ReasonSharpException($"{index}: missing field 'weight_map'");
            var shards = map.Select(kv => kv.Value?.GetValue<string>() ?? throw new ReasonSharpException($"{index}: weight_map entry '{kv.Key}' is not a file name"))
                .Distinct().Order().ToList();
            foreach (var shard in shards)
                if (!File.Exists(Path.Combine(folder, shard)))
                    throw new ReasonSharpException($"{index}: shard '{shard}' named in weight_map is missing from {folder}");
            return shards.Select(s => Path.Combine(folder, s)).ToList();
        }
        var single = Path.Combine(folder, SingleFile);
        if (File.Exists(single)) return [single];
        throw new ReasonSharpException($"{folder}: no {SingleFile} or {IndexFile} found");
    }

    /// <summary>Writes config.json, the weights (sharded above the threshold, with an index), generation_config.json and tokenizer files. Every file is written atomically.</summary>
    public static void Save(CausalLM model, string folder, ModelSaveOptions? options = null)
    {
        options ??= new ModelSaveOptions();
        Directory.CreateDirectory(folder);
        var dtype = ParseDtype(options.TorchDtype);
        var tensors = model.state_dict().Select(kv => (kv.Key, kv.Value)).ToList();
        long elementSize = SafetensorsFile.DtypeSize(SafetensorsFile.FromScalarType(dtype));
        var shards = new List<List<(string, Tensor)>> { new() };
        long shardBytes = 0, totalBytes = 0;
        foreach (var entry in tensors)
        {
            long bytes = entry.Item2.numel() * elementSize;
            if (shardBytes > 0 && shardBytes + bytes > options.MaxShardBytes) { shards.Add([]); shardBytes = 0; }
            shards[^1].Add(entry);
            shardBytes += bytes;
            totalBytes += bytes;
        }

        // The new weights are written beside the old ones first, so a failed save (a full disk) leaves the old model whole.
        var staging = Path.Combine(folder, $".saving-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            var written = new List<string>();
            if (shards.Count == 1)
            {
                SafetensorsWriter.Write(Path.Combine(staging, SingleFile), shards[0], dtype);
                written.Add(SingleFile);
            }
            else
            {
                var weightMap = new JsonObject();
                for (int i = 0; i < shards.Count; i++)
                {
                    var name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                    SafetensorsWriter.Write(Path.Combine(staging, name), shards[i], dtype);
                    foreach (var (key, _) in shards[i]) weightMap[key] = name;
                    written.Add(name);
                }
                var index = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["total_size"] = totalBytes }, ["weight_map"] = weightMap,
                };
                AtomicFile.WriteAllText(Path.Combine(staging, IndexFile), index.ToJsonString(Indented));
                written.Add(IndexFile);
            }
            foreach (var stale in Directory.EnumerateFiles(folder, "model*.safetensors*"))
                if (!written.Contains(Path.GetFileName(stale))) File.Delete(stale);
            foreach (var name in written)
                File.Move(Path.Combine(staging, name), Path.Combine(folder, name), overwrite: true);
        }
        catch (DiskFullException e)
        {
            // The user knows the model folder, not the staging folder: name the file the save was replacing.
            throw new DiskFullException(e.Message.Replace(staging, folder, StringComparison.Ordinal), e.InnerException!);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }

        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFile), model.Config.ToJson(options.TorchDtype).ToJsonString(Indented));
        AtomicFile.WriteAllText(Path.Combine(folder, GenerationConfigFile), GenerationConfigJson(model.Config).ToJsonString(Indented));
        if (options.TokenizerFolder is { } source && Path.GetFullPath(source) != Path.GetFullPath(folder))
            foreach (var file in TokenizerFiles)
                if (File.Exists(Path.Combine(source, file)))
                    AtomicFile.Copy(Path.Combine(source, file), Path.Combine(folder, file));
    }

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    static JsonObject GenerationConfigJson(ModelConfig config)
    {
        var json = new JsonObject();
        if (config.BosTokenId is { } bos) json["bos_token_id"] = bos;
        if (config.EosTokenIds.Count > 0)
            json["eos_token_id"] = config.EosTokenIds.Count == 1 ? config.EosTokenIds[0] : new JsonArray(config.EosTokenIds.Select(i => (JsonNode)i).ToArray());
        if (config.PadTokenId is { } pad) json["pad_token_id"] = pad;
        return json;
    }

    public static ScalarType ParseDtype(string name) => name switch
    {
        "float32" or "fp32" => ScalarType.Float32,
        "float16" or "fp16" => ScalarType.Float16,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        _ => throw new ReasonSharpException($"dtype '{name}' is not supported; expected float32, float16 or bfloat16"),
    };
}
