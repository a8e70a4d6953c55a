using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Modeling;

/// <summary>Gemma 3 text: config.json fields, Hugging Face keys, and sliding-window attention with the KV
/// cache.</summary>
public class Gemma3Tests
{
    /// <summary>gemma-3-1b-it's config.json, shrunk.</summary>
    static JsonObject HfConfig() => new()
    {
        ["architectures"] = new JsonArray("Gemma3ForCausalLM"), ["model_type"] = "gemma3_text", ["vocab_size"] = 97,
        ["hidden_size"] = 32, ["intermediate_size"] = 64, ["num_hidden_layers"] = 3, ["num_attention_heads"] = 4,
        ["num_key_value_heads"] = 1, ["head_dim"] = 16, ["hidden_activation"] = "gelu_pytorch_tanh",
        ["max_position_embeddings"] = 256, ["rms_norm_eps"] = 1e-6, ["rope_theta"] = 1000000.0,
        ["rope_local_base_freq"] = 10000.0, ["rope_scaling"] = null, ["sliding_window"] = 4,
        ["sliding_window_pattern"] = 3, ["query_pre_attn_scalar"] = 16, ["final_logit_softcapping"] = null,
        ["attn_logit_softcapping"] = null, ["attention_bias"] = false, ["attention_dropout"] = 0.0,
        ["cache_implementation"] = "hybrid", ["bos_token_id"] = 2, ["eos_token_id"] = new JsonArray(1, 106),
        ["pad_token_id"] = 0, ["torch_dtype"] = "bfloat16",
    };

    static readonly string[] LayerKeys =
    [
        "input_layernorm.weight", "post_attention_layernorm.weight", "pre_feedforward_layernorm.weight",
        "post_feedforward_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight",
        "self_attn.v_proj.weight", "self_attn.o_proj.weight", "self_attn.q_norm.weight", "self_attn.k_norm.weight",
        "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
    ];

    static IEnumerable<string> HfKeys(int layers) =>
        Enumerable.Range(0, layers).SelectMany(i => LayerKeys.Select(k => $"model.layers.{i}.{k}"))
            .Append("model.embed_tokens.weight").Append("model.norm.weight");

    [Fact]
    public void LoadsAndSavesHuggingFaceKeysAndFieldsExactly()
    {
        using var dir = TestEnvironment.NewTempDir();
        var config = ModelConfig.Parse(HfConfig(), "config.json");
        Assert.Equal([true, true, false],
            Enumerable.Range(0, 3).Select(i => config.Arch.Layer(config, i).SlidingWindow == 4));
        using var model = new CausalLM(config, seed: 1);
        Assert.Equal(HfKeys(3).Order(), model.state_dict().Keys.Order());
        Assert.Equal(model.Config.ParameterCount(), model.ParameterCount());
        Assert.All(model.named_parameters().Where(p => p.name.EndsWith("norm.weight")),
            p => Assert.Equal(0, p.parameter.abs().sum().item<float>()));

        ModelFolder.Save(model, dir.Path);
        using (var file = SafetensorsFile.Open(Path.Combine(dir.Path, ModelFolder.SingleFile)))
            Assert.Equal(HfKeys(3).Order(), file.Entries.Keys.Order());
        var saved = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, ModelFolder.ConfigFile)))!.AsObject();
        foreach (var field in new[] { "architectures", "model_type", "sliding_window", "sliding_window_pattern",
                     "rope_local_base_freq", "query_pre_attn_scalar", "hidden_activation", "head_dim", "rope_theta",
                     "final_logit_softcapping", "attn_logit_softcapping", "cache_implementation" })
            Assert.Equal(HfConfig()[field]?.ToJsonString(), saved[field]?.ToJsonString());
        Assert.Equal("[\"sliding_attention\",\"sliding_attention\",\"full_attention\"]",
            saved["layer_types"]!.ToJsonString());

        using var loaded = ModelFolder.Load(dir.Path);
        using var ids = tensor(new long[] { 3, 14, 15, 92, 65, 35 }, [1, 6]);
        using var _ = no_grad();
        model.eval();
        loaded.eval();
        Assert.True(model.Forward(ids).eq(loaded.Forward(ids)).all().item<bool>());
    }

    [Theory]
    [InlineData("hidden_activation", "\"gelu\"", "only 'gelu_pytorch_tanh'")]
    [InlineData("attn_logit_softcapping", "50.0", "attention soft-capping is not supported")]
    [InlineData("layer_types", "[\"sliding_attention\"]", "for each of the 3 layers")]
    [InlineData("sliding_window", "0", "must be positive")]
    public void BadFieldsAreNamed(string field, string value, string message)
    {
        var json = HfConfig();
        json[field] = JsonNode.Parse(value);
        var e = Assert.Throws<ReasonSharpException>(() => ModelConfig.Parse(json, "g/config.json"));
        Assert.Contains($"g/config.json: field '{field}'", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void SlidingWindowDecodingMatchesTheFullForwardAndPaddingChangesNothing()
    {
        using var model = new CausalLM(ModelConfig.Parse(HfConfig(), "config.json"), seed: 4);
        model.eval();
        using var _ = no_grad();
        using var ids = tensor(new long[] { 3, 14, 15, 92, 65, 35, 89, 79, 32, 38 }, [1, 10]);
        using var full = model.Forward(ids);
        using var cache = model.NewCache(1, 16);
        var steps = new List<Tensor> { model.Forward(ids.narrow(1, 0, 5), cache: cache) };
        for (int t = 5; t < 10; t++) steps.Add(model.Forward(ids.narrow(1, t, 1), cache: cache));
        using var incremental = cat(steps, 1);
        Assert.True((full - incremental).abs().max().item<float>() <= 1e-5f);

        // Left padding: the padded row's real positions see the same window as the row alone.
        using var mask = tensor(new long[] { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, [1, 12]);
        using var padded = cat([zeros(1, 2, dtype: int64), ids], 1);
        using var positions = tensor(new long[] { 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, [1, 12]);
        using var batched = model.Forward(padded, positions, mask);
        Assert.True((batched[0, 2..] - full[0]).abs().max().item<float>() <= 1e-5f);

        // The window matters: a window wider than the sequence gives other logits from the fifth token on.
        var wide = model.Config with { Settings = (Gemma3Settings)model.Config.Settings! with { SlidingWindow = 100 } };
        using var unwindowed = new CausalLM(wide, initialize: false);
        unwindowed.load_state_dict(model.state_dict());
        unwindowed.eval();
        using var other = unwindowed.Forward(ids);
        Assert.True((other[0, ..4] - full[0, ..4]).abs().max().item<float>() <= 1e-5f);
        Assert.True((other[0, 4..] - full[0, 4..]).abs().max().item<float>() > 1e-3f);
    }

    [Fact]
    public void ExportRefusesWhatLlamaCppWouldComputeDifferently()
    {
        var config = ModelConfig.Parse(HfConfig(), "config.json");
        var settings = (Gemma3Settings)config.Settings!;
        Assert.Null(config.Arch.GgufProblem(config));
        Assert.Contains("query_pre_attn_scalar",
            config.Arch.GgufProblem(config with { Settings = settings with { QueryPreAttnScalar = 256 } }));
        Assert.Contains("final_logit_softcapping",
            config.Arch.GgufProblem(config with { Settings = settings with { FinalLogitSoftcapping = 30 } }));
        Assert.Contains("layer_types", config.Arch.GgufProblem(
            config with { Settings = settings with { LayerTypes = Gemma3Settings.Pattern(2, 3) } }));
    }
}
