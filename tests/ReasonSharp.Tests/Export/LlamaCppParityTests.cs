using ReasonSharp.Export;
using ReasonSharp.Modeling;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Export;

/// <summary>Our model against llama.cpp (LLamaSharp 0.30.0, CPU) on the same f32 GGUF and the same token ids.</summary>
public class LlamaCppParityTests(ITestOutputHelper output)
{
    const double F32Tolerance = 1e-3;
    /// <summary>The bound for the families added with the architecture seam (issue 18).</summary>
    const double SeamTolerance = 1e-4;

    public static IEnumerable<object[]> Architectures() =>
        new[] { "llama", "qwen2", "qwen3" }.SelectMany(a => new[] { new object[] { a, true }, new object[] { a, false } });

    double F32Parity(CausalLM model, string label, int seed)
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = ExportModels.Export(model, dir, GgufFileType.F32);
        var tokens = ExportModels.RandomTokens(32, seed);
        using var llama = LlamaCppReference.Load(path, ExportModels.Threads, contextSize: 64);
        Assert.Equal(model.Config.VocabSize, llama.VocabSize);
        var error = ExportModels.WorstRelativeError(ExportModels.Logits(model, tokens), llama.Logits(tokens));
        output.WriteLine($"{label}: worst max|Δlogit|/max|logit| over 32 positions = {error:E2}");
        return error;
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void RandomModelMatchesLlamaCppAtEveryPosition(string arch, bool tied)
    {
        using var model = ExportModels.Create(ExportModels.Config(arch, tied), seed: 11);
        Assert.InRange(F32Parity(model, $"{arch} tied={tied}", seed: 5), 0, F32Tolerance);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SmolLM3WithNoPELayersMatchesLlamaCpp(bool tied)
    {
        // Four layers: the fourth is NoPE in both transformers' default and llama.cpp's fixed pattern.
        var config = ExportModels.Config("smollm3", tied);
        Assert.Equal([true, true, true, false], Enumerable.Range(0, 4).Select(i => config.Arch.Layer(config, i).Rope));
        using var model = ExportModels.Create(config, seed: 14);
        Assert.InRange(F32Parity(model, $"smollm3 tied={tied}", seed: 8), 0, SeamTolerance);

        // The comparison sees the NoPE layer: the same weights with RoPE on every layer are far off.
        using var allRope = ExportModels.Create(config with { Settings = new SmolLM3Settings([1, 1, 1, 1]) }, seed: 14);
        using var dir = TestEnvironment.NewTempDir();
        using var llama = LlamaCppReference.Load(ExportModels.Export(model, dir, GgufFileType.F32), ExportModels.Threads, contextSize: 64);
        var tokens = ExportModels.RandomTokens(32, 8);
        var error = ExportModels.WorstRelativeError(ExportModels.Logits(allRope, tokens), llama.Logits(tokens));
        output.WriteLine($"same weights with RoPE on every layer vs llama.cpp: {error:E2}");
        Assert.True(error > 100 * SeamTolerance, $"all-RoPE model unexpectedly close: {error}");
    }

    [Fact]
    public void SmolLM3WithANoPEPatternLlamaCppCannotReadIsRefused()
    {
        var config = ExportModels.Config("smollm3", tied: true) with { Settings = new SmolLM3Settings([1, 0, 1, 0]) };
        using var model = ExportModels.Create(config, seed: 15);
        using var dir = TestEnvironment.NewTempDir();
        var e = Assert.Throws<ReasonSharpException>(() => ExportModels.Export(model, dir, GgufFileType.F32));
        Assert.Contains("no_rope_layers is [1, 0, 1, 0]", e.Message);
    }

    [Fact]
    public void LlamaWithAttentionBiasesMatches()
    {
        // q/k biases go through the same row permutation as q/k weights; v/o biases do not.
        var config = ExportModels.Config("llama", tied: false) with { QkvBias = true, OutputBias = true };
        using var model = ExportModels.Create(config, seed: 12);
        Assert.InRange(F32Parity(model, "llama with q/k/v/o biases", seed: 6), 0, F32Tolerance);
    }

    [Fact]
    public void Llama3RopeScalingMatchesThroughRopeFreqs()
    {
        // theta 100 and a 16-token original context put head_dim 16's frequencies in all three llama3 bands.
        var config = ExportModels.Config("llama", tied: true) with
        {
            RopeTheta = 100,
            RopeScaling = new RopeScaling("llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 16),
        };
        var factors = GgufExporter.RopeFrequencyFactors(config);
        Assert.Contains(factors, f => f == 8f);
        Assert.Contains(factors, f => f > 1f && f < 8f);
        using var model = ExportModels.Create(config, seed: 13);
        Assert.InRange(F32Parity(model, "llama3 rope scaling", seed: 7), 0, F32Tolerance);

        // The comparison is sensitive to the scaling: the same weights without it are far off.
        using var unscaled = ExportModels.Create(config with { RopeScaling = null }, seed: 13);
        using var dir = TestEnvironment.NewTempDir();
        using var llama = LlamaCppReference.Load(ExportModels.Export(model, dir, GgufFileType.F32), ExportModels.Threads, contextSize: 64);
        var tokens = ExportModels.RandomTokens(32, 7);
        var error = ExportModels.WorstRelativeError(ExportModels.Logits(unscaled, tokens), llama.Logits(tokens));
        output.WriteLine($"same weights without rope scaling vs llama.cpp with rope_freqs: {error:E2}");
        Assert.True(error > 100 * F32Tolerance, $"unscaled model unexpectedly close: {error}");
    }
}
