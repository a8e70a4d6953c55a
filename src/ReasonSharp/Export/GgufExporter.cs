using ReasonSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Export;

public sealed record GgufExportOptions
{
    /// <summary>Type of the 2-D weight matrices; norms, biases and rope factors always stay F32 (llama.cpp's convention).</summary>
    public GgufFileType Type { get; init; } = GgufFileType.F32;
    /// <summary>general.name; defaults to the model folder's name.</summary>
    public string? Name { get; init; }
    /// <summary>llama.cpp's pre-tokenizer name (tokenizer.ggml.pre), to override detection from tokenizer.json.</summary>
    public string? PreTokenizer { get; init; }
}

public sealed record GgufExportedTensor(string Name, long[] Shape, GgmlType Type);

public sealed record GgufExportResult(string Path, string Architecture, GgufFileType FileType, IReadOnlyList<GgufExportedTensor> Tensors,
    long FileBytes, IReadOnlyList<string> Notes);

/// <summary>
/// Exports models to GGUF v3 as llama.cpp's convert_hf_to_gguf.py lays them out, with what differs per family taken
/// from its <see cref="ModelArchitecture"/>: llama.cpp tensor names and metadata; for families llama.cpp rotates in
/// interleaved pairs (llama, smollm3), q_proj/k_proj rows (and biases) permuted from Hugging Face's rotate-half order
/// (NEOX RoPE families such as qwen2/qwen3 need nothing); (1 + w) norm weights stored as 1 + w; Llama-3 RoPE scaling as
/// a rope_freqs tensor; tied embeddings as token_embd alone (llama.cpp falls back to it for the output projection).
/// </summary>
public static class GgufExporter
{
    /// <summary>Loads a model folder (config.json, safetensors, tokenizer files) and writes it to <paramref name="outPath"/> atomically.</summary>
    public static GgufExportResult ExportFolder(string modelFolder, string outPath, GgufExportOptions? options = null)
    {
        if (!Directory.Exists(modelFolder)) throw new ReasonSharpException($"{modelFolder}: model folder not found");
        using var model = ModelFolder.Load(modelFolder);
        options ??= new GgufExportOptions();
        return Export(model, modelFolder, outPath, options with { Name = options.Name ?? new DirectoryInfo(modelFolder).Name });
    }

    /// <summary>Writes <paramref name="model"/> with the tokenizer in <paramref name="tokenizerFolder"/> to <paramref name="outPath"/> atomically.</summary>
    public static GgufExportResult Export(CausalLM model, string tokenizerFolder, string outPath, GgufExportOptions? options = null)
    {
        options ??= new GgufExportOptions();
        var config = model.Config;
        CheckSupported(config);
        var tokenizer = GgufTokenizerMetadata.Load(tokenizerFolder, config, options.PreTokenizer);

        var writer = new GgufWriter();
        WriteModelMetadata(writer, config, options);
        tokenizer.WriteTo(writer);

        var notes = new List<string>();
        var exported = new List<GgufExportedTensor>();
        // The model's own parameter tensors (not copies): they are read, never disposed here.
        var parameters = model.state_dict();
        foreach (var (name, tensor) in parameters)
        {
            var ggufName = TensorName(name, config);
            long[] shape = tensor.shape;
            var type = ChooseType(ggufName, shape, options.Type, notes);
            writer.AddTensor(ggufName, shape, type, RowReader(tensor, RowOrder(name, shape, config), ValueOffset(name, config)));
            exported.Add(new GgufExportedTensor(ggufName, shape, type));
        }
        if (config.RopeScaling?.RopeType == "llama3")
        {
            var factors = RopeFrequencyFactors(config);
            writer.AddTensor("rope_freqs.weight", [factors.Length], GgmlType.F32, (_, _, destination) => factors.CopyTo(destination));
            exported.Add(new GgufExportedTensor("rope_freqs.weight", [factors.Length], GgmlType.F32));
        }
        AtomicFile.Write(outPath, writer.Write);
        return new GgufExportResult(Path.GetFullPath(outPath), config.Arch.GgufArchitecture, options.Type, exported,
            new FileInfo(outPath).Length, notes);
    }

