using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Hub;
using ReasonSharp.Modeling;
using ReasonSharp.Native;
using static TorchSharp.torch;

namespace ReasonSharp.Merging;

/// <summary>
/// Options of a model merge, with mergekit's names: `method` (linear, slerp, ties, dare_ties), `weights` (one per
/// model), `density` (one value, or one per model), `base_model`, `t` (slerp), `normalize`, `seed` (dare_ties).
/// </summary>
public sealed record ModelMergeOptions
{
    public static readonly string[] Methods = ["linear", "slerp", "ties", "dare_ties"];

    /// <summary>The model folders (or Hub ids) to merge.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];
    public string Method { get; init; } = "linear";
    /// <summary>One weight per model; empty: 1 each.</summary>
    public IReadOnlyList<double> Weights { get; init; } = [];
    /// <summary>ties/dare_ties: the fraction of each task vector kept; one value or one per model; empty: 1.</summary>
    public IReadOnlyList<double> Density { get; init; } = [];
    /// <summary>ties/dare_ties: the model the task vectors are taken from (model − base).</summary>
    public string? BaseModel { get; init; }
    /// <summary>slerp: the interpolation factor (0: the first model, 1: the second); null: w2 / (w1 + w2).</summary>
    public double? T { get; init; }
    /// <summary>linear, ties, dare_ties: divide by the sum of the (agreeing) weights.</summary>
    public bool Normalize { get; init; } = true;
    /// <summary>dare_ties: the seed of the random drop.</summary>
    public long Seed { get; init; } = 42;

    /// <summary>Checks the options that need no file: method, counts, ranges.</summary>
    public void Validate()
    {
        if (!Methods.Contains(Method))
            throw new ReasonSharpException(
                $"method: '{Method}' is unknown; expected one of {string.Join(", ", Methods)}");
        bool taskVectors = Method is "ties" or "dare_ties";
        if (Models.Count == 0 || (!taskVectors && Models.Count < 2))
            throw new ReasonSharpException(
                $"models: {Models.Count} given; expected at least {(taskVectors ? "one model" : "two models")}");
        if (Method == "slerp" && Models.Count != 2)
            throw new ReasonSharpException(
                $"models: slerp interpolates exactly two models, got {Models.Count}; expected two model folders");
        if (Weights.Count != 0 && Weights.Count != Models.Count)
            throw new ReasonSharpException(
                $"weights: {Weights.Count} given for {Models.Count} models; expected one weight per model");
        if (Weights.Any(w => !double.IsFinite(w)))
            throw new ReasonSharpException("weights: not a finite number; expected finite weights");
        if (Normalize && Method != "slerp" && Weights.Count != 0 && Math.Abs(Weights.Sum()) < 1e-12)
            throw new ReasonSharpException(
                "weights: they sum to 0, which normalize divides by; expected a non-zero sum, or normalize false");
        if (Density.Count != 0 && Density.Count != 1 && Density.Count != Models.Count)
            throw new ReasonSharpException(
                $"density: {Density.Count} given for {Models.Count} models; expected one value or one per model");
        foreach (var d in Density)
            if (!(d > 0 && d <= 1))
                throw new ReasonSharpException($"density: {d} is outside (0, 1]; expected a fraction in (0, 1]");
        if (Density.Count != 0 && !taskVectors)
            throw new ReasonSharpException(
                $"density: only ties and dare_ties use it; expected no density with method {Method}");
        if (taskVectors && string.IsNullOrWhiteSpace(BaseModel))
            throw new ReasonSharpException(
                $"base_model: missing; expected the base model folder for {Method} (task vectors are model − base)");
        if (T is { } t && (Method != "slerp" || !(t >= 0 && t <= 1)))
            throw new ReasonSharpException(Method != "slerp"
                ? $"t: only slerp uses it; expected no t with method {Method}"
                : $"t: {t} is outside [0, 1]; expected an interpolation factor in [0, 1]");
        if (Method == "slerp" && T is null && Weights.Count == 0)
            throw new ReasonSharpException("t: missing; expected t (0: first model, 1: second) or two weights");
        if (Method == "slerp" && T is null && Math.Abs(Weights.Sum()) < 1e-12)
            throw new ReasonSharpException("weights: they sum to 0; expected t = w2 / (w1 + w2) to be defined");
    }

