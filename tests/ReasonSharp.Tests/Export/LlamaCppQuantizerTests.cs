using ReasonSharp.Export;
using ReasonSharp.Modeling;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Export;

/// <summary>
/// q4_0 and the k-quants, made by llama.cpp's own quantizer from our f16 file. The trained tiny model's rows (64 and
/// 128 values) are shorter than a k-quant super-block (256), so llama.cpp stores those weights in its fallback types;
/// a model 256 wide gets real k-quants.
/// </summary>
public class LlamaCppQuantizerTests(TrainedModelFixture trained, ITestOutputHelper output)
    : IClassFixture<TrainedModelFixture>
{
    const int NewTokens = 48;

    static string ExportQuantized(CausalLM model, TempDir dir, GgufFileType type, out GgufExportResult result)
    {
        var tokenizerFolder = Path.Combine(dir.Path, "tokenizer");
        if (!File.Exists(Path.Combine(tokenizerFolder, "tokenizer.json"))) TestTokenizer.Write(tokenizerFolder);
        var path = dir.File($"model-{type}.gguf");
        result = GgufQuantizer.Export(model, tokenizerFolder, path, new GgufExportOptions { Type = type, Name = "q" },
            threads: ExportModels.Threads);
        return path;
    }

    [Theory]
    [InlineData(GgufFileType.Q4_0, 0.2)]
    [InlineData(GgufFileType.Q4_K_M, 0.2)]
    [InlineData(GgufFileType.Q5_K_M, 0.1)]
    [InlineData(GgufFileType.Q6_K, 0.05)]
    public void TrainedTinyModelQuantizedByLlamaCppStillFollowsItsCycle(GgufFileType type, double tolerance)
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = ExportQuantized(trained.Model, dir, type, out var result);
        foreach (var t in result.Tensors) output.WriteLine($"{t.Name} [{string.Join(",", t.Shape)}] {t.Type}");
        foreach (var note in result.Notes) output.WriteLine($"note: {note}");

        var reader = GgufReader.Open(path);
        Assert.Equal((uint)type, (uint)reader.Metadata["general.file_type"]);
        Assert.Equal(TestTokenizer.ChatTemplate, reader.Metadata["tokenizer.chat_template"]);
        Assert.DoesNotContain(Directory.GetFiles(dir.Path), f => Path.GetFileName(f).EndsWith(".tmp"));
        var matrices = result.Tensors.Where(t => t.Shape.Length == 2).ToList();
        Assert.All(result.Tensors.Where(t => t.Shape.Length == 1), t => Assert.Equal(GgmlType.F32, t.Type));
        Assert.All(matrices, t => Assert.DoesNotContain(t.Type, new[] { GgmlType.F32, GgmlType.F16 }));
        if (type != GgufFileType.Q4_0)
        {
            // No row is a multiple of 256: every matrix fell back, and each is named in a note.
            GgmlType[] kQuants = [GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];
            Assert.All(matrices, t => Assert.DoesNotContain(t.Type, kQuants));
            Assert.Equal(matrices.Count, result.Notes.Count);
        }
        else
        {
            // token_embd is also the (tied) output, which llama.cpp keeps at Q6_K, here its fallback Q8_0.
            Assert.All(matrices.Where(t => t.Name != "token_embd.weight"), t => Assert.Equal(GgmlType.Q4_0, t.Type));
            Assert.Equal(GgmlType.Q8_0, matrices.Single(t => t.Name == "token_embd.weight").Type);
        }

        using var llama = LlamaCppReference.Load(path, ExportModels.Threads, contextSize: 128);
        var prompt = trained.CycleFrom(5, 8);
        var theirs = llama.GreedyBatch([prompt], NewTokens).Tokens[0];
        var tokens = trained.CycleFrom(3, 32);
        var error = ExportModels.WorstRelativeError(ExportModels.Logits(trained.Model, tokens), llama.Logits(tokens));
        output.WriteLine($"{type}: {result.FileBytes} bytes; worst max|Δlogit|/max|logit| vs our f32 {error:E2}");
        Assert.Equal(trained.CycleFrom(13, NewTokens), theirs);
        Assert.InRange(error, 0, tolerance);
    }

    /// <summary>A random model (near-flat logits, so the relative error is larger than on a trained one).</summary>
    [Theory]
    [InlineData(GgufFileType.Q4_K_M, 0.3)]
    [InlineData(GgufFileType.Q6_K, 0.1)]
    public void RowsOfWholeSuperBlocksGetRealKQuants(GgufFileType type, double tolerance)
    {
        var config = ModelConfig.Create("qwen2", vocabSize: ExportModels.Vocab, hiddenSize: 256, intermediateSize: 512,
            layers: 2, heads: 4, kvHeads: 2, tieWordEmbeddings: true, ropeTheta: 10000, maxPositions: 256,
            rmsNormEps: 1e-6, bosTokenId: TestTokenizer.EndOfText, eosTokenIds: [TestTokenizer.ImEnd],
            padTokenId: TestTokenizer.EndOfText);
        using var model = new CausalLM(config, seed: 5);
        model.eval();
        using var dir = TestEnvironment.NewTempDir();
        var path = ExportQuantized(model, dir, type, out var result);
        foreach (var t in result.Tensors) output.WriteLine($"{t.Name} [{string.Join(",", t.Shape)}] {t.Type}");
        Assert.Empty(result.Notes);
        var matrices = result.Tensors.Where(t => t.Shape.Length == 2).ToList();
        var kinds = matrices.Select(t => t.Type).Distinct().ToList();
        if (type == GgufFileType.Q6_K) Assert.All(matrices, t => Assert.Equal(GgmlType.Q6_K, t.Type));
        else Assert.Equal(new[] { GgmlType.Q4_K, GgmlType.Q6_K }, kinds.Order());
        using var llama = LlamaCppReference.Load(path, ExportModels.Threads, contextSize: 64);
        var tokens = ExportModels.RandomTokens(32, 9);
        var error = ExportModels.WorstRelativeError(ExportModels.Logits(model, tokens), llama.Logits(tokens));
        output.WriteLine($"{type}: kinds {string.Join(",", kinds)}; worst relative logit error {error:E2}");
        Assert.InRange(error, 0, tolerance);
    }

    /// <summary>Rows of 48 values fit no 32-value block: llama.cpp refuses, the error names the output and what is
    /// expected (llama.cpp's own warning is added when no other llama.cpp log hook came first), and no file (final or
    /// temporary) is left behind.</summary>
    [Fact]
    public void RowsThatFitNoBlockOfThirtyTwoAreRefusedWithTheReason()
    {
        var config = ModelConfig.Create("qwen2", vocabSize: ExportModels.Vocab, hiddenSize: 48, intermediateSize: 96,
            layers: 1, heads: 3, kvHeads: 1, tieWordEmbeddings: true, ropeTheta: 10000, maxPositions: 64,
            rmsNormEps: 1e-6, bosTokenId: TestTokenizer.EndOfText, eosTokenIds: [TestTokenizer.ImEnd],
            padTokenId: TestTokenizer.EndOfText);
        using var model = new CausalLM(config, seed: 5);
        using var dir = TestEnvironment.NewTempDir();
        var error = Assert.Throws<ReasonSharpException>(() => ExportQuantized(model, dir, GgufFileType.Q4_0, out _));
        output.WriteLine(error.Message);
        Assert.StartsWith(dir.File("model-Q4_0.gguf") + ": llama.cpp could not quantize the model to q4_0",
            error.Message);
        Assert.Contains("multiple of 32", error.Message);
        Assert.Equal(["tokenizer"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }
}