    static void CheckSupported(ModelConfig config)
    {
        string? problem = config.IsSequenceClassifier
            ? $"the model is a {config.Architecture} (a reward model); GGUF export writes language models"
            : config.RopeScaling?.RopeType == "llama3" && !config.Arch.GgufRopeFrequencies
            ? $"rope_scaling type llama3 on model type '{config.ModelType}': llama.cpp reads rope_freqs factors only " +
              "for the llama architecture"
            : config.Arch.GgufProblem(config);
        if (problem is not null) throw new ReasonSharpException($"config.json: {problem}; this model cannot be exported to GGUF faithfully");
    }

    static void WriteModelMetadata(GgufWriter w, ModelConfig config, GgufExportOptions options)
    {
        string arch = config.Arch.GgufArchitecture;
        w.AddString("general.architecture", arch);
        w.AddString("general.type", "model");
        w.AddString("general.name", options.Name ?? arch);
        w.AddUInt32("general.file_type", (uint)options.Type);
        w.AddUInt32("general.quantization_version", Gguf.QuantizationVersion);
        w.AddUInt32($"{arch}.vocab_size", (uint)config.VocabSize);
        w.AddUInt32($"{arch}.context_length", (uint)config.MaxPositionEmbeddings);
        w.AddUInt32($"{arch}.embedding_length", (uint)config.HiddenSize);
        w.AddUInt32($"{arch}.block_count", (uint)config.NumHiddenLayers);
        w.AddUInt32($"{arch}.feed_forward_length", (uint)config.IntermediateSize);
        w.AddUInt32($"{arch}.attention.head_count", (uint)config.NumAttentionHeads);
        w.AddUInt32($"{arch}.attention.head_count_kv", (uint)config.NumKeyValueHeads);
        w.AddUInt32($"{arch}.attention.key_length", (uint)config.HeadDim);
        w.AddUInt32($"{arch}.attention.value_length", (uint)config.HeadDim);
        w.AddUInt32($"{arch}.rope.dimension_count", (uint)config.HeadDim);
        w.AddFloat32($"{arch}.rope.freq_base", (float)config.RopeTheta);
        w.AddFloat32($"{arch}.attention.layer_norm_rms_epsilon", (float)config.RmsNormEps);
        if (config.RopeScaling is { RopeType: "linear" } linear)
        {
            w.AddString($"{arch}.rope.scaling.type", "linear");
            w.AddFloat32($"{arch}.rope.scaling.factor", (float)linear.Factor);
        }
        foreach (var (key, value) in config.Arch.GgufMetadata(config))
        {
            switch (value)
            {
                case uint u: w.AddUInt32($"{arch}.{key}", u); break;
                case float f: w.AddFloat32($"{arch}.{key}", f); break;
                case bool b: w.AddBool($"{arch}.{key}", b); break;
                case string text: w.AddString($"{arch}.{key}", text); break;
                default: throw new ArgumentException($"GGUF metadata '{key}' has an unsupported type {value.GetType().Name}");
            }
        }
    }

    /// <summary>llama.cpp's name for a checkpoint key; any key without one is an error, never dropped.</summary>
    public static string TensorName(string key, ModelConfig config)
    {
        switch (key)
        {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight" when !config.TieWordEmbeddings: return "output.weight";
        }
        var parts = key.Split('.');
        if (parts.Length >= 5 && parts[0] == "model" && parts[1] == "layers" && int.TryParse(parts[2], out var layer))
        {
            var module = string.Join('.', parts[3..^1]);
            if (config.Arch.GgufLayerTensors.TryGetValue(module, out var name) && parts[^1] is "weight" or "bias")
                return $"blk.{layer}.{name}.{parts[^1]}";
        }
        throw new ReasonSharpException($"tensor '{key}' has no llama.cpp counterpart for model type '{config.ModelType}'; refusing to drop it from the GGUF export");
    }

