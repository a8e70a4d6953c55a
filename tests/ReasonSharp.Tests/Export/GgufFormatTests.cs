using System.Runtime.InteropServices;
using ReasonSharp.Export;
using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Export;

public class GgufFormatTests
{
    [Fact]
    public void WriterAndReaderRoundTripMetadataAndTensors()
    {
        using var dir = TestEnvironment.NewTempDir();
        var writer = new GgufWriter();
        writer.AddString("general.architecture", "llama");
        writer.AddUInt32("a.u32", 7);
        writer.AddInt32("a.i32", -3);
        writer.AddFloat32("a.f32", 1.5f);
        writer.AddBool("a.bool", true);
        writer.AddStringArray("a.strings", ["x", "ÿ é", ""]);
        writer.AddInt32Array("a.ints", [1, -2, 3]);
        var values = Enumerable.Range(0, 3 * 64).Select(i => MathF.Sin(i) * 2).ToArray();
        TensorRowReader rows = (first, count, destination) => values.AsSpan((int)first * 64, count * 64).CopyTo(destination);
        writer.AddTensor("t.f32", [3, 64], GgmlType.F32, rows);
        writer.AddTensor("t.f16", [3, 64], GgmlType.F16, rows);
        writer.AddTensor("t.q8", [3, 64], GgmlType.Q8_0, rows);
        writer.AddTensor("t.odd", [5], GgmlType.F32, (_, _, d) => new float[] { 1, 2, 3, 4, 5 }.CopyTo(d));
        Assert.Throws<InvalidOperationException>(() => writer.AddUInt32("a.u32", 1));
        Assert.Throws<ArgumentException>(() => writer.AddTensor("t.bad", [2, 33], GgmlType.Q8_0, rows));
        var path = dir.File("x.gguf");
        using (var stream = File.Create(path)) writer.Write(stream);

        var bytes = File.ReadAllBytes(path);
        Assert.Equal("GGUF"u8.ToArray(), bytes[..4]);
        Assert.Equal(3u, BitConverter.ToUInt32(bytes, 4));
        var reader = GgufReader.Open(path);
        Assert.Equal("llama", reader.Metadata["general.architecture"]);
        Assert.Equal(7u, reader.Metadata["a.u32"]);
        Assert.Equal(-3, reader.Metadata["a.i32"]);
        Assert.Equal(1.5f, reader.Metadata["a.f32"]);
        Assert.Equal(true, reader.Metadata["a.bool"]);
        Assert.Equal(new[] { "x", "ÿ é", "" }, reader.Metadata["a.strings"]);
        Assert.Equal(new[] { 1, -2, 3 }, reader.Metadata["a.ints"]);
        Assert.Equal(0, reader.DataStart % Gguf.DefaultAlignment);
        Assert.All(reader.Tensors, t => Assert.Equal(0, t.Offset % Gguf.DefaultAlignment));
        Assert.Equal([3L, 64L], reader.Tensor("t.q8").Shape);
        Assert.Equal(3 * 2 * Gguf.Q8_0BlockBytes, reader.Tensor("t.q8").ByteSize);
        Assert.Equal(values, reader.ReadFloats("t.f32"));
        Assert.Equal(values.Select(v => (float)(Half)v), reader.ReadFloats("t.f16"));
        var q8 = reader.ReadFloats("t.q8");
        Assert.All(values.Zip(q8), p => Assert.InRange(Math.Abs(p.First - p.Second), 0, 2f / 127 * 0.57f));
        Assert.Equal(new float[] { 1, 2, 3, 4, 5 }, reader.ReadFloats("t.odd"));
        Assert.Equal(bytes.Length, reader.DataStart + reader.Tensors.Max(t => Gguf.Align(t.Offset + t.ByteSize)));
    }

    delegate void QuantizeRow(float[] x, byte[] y, long k);
    delegate void Fp32ToFp16Row(float[] x, ushort[] y, long k);

