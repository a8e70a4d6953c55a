using System.Text.Json.Nodes;
using ReasonSharp.Export;
using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Export;

/// <summary>
/// A small byte-level BPE tokenizer in Hugging Face's tokenizer.json format: the 256 byte symbols of GPT-2's
/// byte-to-unicode map (ids 0-255 in byte order), a few merges, and the Qwen special tokens.
/// </summary>
public static class TestTokenizer
{
    public static readonly (string Left, string Right)[] MergePairs =
        [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"), ("o", "n"), ("Ġ", "s")];
    public static readonly string[] Specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
    public const int EndOfText = 264, ImStart = 265, ImEnd = 266;
    /// <summary>Tokens the tokenizer defines; a model may have more rows (llama.cpp then sees "[PADn]" tokens).</summary>
    public const int TokenCount = 256 + 8 + 3;
    public const string ChatTemplate =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>GPT-2's reversible byte → printable character map.</summary>
    public static string[] ByteSymbols()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        var symbols = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++) symbols[b] = ((char)(printable.Contains(b) ? b : next++)).ToString();
        return symbols;
    }

    public static void Write(string folder, bool pairMerges = true, string? preTokenizerRegex = GgufTokenizerMetadata.Qwen2Regex)
    {
        var vocab = new JsonObject();
        var symbols = ByteSymbols();
        for (int b = 0; b < 256; b++) vocab[symbols[b]] = b;
        int id = 256;
        foreach (var (l, r) in MergePairs) vocab[l + r] = id++;
        var added = new JsonArray();
        foreach (var special in Specials)
            added.Add(new JsonObject { ["id"] = id++, ["content"] = special, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });
        var merges = new JsonArray(MergePairs.Select(m => pairMerges ? (JsonNode)new JsonArray(m.Left, m.Right) : JsonValue.Create($"{m.Left} {m.Right}")).ToArray());
        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = preTokenizerRegex is null };
        JsonNode preTokenizer = preTokenizerRegex is null ? byteLevel.DeepClone() : new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = preTokenizerRegex }, ["behavior"] = "Isolated", ["invert"] = false },
                byteLevel.DeepClone()),
        };
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added, ["normalizer"] = new JsonObject { ["type"] = "NFC" },
            ["pre_tokenizer"] = preTokenizer, ["post_processor"] = byteLevel.DeepClone(), ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "", ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false, ["vocab"] = vocab, ["merges"] = merges,
            },
        };
        var config = new JsonObject
        {
            ["add_bos_token"] = false, ["bos_token"] = null, ["eos_token"] = "<|im_end|>", ["pad_token"] = "<|endoftext|>",
            ["chat_template"] = ChatTemplate, ["tokenizer_class"] = "Qwen2Tokenizer",
        };
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), tokenizer.ToJsonString());
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config.ToJsonString());
    }
}

/// <summary>Tiny models sized for the test tokenizer, with weights large enough that the logits are far from zero.</summary>
public static class ExportModels
{
    public const int Vocab = 272;

    /// <summary>Two layers; four for smollm3, whose fourth layer is its first NoPE layer.</summary>
    public static ModelConfig Config(string arch, bool tied, double initializerRange = 0.3) =>
        ModelConfig.Create(arch, vocabSize: Vocab, hiddenSize: 64, intermediateSize: 128, layers: arch == "smollm3" ? 4 : 2, heads: 4, kvHeads: 2,
            headDim: arch == "qwen3" ? 32 : null, tieWordEmbeddings: tied, ropeTheta: 10000, maxPositions: 256, rmsNormEps: 1e-6,
            bosTokenId: TestTokenizer.EndOfText, eosTokenIds: [TestTokenizer.ImEnd], padTokenId: TestTokenizer.EndOfText)
        with
        { InitializerRange = initializerRange };

