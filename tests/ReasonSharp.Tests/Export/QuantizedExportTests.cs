using ReasonSharp.Export;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Export;

/// <summary>
/// f16 and q8_0 exports of random models in llama.cpp. These models (initializer_range 0.3, random norms and biases) are
/// deliberately sensitive, so f16 is held against our float32 model, and q8_0 against our model running the file's own
/// dequantized weights: what remains is llama.cpp rounding the activations to 8 bits per 32-block in its q8_0 matmuls.
/// The tolerances on a realistically scaled (trained) model are in <see cref="TrainedModelParityTests"/>.
/// </summary>
public class QuantizedExportTests(ITestOutputHelper output)
{
    const double F16Tolerance = 1e-2;
    const double Q8ActivationTolerance = 0.15;

    [Theory]
    [InlineData("llama", false)]
    [InlineData("qwen2", true)]
    [InlineData("qwen3", false)]
    public void F16ExportStaysWithinTolerance(string arch, bool tied)
    {
        using var model = ExportModels.Create(ExportModels.Config(arch, tied), seed: 31);
        using var dir = TestEnvironment.NewTempDir();
        var tokens = ExportModels.RandomTokens(32, 9);
        using var llama = LlamaCppReference.Load(ExportModels.Export(model, dir, GgufFileType.F16), ExportModels.Threads, contextSize: 64);
        var error = ExportModels.WorstRelativeError(ExportModels.Logits(model, tokens), llama.Logits(tokens));
        output.WriteLine($"{arch} tied={tied} f16 vs our f32: {error:E2}");
        Assert.InRange(error, 0, F16Tolerance);
    }

    [Theory]
    [InlineData("llama", false)]
    [InlineData("qwen2", true)]
    [InlineData("qwen3", false)]
    public void Q8_0ExportMatchesItsOwnDequantizedWeights(string arch, bool tied)
    {
        using var model = ExportModels.Create(ExportModels.Config(arch, tied), seed: 31);
        using var dir = TestEnvironment.NewTempDir();
        var path = ExportModels.Export(model, dir, GgufFileType.Q8_0);
        var tokens = ExportModels.RandomTokens(32, 9);
        using var dequantized = ExportModels.FromGguf(model.Config, path);
        using var llama = LlamaCppReference.Load(path, ExportModels.Threads, contextSize: 64);
        var theirs = llama.Logits(tokens);
        var error = ExportModels.WorstRelativeError(ExportModels.Logits(dequantized, tokens), theirs);
        output.WriteLine($"{arch} tied={tied} q8_0 vs our model with the q8_0 weights: {error:E2} " +
            $"(vs our f32 model: {ExportModels.WorstRelativeError(ExportModels.Logits(model, tokens), theirs):E2})");
        Assert.InRange(error, 0, Q8ActivationTolerance);
    }
}