    internal double SlerpT => T ?? Weights[1] / (Weights[0] + Weights[1]);
    internal double WeightOf(int i) => Weights.Count == 0 ? 1 : Weights[i];
    internal double DensityOf(int i) => Density.Count == 0 ? 1 : Density.Count == 1 ? Density[0] : Density[i];
}

/// <summary>What a merge wrote: the method, how many tensors were merged and copied, the folder the configuration and
/// tokenizer came from.</summary>
public sealed record ModelMergeResult(string Method, int Merged, int Copied, string ConfigFrom, string Output);

/// <summary>
/// Merges Hugging Face model folders tensor by tensor, as mergekit does: each tensor is read from every model's
/// safetensors (memory-mapped), merged in float32 and written in its stored dtype before the next is read.
/// </summary>
public static class ModelMerger
{
    static readonly string[] ArchitectureKeys = ["model_type", "hidden_size", "num_hidden_layers"];

    /// <summary>Merges <paramref name="o"/>.Models into <paramref name="output"/> (a folder, created if needed):
    /// model.safetensors, with config.json, generation_config.json and tokenizer files copied from the base model
    /// (or the first model).</summary>
    public static ModelMergeResult Merge(ModelMergeOptions o, string output, Action<string>? log = null)
    {
        Validation.Once(o, o.Validate);
        TorchNative.EnsureLoaded();
        var models = o.Models.Select(HubPaths.Model).ToList();
        string? baseFolder = o.Method is "ties" or "dare_ties" ? HubPaths.Model(o.BaseModel!) : null;
        var folders = baseFolder is null ? models : [baseFolder, .. models];
        CheckArchitectures(folders);

        var sources = folders.Select(f => new WeightSource(f)).ToList();
        try
        {
            var reference = sources[0];
            foreach (var other in sources.Skip(1)) CheckSameTensors(reference, other);
            var names = reference.Names.Order(StringComparer.Ordinal).ToList();
            var layout = names.Select(n => (n, SafetensorsFile.ToScalarType(reference.Entry(n).Dtype),
                reference.Entry(n).Shape)).ToList();
            var modelSources = baseFolder is null ? sources : sources.Skip(1).ToList();
            var baseSource = baseFolder is null ? null : sources[0];
            using var generator = new TorchSharp.torch.Generator((ulong)o.Seed);
            int merged = 0, copied = 0;
            Directory.CreateDirectory(output);
            SafetensorsWriter.WriteStreaming(Path.Combine(output, ModelFolder.SingleFile), layout, i =>
            {
                var name = names[i];
                if (!IsFloat(reference.Entry(name).Dtype))
                {
                    copied++;
                    return reference.Read(name, SafetensorsFile.ToScalarType(reference.Entry(name).Dtype));
                }
                merged++;
                using var scope = NewDisposeScope();
                var tensors = modelSources.Select(s => s.Read(name, ScalarType.Float32)).ToList();
                var result = o.Method switch
                {
                    "linear" => Linear(tensors, Enumerable.Range(0, tensors.Count).Select(o.WeightOf).ToList(),
                        o.Normalize),
                    "slerp" => Slerp(tensors[0], tensors[1], o.SlerpT),
                    _ => Ties(baseSource!.Read(name, ScalarType.Float32), tensors,
                        Enumerable.Range(0, tensors.Count).Select(o.WeightOf).ToList(),
                        Enumerable.Range(0, tensors.Count).Select(o.DensityOf).ToList(), o.Normalize,
                        o.Method == "dare_ties" ? generator : null),
                };
                return result.MoveToOuterDisposeScope();
            });
            var configFrom = folders[0];
            CopyFolderFiles(configFrom, output);
            log?.Invoke($"merged {merged} tensors ({o.Method}) into {output}");
            return new ModelMergeResult(o.Method, merged, copied, configFrom, output);
        }
        finally
        {
            foreach (var s in sources) s.Dispose();
        }
    }

