using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Modeling;

/// <summary>SmolLM3: a Llama with NoPE layers, read from and written to config.json's no_rope_layers.</summary>
public class SmolLM3Tests
{
    static JsonObject HfConfig(int layers) => new()
    {
        ["architectures"] = new JsonArray("SmolLM3ForCausalLM"), ["model_type"] = "smollm3", ["vocab_size"] = 97,
        ["hidden_size"] = 32, ["intermediate_size"] = 64, ["num_hidden_layers"] = layers, ["num_attention_heads"] = 4,
        ["num_key_value_heads"] = 2, ["rope_theta"] = 2000000.0, ["tie_word_embeddings"] = true,
        ["hidden_act"] = "silu", ["use_sliding_window"] = false, ["sliding_window"] = null, ["attention_bias"] = false,
        ["mlp_bias"] = false,
    };

    [Fact]
    public void NoRopeLayersDefaultToEveryFourthLayerAsTransformers()
    {
        var config = ModelConfig.Parse(HfConfig(8), "config.json");
        Assert.Equal([1, 1, 1, 0, 1, 1, 1, 0], ((SmolLM3Settings)config.Settings!).NoRopeLayers);
        var json = HfConfig(6);
        json["no_rope_layer_interval"] = 3;
        Assert.Equal([1, 1, 0, 1, 1, 0], ((SmolLM3Settings)ModelConfig.Parse(json, "c").Settings!).NoRopeLayers);
    }

    [Fact]
    public void NoRopeLayersAreReadAndWrittenBack()
    {
        var json = HfConfig(3);
        json["no_rope_layers"] = new JsonArray(0, 1, 1, 1);
        var config = ModelConfig.Parse(json, "config.json");
        Assert.Equal([false, true, true], Enumerable.Range(0, 3).Select(i => config.Arch.Layer(config, i).Rope));
        Assert.Equal("[0,1,1]", config.ToJson("float32")["no_rope_layers"]!.ToJsonString());
        Assert.Equal("SmolLM3ForCausalLM", config.ToJson("float32")["architectures"]![0]!.GetValue<string>());
    }

    [Theory]
    [InlineData("[1, 2, 1]", "must list 0 or 1 for each of the 3 layers")]
    [InlineData("[1, 1]", "must list 0 or 1 for each of the 3 layers")]
    [InlineData("\"yes\"", "'no_rope_layers' must be an integer")]
    public void BadNoRopeLayersNameTheField(string value, string message)
    {
        var json = HfConfig(3);
        json["no_rope_layers"] = JsonNode.Parse(value);
        var e = Assert.Throws<ReasonSharpException>(() => ModelConfig.Parse(json, "m/config.json"));
        Assert.Contains("m/config.json: field ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void WithRopeOnEveryLayerItComputesWhatLlamaDoes()
    {
        var smol = TinyModels.Config("smollm3") with { Settings = new SmolLM3Settings([1, 1, 1, 1]) };
        var llama = TinyModels.Config("llama") with { NumHiddenLayers = 4 };
        using var a = new CausalLM(smol, seed: 3);
        using var b = new CausalLM(llama, seed: 3);
        Assert.Equal(a.state_dict().Keys, b.state_dict().Keys);
        using var ids = tensor(new long[] { 3, 14, 15, 92, 65 }, [1, 5]);
        using var _ = no_grad();
        Assert.True(a.Forward(ids).eq(b.Forward(ids)).all().item<bool>());
        // The default fourth layer without RoPE changes the logits.
        using var nope = new CausalLM(TinyModels.Config("smollm3"), seed: 3);
        Assert.False(nope.Forward(ids).allclose(a.Forward(ids), rtol: 1e-3, atol: 1e-4));
    }
}