    /// <summary>
    /// Norms, biases and other 1-D tensors stay F32 as llama.cpp requires; matrices take the requested type, except that
    /// Q8_0 needs rows that are a multiple of 32 values and falls back to F16 otherwise (as llama.cpp's converter does).
    /// </summary>
    static GgmlType ChooseType(string name, long[] shape, GgufFileType fileType, List<string> notes)
    {
        if (shape.Length <= 1 || name.EndsWith("_norm.weight") || !name.EndsWith(".weight")) return GgmlType.F32;
        var type = Gguf.TensorType(fileType);
        if (type == GgmlType.Q8_0 && shape[^1] % Gguf.Q8_0BlockSize != 0)
        {
            notes.Add($"{name}: row length {shape[^1]} is not a multiple of {Gguf.Q8_0BlockSize}; stored as F16 instead of Q8_0");
            return GgmlType.F16;
        }
        return type;
    }

    /// <summary>
    /// For llama's q_proj/k_proj (weight and bias), the source row of each written row: per head, HF's rotate-half halves
    /// [x0..x(d/2-1) | y0..y(d/2-1)] become llama.cpp's interleaved pairs [x0 y0 x1 y1 …]. Null when rows keep their order.
    /// </summary>
    public static long[]? RowOrder(string key, long[] shape, ModelConfig config)
    {
        if (!config.Arch.GgufInterleavedRope) return null;
        int heads = key.Contains(".self_attn.q_proj.") ? config.NumAttentionHeads : key.Contains(".self_attn.k_proj.") ? config.NumKeyValueHeads : 0;
        if (heads == 0) return null;
        int headDim = config.HeadDim, half = headDim / 2;
        if (shape[0] != (long)heads * headDim) throw new ReasonSharpException($"tensor '{key}' has {shape[0]} rows, expected heads × head_dim = {heads * headDim}");
        var order = new long[shape[0]];
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < half; j++)
                for (int s = 0; s < 2; s++)
                    order[h * headDim + 2 * j + s] = h * headDim + s * half + j;
        return order;
    }

    /// <summary>What llama.cpp adds to a stored tensor: 1 to the norms of families whose norms scale by (1 + w).</summary>
    public static float ValueOffset(string key, ModelConfig config) =>
        config.Arch.NormUnitOffset && key.EndsWith("norm.weight") ? 1f : 0f;

    /// <summary>Reads rows of a model tensor as float32 on the CPU, optionally reordered along the first dimension and
    /// shifted by <paramref name="offset"/>.</summary>
    static TensorRowReader RowReader(Tensor tensor, long[]? rowOrder, float offset = 0)
    {
        if (tensor.dim() == 1)
        {
            // One row holding every element; a reorder applies to the elements.
            return (_, _, destination) =>
            {
                using var scope = NewDisposeScope();
                var values = tensor.detach().cpu().to(float32);
                if (rowOrder is not null) values = values.index_select(0, torch.tensor(rowOrder));
                if (offset != 0) values = values + offset;
                values.contiguous().data<float>().CopyTo(destination);
            };
        }
        return (first, count, destination) =>
        {
            using var scope = NewDisposeScope();
            var rows = rowOrder is null
                ? tensor.detach().narrow(0, first, count)
                : tensor.detach().index_select(0, torch.tensor(rowOrder.AsSpan((int)first, count).ToArray(), device: tensor.device));
            rows = rows.cpu().to(float32);
            if (offset != 0) rows = rows + offset;
            rows.contiguous().data<float>().CopyTo(destination);
        };
    }

    /// <summary>llama.cpp's rope_freqs: per frequency, the divisor that turns the unscaled inverse frequency into the scaled one.</summary>
    public static float[] RopeFrequencyFactors(ModelConfig config)
    {
        var scaled = RotaryEmbedding.InverseFrequencies(config);
        var unscaled = RotaryEmbedding.InverseFrequencies(config with { RopeScaling = null });
        return unscaled.Select((u, i) => (float)((double)u / scaled[i])).ToArray();
    }
}
