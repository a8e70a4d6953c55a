using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Modeling;

/// <summary>The reward model's head in Hugging Face's *ForSequenceClassification layout: keys, config, round trips,
/// a hand-written folder, the score at the last real token, and the fresh head on a causal LM's body.</summary>
public class SequenceClassificationTests
{
    static ModelConfig Classifier(string modelType) =>
        TinyModels.Config(modelType, tied: false).AsSequenceClassifier(1) with { PadTokenId = 2 };

    static Dictionary<string, Tensor> Weights(CausalLM model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);

    [Theory]
    [InlineData("llama", "LlamaForSequenceClassification")]
    [InlineData("qwen2", "Qwen2ForSequenceClassification")]
    [InlineData("qwen3", "Qwen3ForSequenceClassification")]
    public void SaveAndLoadRoundTripKeysValuesAndConfig(string modelType, string className)
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = new CausalLM(Classifier(modelType), seed: 3);
        ModelFolder.Save(model, dir.Path);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "config.json")))!.AsObject();
        Assert.Equal(className, config["architectures"]![0]!.GetValue<string>());
        Assert.Equal(1, config["num_labels"]!.GetValue<int>());
        Assert.Equal("LABEL_0", config["id2label"]!["0"]!.GetValue<string>());
        Assert.Equal(2, config["pad_token_id"]!.GetValue<int>());
        using (var file = SafetensorsFile.Open(Path.Combine(dir.Path, ModelFolder.SingleFile)))
        {
            Assert.Equal([1, 32], file.Entries["score.weight"].Shape);
            Assert.DoesNotContain("lm_head.weight", file.Entries.Keys);
            Assert.DoesNotContain("score.bias", file.Entries.Keys);
            Assert.All(file.Entries.Keys.Where(k => k != "score.weight"), k => Assert.StartsWith("model.", k));
        }

        using var loaded = ModelFolder.Load(dir.Path);
        Assert.Equal(1, loaded.Config.NumLabels);
        Assert.Equal(className, loaded.Config.Architecture);
        var (saved, read) = (Weights(model), Weights(loaded));
        Assert.Equal(saved.Keys.Order(), read.Keys.Order());
        foreach (var (name, tensor) in saved)
            Assert.True(tensor.eq(read[name]).all().item<bool>(), $"{name} differs after the round trip");
    }

    /// <summary>A folder as transformers writes it (config with id2label and no num_labels, keys named by hand) loads,
    /// and its score is score.weight · the final hidden state at the last token.</summary>
    [Fact]
    public void AHandWrittenHuggingFaceFolderLoadsAndScoresAtTheLastToken()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var body = new CausalLM(TinyModels.Config("qwen2", tied: true), seed: 5);
        using var score = randn(1, 32, generator: new TorchSharp.torch.Generator(9));
        var tensors = body.state_dict().Select(kv => (kv.Key, kv.Value)).Append(("score.weight", score)).ToList();
        SafetensorsWriter.Write(Path.Combine(dir.Path, ModelFolder.SingleFile), tensors);
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), """
            {"architectures": ["Qwen2ForSequenceClassification"], "model_type": "qwen2", "vocab_size": 97,
             "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "max_position_embeddings": 2048, "rms_norm_eps": 1e-6,
             "tie_word_embeddings": true, "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
             "pad_token_id": 2, "torch_dtype": "float32"}
            """);
        using var model = ModelFolder.Load(dir.Path);
        Assert.Equal(1, model.Config.NumLabels);
        Assert.True(model.Score!.weight!.eq(score).all().item<bool>());

        using var ids = tensor(new long[] { 5, 9, 14, 30, 7 }, [1, 5]);
        using var hidden = body.Model.Forward(ids);
        using var expected = hidden[0, 4].matmul(score[0]);
        using var actual = model.SequenceScores(ids);
        Assert.Equal(expected.item<float>(), actual[0, 0].item<float>(), 5);
        Assert.Throws<ReasonSharpException>(() => model.Forward(ids));
    }

    /// <summary>Left padding with a mask (the reward's batches) and right padding read at each row's last token
    /// (training's batches) both give each sequence's unpadded score.</summary>
    [Fact]
    public void PaddedBatchesScoreEachSequenceAsAlone()
    {
        using var model = new CausalLM(Classifier("llama"), seed: 4);
        model.eval();
        int[][] sequences = [[5, 9, 14], [3, 8, 21, 40, 11, 6], [17]];
        var alone = sequences.Select(s => SequenceClassification.Score(model, [s], 1)[0]).ToArray();
        var leftPadded = SequenceClassification.Score(model, sequences, batchSize: 8);
        for (int i = 0; i < sequences.Length; i++) Assert.Equal(alone[i], leftPadded[i], 4);

        long length = sequences.Max(s => s.Length);
        var ids = new long[sequences.Length * length];
        Array.Fill(ids, 2);
        for (int r = 0; r < sequences.Length; r++)
            for (int t = 0; t < sequences[r].Length; t++) ids[r * length + t] = sequences[r][t];
        using var _ = no_grad();
        using var rightPadded = model.SequenceScores(tensor(ids, [sequences.Length, length]),
            tensor(sequences.Select(s => (long)s.Length - 1).ToArray()));
        for (int i = 0; i < sequences.Length; i++) Assert.Equal(alone[i], rightPadded[i, 0].item<float>(), 4);
    }

    /// <summary>A causal LM's folder becomes a reward model: its body exactly, lm_head dropped, a fresh score head
    /// from normal(0, initializer_range) that the seed fixes.</summary>
    [Fact]
    public void ACausalLmFolderGetsAFreshSeededScoreHead()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = new CausalLM(TinyModels.Config("qwen3", tied: false) with { PadTokenId = null }, seed: 6);
        ModelFolder.Save(lm, dir.Path);

        var (first, fresh) = ModelFolder.LoadSequenceClassifier(dir.Path, seed: 11, padTokenId: 1);
        var (second, _) = ModelFolder.LoadSequenceClassifier(dir.Path, seed: 11, padTokenId: 1);
        var (other, _) = ModelFolder.LoadSequenceClassifier(dir.Path, seed: 12, padTokenId: 1);
        using (first) using (second) using (other)
        {
            Assert.True(fresh);
            Assert.Null(first.LmHead);
            Assert.Equal(1, first.Config.PadTokenId);
            Assert.Equal("Qwen3ForSequenceClassification", first.Config.Architecture);
            var body = Weights(lm);
            foreach (var (name, tensor) in Weights(first).Where(kv => kv.Key.StartsWith("model.")))
                Assert.True(tensor.eq(body[name]).all().item<bool>(), name);
            var head = first.Score!.weight!;
            Assert.True(head.eq(second.Score!.weight!).all().item<bool>());
            Assert.False(head.eq(other.Score!.weight!).all().item<bool>());
            Assert.InRange(head.std().item<float>(), 0.01, 0.04);   // initializer_range 0.02 over 32 values

            using var saved = TestEnvironment.NewTempDir();
            ModelFolder.Save(first, saved.Path);
            var (reloaded, freshAgain) = ModelFolder.LoadSequenceClassifier(saved.Path);
            using (reloaded)
            {
                Assert.False(freshAgain);
                Assert.True(reloaded.Score!.weight!.eq(head).all().item<bool>());
            }
        }
    }

    [Fact]
    public void AMismatchedArchitectureNameIsRejected()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, """
            {"architectures": ["LlamaForSequenceClassification"], "model_type": "qwen2", "vocab_size": 97,
             "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
            """);
        var error = Assert.Throws<ReasonSharpException>(() => ModelConfig.Load(path));
        Assert.Contains("Qwen2ForSequenceClassification", error.Message);
    }
}
