using System.Text.Json.Nodes;
using ReasonSharp.Export;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Export;

public class TokenizerExportTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void VocabularyIsSizedToTheModelWithTypesSpecialsAndMerges(bool pairMerges)
    {
        using var dir = TestEnvironment.NewTempDir();
        TestTokenizer.Write(dir.Path, pairMerges);
        var meta = GgufTokenizerMetadata.Load(dir.Path, ExportModels.Config("qwen2", true));
        Assert.Equal("qwen2", meta.PreTokenizer);
        Assert.Equal(ExportModels.Vocab, meta.Tokens.Count);
        Assert.Equal(TestTokenizer.ByteSymbols(), meta.Tokens.Take(256));
        Assert.Equal("Ġthe", meta.Tokens[258]);
        Assert.Equal("<|im_end|>", meta.Tokens[TestTokenizer.ImEnd]);
        Assert.Equal("[PAD271]", meta.Tokens[271]);
        Assert.All(meta.TokenTypes.Take(264), t => Assert.Equal(GgufTokenType.Normal, t));
        Assert.All(meta.TokenTypes.Skip(264).Take(3), t => Assert.Equal(GgufTokenType.Control, t));
        Assert.All(meta.TokenTypes.Skip(267), t => Assert.Equal(GgufTokenType.Unused, t));
        Assert.Equal(TestTokenizer.MergePairs.Select(m => $"{m.Left} {m.Right}"), meta.Merges);
        Assert.Equal(TestTokenizer.ImEnd, meta.SpecialIds["eos"]);
        Assert.Equal(TestTokenizer.EndOfText, meta.SpecialIds["pad"]);
        Assert.Equal(TestTokenizer.EndOfText, meta.SpecialIds["bos"]); // tokenizer_config has none; config.json's bos_token_id
        Assert.False(meta.AddBos);
        Assert.Equal(TestTokenizer.ChatTemplate, meta.ChatTemplates["default"]);
    }

    [Fact]
    public void PreTokenizerIsRecognisedFromTheSplitRegexOrNamedExplicitly()
    {
        using var dir = TestEnvironment.NewTempDir();
        var config = ExportModels.Config("llama", true);
        TestTokenizer.Write(dir.File("llama3"), preTokenizerRegex: GgufTokenizerMetadata.Llama3Regex);
        Assert.Equal("llama-bpe", GgufTokenizerMetadata.Load(dir.File("llama3"), config).PreTokenizer);
        TestTokenizer.Write(dir.File("gpt2"), preTokenizerRegex: null);
        Assert.Equal("gpt2", GgufTokenizerMetadata.Load(dir.File("gpt2"), config).PreTokenizer);
        TestTokenizer.Write(dir.File("odd"), preTokenizerRegex: @"\p{L}+|\s+");
        var e = Assert.Throws<ReasonSharpException>(() => GgufTokenizerMetadata.Load(dir.File("odd"), config));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains(@"'\p{L}+|\s+'", e.Message);
        Assert.Equal("default", GgufTokenizerMetadata.Load(dir.File("odd"), config, preTokenizer: "default").PreTokenizer);
    }

    [Fact]
    public void ChatTemplatesAndAddBosComeFromTheConfigTheJinjaFileAndTheTemplatePostProcessor()
    {
        using var dir = TestEnvironment.NewTempDir();
        var model = ExportModels.Config("qwen2", true);
        TestTokenizer.Write(dir.Path);
        void Edit(string file, Action<JsonObject> edit)
        {
            var path = Path.Combine(dir.Path, file);
            var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            edit(json);
            File.WriteAllText(path, json.ToJsonString());
        }
        Edit("tokenizer_config.json", c =>
        {
            c.Remove("chat_template");
            c.Remove("add_bos_token");
            c["bos_token"] = new JsonObject { ["content"] = "<|endoftext|>" };
        });
        File.WriteAllText(Path.Combine(dir.Path, "chat_template.jinja"), "{{ from_jinja }}");
        Edit("tokenizer.json", t => t["post_processor"] = JsonNode.Parse("""
            {"type": "Sequence", "processors": [{"type": "ByteLevel"}, {"type": "TemplateProcessing",
              "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "pair": [],
              "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [264], "tokens": ["<|endoftext|>"]}}}]}
            """));

        var meta = GgufTokenizerMetadata.Load(dir.Path, model);
        Assert.Equal("{{ from_jinja }}", Assert.Single(meta.ChatTemplates).Value); // no template in the config: the .jinja file
        Assert.True(meta.AddBos); // the template post-processor starts with bos_token, and add_bos_token is absent
        Assert.False(meta.AddEos);
        Assert.Equal(TestTokenizer.EndOfText, meta.SpecialIds["bos"]);

        Edit("tokenizer_config.json", c => c["chat_template"] = JsonNode.Parse("""[{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]"""));
        meta = GgufTokenizerMetadata.Load(dir.Path, model);
        Assert.Equal(["default", "tool_use"], meta.ChatTemplates.Keys); // the config's named templates, every one
        Assert.Equal(["D", "T"], meta.ChatTemplates.Values);
    }

    [Fact]
    public void TokenizerProblemsNameTheFileAndField()
    {
        using var dir = TestEnvironment.NewTempDir();
        var e = Assert.Throws<ReasonSharpException>(() => GgufTokenizerMetadata.Load(dir.Path, ExportModels.Config("qwen2", true)));
        Assert.Contains("tokenizer.json: not found", e.Message);

        TestTokenizer.Write(dir.Path);
        e = Assert.Throws<ReasonSharpException>(() => GgufTokenizerMetadata.Load(dir.Path, ExportModels.Config("qwen2", true) with { VocabSize = 260 }));
        Assert.Contains("vocab_size is 260", e.Message);

        File.WriteAllText(Path.Combine(dir.Path, "tokenizer.json"), File.ReadAllText(Path.Combine(dir.Path, "tokenizer.json")).Replace("\"byte_fallback\":false", "\"byte_fallback\":true"));
        e = Assert.Throws<ReasonSharpException>(() => GgufTokenizerMetadata.Load(dir.Path, ExportModels.Config("qwen2", true)));
        Assert.Contains("'model.byte_fallback'", e.Message);

        File.WriteAllText(Path.Combine(dir.Path, "tokenizer.json"), "{\"model\": {\"type\": \"BPE\",");
        e = Assert.Throws<ReasonSharpException>(() => GgufTokenizerMetadata.Load(dir.Path, ExportModels.Config("qwen2", true)));
        Assert.Matches(@"tokenizer\.json:\d+: not valid JSON \(.*\); expected a JSON object", e.Message);
    }

    /// <summary>
    /// The real Qwen3 tokenizer in a tiny qwen3 GGUF: llama.cpp must load its 151k-token vocabulary and tokenize text
    /// (specials, Chinese, digits, newlines) exactly as Hugging Face's tokenizers library does.
    /// </summary>
    [SkippableFact]
    public void RealQwen3TokenizerTokenizesInLlamaCppAsInHuggingFace()
    {
        var tokenizerJson = TestEnvironment.SharedFile("tokenizers/qwen3/tokenizer.json");
        var folder = Path.GetDirectoryName(tokenizerJson)!;
        using var dir = TestEnvironment.NewTempDir();
        var config = ReasonSharp.Modeling.ModelConfig.Create("qwen3", vocabSize: 151936, hiddenSize: 32, intermediateSize: 64, layers: 1,
            heads: 2, kvHeads: 1, headDim: 16, tieWordEmbeddings: true, bosTokenId: 151643, eosTokenIds: [151645]);
        using var model = new ReasonSharp.Modeling.CausalLM(config, seed: 1);
        var path = dir.File("qwen3-tok.gguf");
        GgufExporter.Export(model, folder, path);

        var meta = GgufReader.Open(path).Metadata;
        Assert.Equal("qwen2", meta["tokenizer.ggml.pre"]);
        Assert.Contains("<|im_start|>", (string)meta["tokenizer.chat_template"]);
        var tokens = (string[])meta["tokenizer.ggml.tokens"];
        var types = (int[])meta["tokenizer.ggml.token_type"];
        int think = Array.IndexOf(tokens, "<think>");
        Assert.Equal((int)GgufTokenType.UserDefined, types[think]); // added, not special
        Assert.Equal((int)GgufTokenType.Control, types[151645]);
        Assert.Equal(151645u, meta["tokenizer.ggml.eos_token_id"]);

        using var hf = new Tokenizers.DotNet.Tokenizer(vocabPath: tokenizerJson);
        using var llama = LLama.LLamaWeights.LoadFromFile(new LLama.Common.ModelParams(path) { GpuLayerCount = 0 });
        string[] texts =
        [
            "Hello world! It's 2024-05-17, and 12345 apples cost $3.50.",
            "<|im_start|>user\nWhat is 7 × 8?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n56",
            "我想在apple工作1314151天～  tabs\tand\n\nnewlines   end",
        ];
        foreach (var text in texts)
        {
            var expected = hf.Encode(text).Select(t => (int)t).ToArray();
            var actual = llama.Tokenize(text, add_bos: false, special: true, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray();
            output.WriteLine($"{expected.Length} tokens: {text.ReplaceLineEndings("⏎")}");
            Assert.Equal(expected, actual);
        }
    }
}