    /// <summary>A random model whose biases and norm weights are random too, so that a misplaced one shows in the logits.</summary>
    public static CausalLM Create(ModelConfig config, long seed)
    {
        var model = new CausalLM(config, seed: seed);
        model.eval();
        using var _ = no_grad();
        using var generator = new TorchSharp.torch.Generator((ulong)seed + 1000);
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.EndsWith(".bias")) p.normal_(0, 0.3, generator);
            else if (name.EndsWith("norm.weight")) p.normal_(1, 0.2, generator);
        }
        return model;
    }

    /// <summary>Random token ids that the tokenizer defines (specials included).</summary>
    public static int[] RandomTokens(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(TestTokenizer.TokenCount)).ToArray();
    }

    /// <summary>Our logits [position][vocab] for one sequence (full forward).</summary>
    public static float[][] Logits(CausalLM model, IReadOnlyList<int> tokens)
    {
        using var _ = no_grad();
        using var ids = tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Count]);
        using var logits = model.Forward(ids);
        var flat = logits.contiguous().data<float>().ToArray();
        int vocab = (int)logits.shape[2];
        return Enumerable.Range(0, tokens.Count).Select(p => flat.AsSpan(p * vocab, vocab).ToArray()).ToArray();
    }

    /// <summary>Our greedy continuation, decoding with the KV cache.</summary>
    public static int[] Greedy(CausalLM model, IReadOnlyList<int> prompt, int newTokens)
    {
        using var _ = no_grad();
        using var cache = model.NewCache(1, prompt.Count + newTokens);
        var output = new int[newTokens];
        var next = tensor(prompt.Select(t => (long)t).ToArray(), [1, prompt.Count]);
        for (int step = 0; step < newTokens; step++)
        {
            using (next)
            using (var logits = model.Forward(next, cache: cache))
                output[step] = (int)logits[0, -1].argmax().item<long>();
            next = tensor(new long[] { output[step] }, [1, 1]);
        }
        next.Dispose();
        return output;
    }

    /// <summary>Per position, max |ours − theirs| / max |ours|; returns the worst position's value.</summary>
    public static double WorstRelativeError(float[][] ours, float[][] theirs)
    {
        double worst = 0;
        for (int p = 0; p < ours.Length; p++)
        {
            Assert.Equal(ours[p].Length, theirs[p].Length);
            double maxAbs = ours[p].Max(v => Math.Abs(v)), maxDiff = 0;
            for (int v = 0; v < ours[p].Length; v++) maxDiff = Math.Max(maxDiff, Math.Abs(ours[p][v] - theirs[p][v]));
            worst = Math.Max(worst, maxDiff / maxAbs);
        }
        return worst;
    }

    /// <summary>Writes the tokenizer beside an f32/f16/q8_0 export of <paramref name="model"/> and returns the GGUF path.</summary>
    public static string Export(CausalLM model, TempDir dir, GgufFileType type, string name = "model")
    {
        var tokenizerFolder = Path.Combine(dir.Path, "tokenizer");
        if (!File.Exists(Path.Combine(tokenizerFolder, "tokenizer.json"))) TestTokenizer.Write(tokenizerFolder);
        var path = dir.File($"{name}-{type}.gguf");
        GgufExporter.Export(model, tokenizerFolder, path, new GgufExportOptions { Type = type, Name = name });
        return path;
    }

    /// <summary>
    /// A copy of <paramref name="config"/>'s model holding the weights stored in a GGUF (decoded to float32, llama's q/k
    /// permutation and Gemma's norm offset undone), i.e. what llama.cpp computes with.
    /// </summary>
    public static CausalLM FromGguf(ModelConfig config, string path)
    {
        var reader = GgufReader.Open(path);
        var model = new CausalLM(config, initialize: false);
        model.eval();
        using var _ = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            // Gemma's (1 + w) norms are stored as 1 + w.
            using var stored = tensor(reader.ReadFloats(GgufExporter.TensorName(name, config)), parameter.shape)
                .sub_(GgufExporter.ValueOffset(name, config));
            var order = GgufExporter.RowOrder(name, parameter.shape, config);
            if (order is null) { parameter.copy_(stored); continue; }
            var inverse = new long[order.Length];
            for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
            using var index = tensor(inverse);
            using var unpermuted = stored.index_select(0, index);
            parameter.copy_(unpermuted);
        }
        return model;
    }

    public const int Threads = 2;
}
