using ReasonSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Modeling;

public class ModelTests
{
    static Tensor Ids(params long[][] rows) => tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);

    [Theory]
    [MemberData(nameof(TinyModels.Architectures), MemberType = typeof(TinyModels))]
    public void SaveThenLoadGivesBitwiseIdenticalLogits(string arch, bool tied)
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = TinyModels.Create(arch, tied);
        using var ids = Ids([3, 14, 15, 92, 65, 35, 89, 79]);
        using var _ = no_grad();
        using var before = model.Forward(ids);
        ModelFolder.Save(model, dir.Path);
        using var loaded = ModelFolder.Load(dir.Path);
        loaded.eval();
        using var after = loaded.Forward(ids);
        Assert.True(before.eq(after).all().item<bool>(), "logits differ after save/load");
        Assert.Equal(model.Config.ToJson("float32").ToJsonString(), loaded.Config.ToJson("float32").ToJsonString());
    }

    [Fact]
    public void ShardedSaveLoadsToTheSameLogitsAsASingleFile()
    {
        using var single = TestEnvironment.NewTempDir();
        using var sharded = TestEnvironment.NewTempDir();
        using var model = TinyModels.Create("qwen2", tied: false);
        ModelFolder.Save(model, single.Path);
        ModelFolder.Save(model, sharded.Path, new ModelSaveOptions { MaxShardBytes = 20_000 });
        Assert.True(File.Exists(Path.Combine(sharded.Path, ModelFolder.IndexFile)));
        Assert.True(ModelFolder.WeightFiles(sharded.Path).Count > 2);
        using var ids = Ids([5, 6, 7, 8, 9]);
        using var _ = no_grad();
        using var a = ModelFolder.Load(single.Path);
        using var b = ModelFolder.Load(sharded.Path);
        Assert.True(a.Forward(ids).eq(b.Forward(ids)).all().item<bool>());
    }

    [Theory]
    [InlineData("bfloat16")]
    [InlineData("float16")]
    public void HalfPrecisionCheckpointsAreCastToFloat32OnLoad(string dtype)
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = TinyModels.Create("qwen2", tied: false);
        ModelFolder.Save(model, dir.Path, new ModelSaveOptions { TorchDtype = dtype });
        using var file = SafetensorsFile.Open(Path.Combine(dir.Path, ModelFolder.SingleFile));
        Assert.Equal(dtype == "bfloat16" ? "BF16" : "F16", file.Entries["model.norm.weight"].Dtype);
        using var loaded = ModelFolder.Load(dir.Path);
        var type = ModelFolder.ParseDtype(dtype);
        foreach (var (name, original) in model.state_dict())
        {
            var restored = loaded.state_dict()[name];
            Assert.Equal(ScalarType.Float32, restored.dtype);
            Assert.True(original.to(type).to(float32).eq(restored).all().item<bool>(), name);
        }
    }

    [Fact]
    public void TiedEmbeddingsAreOneTensorInTheModelAndInTheFile()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = TinyModels.Create("qwen2", tied: true);
        Assert.Null(model.LmHead);
        Assert.DoesNotContain(model.state_dict().Keys, k => k.StartsWith("lm_head"));
        using var ids = Ids([3, 4, 5]);
        using var logits = model.Forward(ids);
        // Only the head sees token 96 (never an input), so its embedding row's gradient comes from lm_head alone.
        logits[.., .., 96].sum().backward();
        var grad = model.Model.EmbedTokens.weight!.grad!;
        Assert.True(grad[96].abs().sum().item<float>() > 0, "the lm_head gradient did not reach the embedding");
        ModelFolder.Save(model, dir.Path);
        using var file = SafetensorsFile.Open(Path.Combine(dir.Path, ModelFolder.SingleFile));
        Assert.Contains("model.embed_tokens.weight", file.Entries.Keys);
        Assert.DoesNotContain("lm_head.weight", file.Entries.Keys);
        Assert.Equal("pt", file.Metadata["format"]);
    }

    [Theory]
    [InlineData("llama", new[] { "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.o_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight", "lm_head.weight" })]
    [InlineData("qwen2", new[] { "model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.k_proj.bias", "model.layers.0.self_attn.v_proj.bias" })]
    [InlineData("qwen3", new[] { "model.layers.0.self_attn.q_norm.weight", "model.layers.0.self_attn.k_norm.weight" })]
    public void ParameterNamesEqualHuggingFaceKeys(string arch, string[] expected)
    {
        using var model = TinyModels.Create(arch, tied: false);
        var keys = model.state_dict().Keys.ToHashSet();
        foreach (var key in expected) Assert.Contains(key, keys);
        if (arch == "qwen2") Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", keys);
        if (arch != "qwen2") Assert.DoesNotContain("model.layers.0.self_attn.q_proj.bias", keys);
        Assert.DoesNotContain(keys, k => k.Contains("rotary") || k.Contains("inv_freq"));
        Assert.Equal(model.Config.ParameterCount(), model.ParameterCount());
    }

    [Theory]
    [MemberData(nameof(TinyModels.Architectures), MemberType = typeof(TinyModels))]
    public void IncrementalDecodingMatchesTheFullForward(string arch, bool tied)
    {
        using var model = TinyModels.Create(arch, tied);
        using var _ = no_grad();
        using var ids = Ids([3, 14, 15, 92, 65, 35, 89, 79, 32, 38]);
        using var full = model.Forward(ids);
        using var cache = model.NewCache(1, 16);
        using var prefill = model.Forward(ids.narrow(1, 0, 4), cache: cache);
        var steps = new List<Tensor> { prefill };
        for (int t = 4; t < 10; t++) steps.Add(model.Forward(ids.narrow(1, t, 1), cache: cache));
        using var incremental = cat(steps, 1);
        Assert.True((full - incremental).abs().max().item<float>() <= 1e-5f);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen3")]
    public void LeftPaddedRowsGiveTheSameLogitsAsUnpadded(string arch)
    {
        using var model = TinyModels.Create(arch);
        using var _ = no_grad();
        long[] shortRow = [7, 8, 9], longRow = [3, 4, 5, 6, 7, 8];
        using var alone = model.Forward(Ids(shortRow));
        using var ids = Ids([0, 0, 0, .. shortRow], longRow);
        using var mask = tensor(new long[] { 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, [2, 6]);
        using var positions = tensor(new long[] { 0, 0, 0, 0, 1, 2, 0, 1, 2, 3, 4, 5 }, [2, 6]);
        using var batched = model.Forward(ids, positions, mask);
        Assert.False(batched.isnan().any().item<bool>());
        Assert.True((batched[0, 3..] - alone[0]).abs().max().item<float>() <= 1e-5f);
        using var longAlone = model.Forward(Ids(longRow));
        Assert.True((batched[1] - longAlone[0]).abs().max().item<float>() <= 1e-5f);
    }

    [Fact]
    public void PackedSequencesDoNotAttendAcrossBoundaries()
    {
        using var model = TinyModels.Create("qwen2");
        using var _ = no_grad();
        long[] a = [5, 6, 7], b = [8, 9, 10, 11];
        using var packed = model.Forward(Ids([.. a, .. b]),
            positionIds: tensor(new long[] { 0, 1, 2, 0, 1, 2, 3 }, [1, 7]),
            sequenceIds: tensor(new long[] { 0, 0, 0, 1, 1, 1, 1 }, [1, 7]));
        using var alone = model.Forward(Ids(b));
        Assert.True((packed[0, 3..] - alone[0]).abs().max().item<float>() <= 1e-5f);
    }

    [Fact]
    public void Llama3RopeScalingChangesOnlyLowFrequencies()
    {
        var plain = TinyModels.Config("llama") with { RopeTheta = 500000 };
        var scaled = plain with { RopeScaling = new RopeScaling("llama3", 8, 1, 4, 8192) };
        var a = RotaryEmbedding.InverseFrequencies(plain);
        var b = RotaryEmbedding.InverseFrequencies(scaled);
        Assert.Equal(a[0], b[0]);
        Assert.Equal(a[^1] / 8, b[^1], 6);
    }
}