    static T GgmlFunction<T>(string name) where T : Delegate
    {
        var path = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "noavx", "libggml-base.so");
        Skip.IfNot(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 && File.Exists(path),
            "ggml's reference functions are checked against the linux-x64 libggml-base.so that LLamaSharp.Backend.Cpu ships");
        return Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(NativeLibrary.Load(path), name));
    }

    static float[] AwkwardValues()
    {
        var random = new Random(1);
        var values = new List<float>();
        for (int i = 0; i < 64 * 32; i++) values.Add((float)(random.NextDouble() * 2 - 1) * MathF.Pow(10, random.Next(-6, 3)));
        values.AddRange(new float[32]);                                             // all-zero block: d = 0
        values.AddRange(Enumerable.Range(0, 32).Select(i => (i - 16) * 0.5f));     // exact .5 ties after scaling
        values.AddRange(Enumerable.Range(0, 32).Select(i => i == 3 ? -127f : i)); // negative maximum
        values.AddRange(Enumerable.Range(0, 32).Select(i => 70000f * (i % 2 == 0 ? 1 : -1) + i)); // f16 overflow of values
        return values.ToArray();
    }

    [SkippableFact]
    public void Q8_0MatchesGgmlReferenceQuantizerBitForBit()
    {
        var quantize = GgmlFunction<QuantizeRow>("quantize_row_q8_0_ref");
        var values = AwkwardValues();
        var expected = new byte[values.Length / 32 * Gguf.Q8_0BlockBytes];
        quantize(values, expected, values.Length);
        var actual = new byte[expected.Length];
        GgmlQuants.QuantizeQ8_0(values, actual);
        Assert.Equal(expected, actual);
    }

    [SkippableFact]
    public void F16MatchesGgmlConversionBitForBit()
    {
        var convert = GgmlFunction<Fp32ToFp16Row>("ggml_fp32_to_fp16_row");
        var values = AwkwardValues().Concat([65504f, 65520f, 1e-8f, -0f, 6.1e-5f]).ToArray();
        var expected = new ushort[values.Length];
        convert(values, expected, values.Length);
        var actual = new byte[values.Length * 2];
        GgmlQuants.EncodeF16(values, actual);
        Assert.Equal(expected, MemoryMarshal.Cast<byte, ushort>(actual).ToArray());
    }

    [Fact]
    public void LlamaRowOrderTurnsRotateHalfIntoInterleavedPairs()
    {
        // llama.cpp's normal RoPE rotates pairs (2j, 2j+1); Hugging Face rotates (j, j + d/2). Rows reordered by RowOrder,
        // rotated pairwise, must equal the original rows rotated half-wise and then reordered the same way.
        var config = ExportModels.Config("llama", tied: true);
        int d = config.HeadDim, heads = config.NumAttentionHeads;
        var order = GgufExporter.RowOrder("model.layers.0.self_attn.q_proj.weight", [heads * d, config.HiddenSize], config)!;
        var random = new Random(2);
        var q = Enumerable.Range(0, heads * d).Select(_ => random.NextDouble()).ToArray();
        var angles = Enumerable.Range(0, d / 2).Select(i => 5 * Math.Pow(config.RopeTheta, -2.0 * i / d)).ToArray();
        var halfWise = new double[q.Length];
        var pairWise = new double[q.Length];
        var permuted = order.Select(i => q[i]).ToArray();
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < d / 2; i++)
            {
                int b = h * d;
                double c = Math.Cos(angles[i]), s = Math.Sin(angles[i]);
                halfWise[b + i] = q[b + i] * c - q[b + i + d / 2] * s;
                halfWise[b + i + d / 2] = q[b + i + d / 2] * c + q[b + i] * s;
                pairWise[b + 2 * i] = permuted[b + 2 * i] * c - permuted[b + 2 * i + 1] * s;
                pairWise[b + 2 * i + 1] = permuted[b + 2 * i + 1] * c + permuted[b + 2 * i] * s;
            }
        var expected = order.Select(i => halfWise[i]).ToArray();
        Assert.All(expected.Zip(pairWise), p => Assert.Equal(p.First, p.Second, 12));
        Assert.Null(GgufExporter.RowOrder("model.layers.0.self_attn.q_proj.weight", [heads * d, config.HiddenSize], ExportModels.Config("qwen2", true)));
        Assert.Null(GgufExporter.RowOrder("model.layers.0.self_attn.v_proj.weight", [2 * d, config.HiddenSize], config));
    }

    [Theory]
    [InlineData("llama", true)]
    [InlineData("llama", false)]
    [InlineData("qwen2", false)]
    [InlineData("qwen3", true)]
    public void F32ExportStoresEveryParameterExactly(string arch, bool tied)
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = ExportModels.Create(ExportModels.Config(arch, tied), seed: 4);
        var path = ExportModels.Export(model, dir, GgufFileType.F32);
        var reader = GgufReader.Open(path);
        Assert.Equal(tied, !reader.Tensors.Any(t => t.Name == "output.weight"));
        Assert.Equal(model.state_dict().Count, reader.Tensors.Count);
        Assert.All(reader.Tensors, t => Assert.Equal(GgmlType.F32, t.Type));
        Assert.Equal(arch == "qwen3", reader.Tensors.Any(t => t.Name == "blk.1.attn_k_norm.weight"));
        Assert.Equal([(long)model.Config.NumAttentionHeads * model.Config.HeadDim, 64L], reader.Tensor("blk.0.attn_q.weight").Shape);
        using var restored = ExportModels.FromGguf(model.Config, path);
        var original = model.state_dict();
        foreach (var (name, value) in restored.state_dict())
            Assert.True(value.eq(original[name]).all().item<bool>(), $"{name} differs after the round trip");
    }

    [Fact]
    public void HalfAndQ8ExportsKeepNormsAndBiasesInF32()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = ExportModels.Create(ExportModels.Config("qwen2", tied: false), seed: 4);
        foreach (var type in new[] { GgufFileType.F16, GgufFileType.Q8_0 })
        {
            var reader = GgufReader.Open(ExportModels.Export(model, dir, type));
            Assert.Equal((uint)type, reader.Metadata["general.file_type"]);
            foreach (var t in reader.Tensors)
            {
                bool stays32 = t.Shape.Length == 1;
                Assert.True(stays32 == (t.Name.EndsWith("_norm.weight") || t.Name.EndsWith(".bias")), t.Name);
                Assert.Equal(stays32 ? GgmlType.F32 : Gguf.TensorType(type), t.Type);
            }
        }
    }

    [Fact]
    public void Q8_0FallsBackToF16ForRowsThatAreNotBlocksOf32()
    {
        using var dir = TestEnvironment.NewTempDir();
        var config = ExportModels.Config("qwen2", tied: true) with { IntermediateSize = 100 };
        using var model = ExportModels.Create(config, seed: 4);
        TestTokenizer.Write(dir.File("tok"));
        var result = GgufExporter.Export(model, dir.File("tok"), dir.File("m.gguf"), new GgufExportOptions { Type = GgufFileType.Q8_0 });
        Assert.Equal(GgmlType.F16, result.Tensors.Single(t => t.Name == "blk.0.ffn_down.weight").Type);
        Assert.Equal(GgmlType.Q8_0, result.Tensors.Single(t => t.Name == "blk.0.ffn_up.weight").Type);
        Assert.Contains(result.Notes, n => n.StartsWith("blk.1.ffn_down.weight: row length 100"));
        Assert.Equal(GgmlType.F16, GgufReader.Open(dir.File("m.gguf")).Tensor("blk.1.ffn_down.weight").Type);
    }

    [Fact]
    public void ModelMetadataDescribesTheArchitecture()
    {
        using var dir = TestEnvironment.NewTempDir();
        var config = ExportModels.Config("qwen3", tied: true) with { RopeTheta = 1e6, RmsNormEps = 1e-5 };
        using var model = ExportModels.Create(config, seed: 4);
        var m = GgufReader.Open(ExportModels.Export(model, dir, GgufFileType.F32, "tiny")).Metadata;
        Assert.Equal("qwen3", m["general.architecture"]);
        Assert.Equal("tiny", m["general.name"]);
        Assert.Equal(0u, m["general.file_type"]);
        Assert.Equal(256u, m["qwen3.context_length"]);
        Assert.Equal(64u, m["qwen3.embedding_length"]);
        Assert.Equal(2u, m["qwen3.block_count"]);
        Assert.Equal(128u, m["qwen3.feed_forward_length"]);
        Assert.Equal(4u, m["qwen3.attention.head_count"]);
        Assert.Equal(2u, m["qwen3.attention.head_count_kv"]);
        Assert.Equal(32u, m["qwen3.attention.key_length"]);
        Assert.Equal(32u, m["qwen3.attention.value_length"]);
        Assert.Equal(1e6f, m["qwen3.rope.freq_base"]);
        Assert.Equal(1e-5f, m["qwen3.attention.layer_norm_rms_epsilon"]);
        Assert.Equal((uint)ExportModels.Vocab, m["qwen3.vocab_size"]);
    }

    [Fact]
    public void UnsupportedCombinationsAreRefusedWithTheReason()
    {
        using var dir = TestEnvironment.NewTempDir();
        TestTokenizer.Write(dir.File("tok"));
        var scaled = ExportModels.Config("qwen2", true) with { RopeScaling = new RopeScaling("llama3", 8, 1, 4, 16) };
        using var model = ExportModels.Create(scaled, seed: 1);
        var e = Assert.Throws<ReasonSharpException>(() => GgufExporter.Export(model, dir.File("tok"), dir.File("x.gguf")));
        Assert.Contains("rope_freqs", e.Message);
        using var biased = ExportModels.Create(ExportModels.Config("qwen3", true) with { QkvBias = true }, seed: 1);
        Assert.Contains("qwen3", Assert.Throws<ReasonSharpException>(() => GgufExporter.Export(biased, dir.File("tok"), dir.File("x.gguf"))).Message);
        Assert.False(File.Exists(dir.File("x.gguf")));
    }
}