    static bool IsFloat(string dtype) => dtype is "F32" or "F16" or "BF16" or "F64";

    /// <summary>Σ wᵢ·xᵢ, divided by Σ wᵢ when <paramref name="normalize"/>.</summary>
    public static Tensor Linear(IReadOnlyList<Tensor> tensors, IReadOnlyList<double> weights, bool normalize)
    {
        var sum = zeros_like(tensors[0]);
        for (int i = 0; i < tensors.Count; i++) sum.add_(tensors[i], alpha: weights[i]);
        if (normalize) sum.div_(weights.Sum());
        return sum;
    }

    /// <summary>
    /// Spherical interpolation of <paramref name="a"/> and <paramref name="b"/> (mergekit's slerp): the angle between
    /// the normalized tensors sets the coefficients, applied to the tensors themselves; nearly colinear tensors
    /// (|cos| &gt; 0.9995) are interpolated linearly.
    /// </summary>
    public static Tensor Slerp(Tensor a, Tensor b, double t, double dotThreshold = 0.9995)
    {
        using var a64 = a.to(ScalarType.Float64);
        using var b64 = b.to(ScalarType.Float64);
        double normA = a64.norm().item<double>(), normB = b64.norm().item<double>();
        double dot = normA < 1e-12 || normB < 1e-12 ? 1 : (a64 * b64).sum().item<double>() / (normA * normB);
        if (Math.Abs(dot) > dotThreshold) return ((1 - t) * a64 + t * b64).to(a.dtype);
        double theta = Math.Acos(dot), sinTheta = Math.Sin(theta);
        double s0 = Math.Sin((1 - t) * theta) / sinTheta, s1 = Math.Sin(t * theta) / sinTheta;
        return (s0 * a64 + s1 * b64).to(a.dtype);
    }

    /// <summary>
    /// TIES (mergekit's ties, and dare_ties when <paramref name="dare"/> is given): task vectors δᵢ = xᵢ − base,
    /// sparsified to density dᵢ (ties: the top dᵢ fraction by magnitude; dare: kept with probability dᵢ and rescaled by
    /// 1/dᵢ), weighted; the sign of Σ wᵢ·δᵢ is elected per element and only agreeing entries are summed (divided by
    /// the sum of their weights when <paramref name="normalize"/>), then added to base.
    /// </summary>
    public static Tensor Ties(Tensor baseTensor, IReadOnlyList<Tensor> tensors, IReadOnlyList<double> weights,
        IReadOnlyList<double> densities, bool normalize, Generator? dare = null)
    {
        var deltas = new List<Tensor>();
        for (int i = 0; i < tensors.Count; i++)
        {
            var delta = tensors[i] - baseTensor;
            delta = dare is null ? TrimByMagnitude(delta, densities[i]) : DropAndRescale(delta, densities[i], dare);
            deltas.Add(delta * weights[i]);
        }
        var stacked = stack(deltas);
        long models = 0; // a variable: the literal 0 would bind sum(ScalarType) and sum everything
        var sign = stacked.sum(models).sign();
        var agree = stacked.sign().eq(sign.unsqueeze(0)).logical_and(stacked.ne(0));
        var mixed = (stacked * agree).sum(models);
        if (normalize)
        {
            var weightShape = new long[] { tensors.Count }
                .Concat(Enumerable.Repeat(1L, (int)baseTensor.dim())).ToArray();
            var w = tensor(weights.Select(x => (float)x).ToArray()).view(weightShape);
            var divisor = (agree.to(ScalarType.Float32) * w).sum(models);
            divisor = where(divisor.eq(0), ones_like(divisor), divisor);
            mixed = mixed / divisor;
        }
        return baseTensor + mixed;
    }

    /// <summary>Keeps the max(1, ⌊density·n⌋) entries of largest magnitude (all when density is 1).</summary>
    public static Tensor TrimByMagnitude(Tensor delta, double density)
    {
        if (density >= 1 || delta.numel() == 0) return delta;
        long k = Math.Max(1, (long)(density * delta.numel()));
        var flat = delta.flatten();
        var (_, indices) = flat.abs().topk((int)Math.Min(k, int.MaxValue));
        var mask = zeros_like(flat).index_fill_(0, indices, 1);
        return (flat * mask).view(delta.shape);
    }

    /// <summary>DARE: keeps each entry with probability density (drawn from <paramref name="generator"/>) and
    /// rescales the kept ones by 1/density (identity at density 1).</summary>
    public static Tensor DropAndRescale(Tensor delta, double density, Generator generator)
    {
        if (density >= 1) return delta;
        var keep = rand(delta.shape, generator: generator).lt(density);
        return delta * keep / density;
    }

    static void CheckArchitectures(IReadOnlyList<string> folders)
    {
        var configs = folders.Select(ReadConfig).ToList();
        for (int i = 1; i < folders.Count; i++)
            foreach (var key in ArchitectureKeys)
            {
                string first = configs[0][key]?.ToJsonString() ?? "(absent)";
                string other = configs[i][key]?.ToJsonString() ?? "(absent)";
                if (first != other)
                    throw new ReasonSharpException(
                        $"{Path.Combine(folders[i], ModelFolder.ConfigFile)}: {key} is {other} but {first} in " +
                        $"{Path.Combine(folders[0], ModelFolder.ConfigFile)}; expected the same architecture in " +
                        "every model");
            }
    }

    static JsonObject ReadConfig(string folder)
    {
        var path = Path.Combine(folder, ModelFolder.ConfigFile);
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: not found; expected a model folder");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new ReasonSharpException($"{path}: expected a JSON object");
        }
        catch (JsonException e) { throw new ReasonSharpException($"{path}: malformed JSON: {e.Message}", e); }
    }

    static void CheckSameTensors(WeightSource a, WeightSource b)
    {
        foreach (var name in a.Names.Order(StringComparer.Ordinal))
        {
            if (!b.Contains(name))
                throw new ReasonSharpException(
                    $"tensor '{name}': in {a.FileOf(name)} but not in {b.Folder}; expected the same tensor names in " +
                    "every model");
            var (sa, sb) = (a.Entry(name).Shape, b.Entry(name).Shape);
            if (!sa.SequenceEqual(sb))
                throw new ReasonSharpException(
                    $"tensor '{name}': shape [{string.Join(", ", sa)}] in {a.FileOf(name)} but " +
                    $"[{string.Join(", ", sb)}] in {b.FileOf(name)}; expected the same shape in every model");
        }
        foreach (var name in b.Names.Order(StringComparer.Ordinal))
            if (!a.Contains(name))
                throw new ReasonSharpException(
                    $"tensor '{name}': in {b.FileOf(name)} but not in {a.Folder}; expected the same tensor names in " +
                    "every model");
    }

    static void CopyFolderFiles(string source, string output)
    {
        if (Path.GetFullPath(source) == Path.GetFullPath(output)) return;
        foreach (var file in ModelFolder.TokenizerFiles.Append(ModelFolder.ConfigFile)
            .Append(ModelFolder.GenerationConfigFile))
            if (File.Exists(Path.Combine(source, file)))
                AtomicFile.Copy(Path.Combine(source, file), Path.Combine(output, file));
    }

    /// <summary>A model folder's tensors across its safetensors files (one, or the shards of an index).</summary>
    sealed class WeightSource : IDisposable
    {
        readonly List<SafetensorsFile> _files = [];
        readonly Dictionary<string, SafetensorsFile> _byName = [];

        public string Folder { get; }

        public WeightSource(string folder)
        {
            Folder = folder;
            try
            {
                foreach (var path in ModelFolder.WeightFiles(folder))
                {
                    var file = SafetensorsFile.Open(path);
                    _files.Add(file);
                    foreach (var name in file.Entries.Keys) _byName[name] = file;
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public IEnumerable<string> Names => _byName.Keys;
        public bool Contains(string name) => _byName.ContainsKey(name);
        public SafetensorsEntry Entry(string name) => _byName[name].Entries[name];
        public string FileOf(string name) => _byName[name].Path;
        public Tensor Read(string name, ScalarType dtype) => _byName[name].Read(name, dtype);

        public void Dispose()
        {
            foreach (var f in _files) f.Dispose();
        }
    }
}
