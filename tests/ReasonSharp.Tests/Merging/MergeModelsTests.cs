using System.Text.Json.Nodes;
using ReasonSharp.Generation;
using ReasonSharp.Jobs;
using ReasonSharp.Merging;
using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Merging;

/// <summary>Three tiny model folders (two "fine-tunes" and a base: different random inits) for the tests.</summary>
public sealed class MergeModelsFixture : IDisposable
{
    public TempDir Dir { get; } = TestEnvironment.NewTempDir();
    public string A { get; }
    public string B { get; }
    public string Base { get; }

    public MergeModelsFixture()
    {
        (A, B, Base) = (Dir.File("a"), Dir.File("b"), Dir.File("base"));
        using (var lm = TinyLanguageModels.Create(Dir, seed: 1)) lm.Save(A);
        using (var lm = TinyLanguageModels.Create(Dir, seed: 2)) lm.Save(B);
        using (var lm = TinyLanguageModels.Create(Dir, seed: 3)) lm.Save(Base);
    }

    public void Dispose() => Dir.Dispose();
}

public sealed class MergeModelsTests(MergeModelsFixture models) : IClassFixture<MergeModelsFixture>
{
    const string Probe = "model.layers.0.mlp.up_proj.weight";

    static Tensor Read(string folder, string name)
    {
        using var file = SafetensorsFile.Open(Path.Combine(folder, ModelFolder.SingleFile));
        return file.Read(name, ScalarType.Float32);
    }

    static string Dtype(string folder, string name)
    {
        using var file = SafetensorsFile.Open(Path.Combine(folder, ModelFolder.SingleFile));
        return file.Entries[name].Dtype;
    }

    /// <summary>Equal up to the stored dtype's rounding (float32 compute, written in the input dtype).</summary>
    static void AssertClose(Tensor expected, Tensor actual, string dtype)
    {
        Assert.Equal(expected.shape, actual.shape);
        double tolerance = dtype == "F32" ? 1e-5 : 1e-2;
        double scale = Math.Max(1, expected.abs().max().item<float>());
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= tolerance * scale, $"max difference {diff} (dtype {dtype})");
    }

    ModelMergeOptions Options(string method, params string[] folders) =>
        new() { Models = folders.Length == 0 ? [models.A, models.B] : folders, Method = method };

    [Fact]
    public void LinearIsTheWeightedAverageOfEveryTensor()
    {
        using var dir = TestEnvironment.NewTempDir();
        var result = ModelMerger.Merge(Options("linear") with { Weights = [1, 3] }, dir.Path);
        Assert.True(result.Merged > 5);
        using var file = SafetensorsFile.Open(Path.Combine(dir.Path, ModelFolder.SingleFile));
        using var a = SafetensorsFile.Open(Path.Combine(models.A, ModelFolder.SingleFile));
        Assert.Equal(a.Entries.Keys.Order(), file.Entries.Keys.Order());
        foreach (var name in new[] { Probe, "model.norm.weight", "model.embed_tokens.weight" })
        {
            var expected = (Read(models.A, name) * 1 + Read(models.B, name) * 3) / 4;
            Assert.Equal(a.Entries[name].Dtype, file.Entries[name].Dtype);
            AssertClose(expected, Read(dir.Path, name), Dtype(dir.Path, name));
        }
    }

    [Fact]
    public void LinearWithoutNormalizeIsTheWeightedSum()
    {
        using var dir = TestEnvironment.NewTempDir();
        ModelMerger.Merge(Options("linear") with { Weights = [0.5, 0.25], Normalize = false }, dir.Path);
        var expected = Read(models.A, Probe) * 0.5 + Read(models.B, Probe) * 0.25;
        AssertClose(expected, Read(dir.Path, Probe), Dtype(dir.Path, Probe));
    }

    [Fact]
    public void SlerpReturnsTheEndpointsAtZeroAndOne()
    {
        using var dir0 = TestEnvironment.NewTempDir();
        using var dir1 = TestEnvironment.NewTempDir();
        ModelMerger.Merge(Options("slerp") with { T = 0 }, dir0.Path);
        ModelMerger.Merge(Options("slerp") with { T = 1 }, dir1.Path);
        AssertClose(Read(models.A, Probe), Read(dir0.Path, Probe), Dtype(dir0.Path, Probe));
        AssertClose(Read(models.B, Probe), Read(dir1.Path, Probe), Dtype(dir1.Path, Probe));
    }

    [Fact]
    public void SlerpAtOneHalfMatchesAHandComputation()
    {
        // a = (1, 0), b = (0, 2): the angle is 90°, so at t = 0.5 both coefficients are sin(45°) / sin(90°) = √½.
        using var a = tensor(new float[] { 1, 0 });
        using var b = tensor(new float[] { 0, 2 });
        using var mid = ModelMerger.Slerp(a, b, 0.5);
        Assert.Equal(Math.Sqrt(0.5), mid[0].item<float>(), 5);
        Assert.Equal(2 * Math.Sqrt(0.5), mid[1].item<float>(), 5);
        // 60° apart: (1, 0) and (cos 60°, sin 60°); at t = 0.5 the result is the unit vector at 30°.
        using var c = tensor(new float[] { 0.5f, (float)Math.Sqrt(0.75) });
        using var at30 = ModelMerger.Slerp(a, c, 0.5);
        Assert.Equal(Math.Cos(Math.PI / 6), at30[0].item<float>(), 5);
        Assert.Equal(Math.Sin(Math.PI / 6), at30[1].item<float>(), 5);
        // Colinear tensors fall back to linear interpolation.
        using var d = tensor(new float[] { 3, 0 });
        using var lerp = ModelMerger.Slerp(a, d, 0.5);
        Assert.Equal(2f, lerp[0].item<float>(), 5);
    }

    [Fact]
    public void SlerpOfTwoModelsMatchesTheFormulaPerTensor()
    {
        using var dir = TestEnvironment.NewTempDir();
        ModelMerger.Merge(Options("slerp") with { Weights = [3, 1] }, dir.Path); // t = 1 / 4
        var (a, b) = (Read(models.A, Probe).to(ScalarType.Float64), Read(models.B, Probe).to(ScalarType.Float64));
        double cos = (a * b).sum().item<double>() / (a.norm().item<double>() * b.norm().item<double>());
        double theta = Math.Acos(cos);
        var expected = (Math.Sin(0.75 * theta) / Math.Sin(theta) * a + Math.Sin(0.25 * theta) / Math.Sin(theta) * b)
            .to(ScalarType.Float32);
        AssertClose(expected, Read(dir.Path, Probe), Dtype(dir.Path, Probe));
    }

    [Fact]
    public void TiesTrimsElectsTheSignAndAveragesTheAgreeingEntries()
    {
        using var baseTensor = tensor(new float[] { 1, 1, 1, 1 });
        // Task vectors: δ1 = (4, -1, 2, 0.5), δ2 = (2, 3, -3, 0.1).
        using var m1 = tensor(new float[] { 5, 0, 3, 1.5f });
        using var m2 = tensor(new float[] { 3, 4, -2, 1.1f });
        // Density 0.5 keeps the top two by magnitude: δ1 → (4, 0, 2, 0), δ2 → (0, 3, -3, 0).
        // Signs of the sum (4, 3, -1, 0): +, +, -, none. Agreeing: e0 δ1, e1 δ2, e2 δ2, e3 nobody.
        using var merged = ModelMerger.Ties(baseTensor, [m1, m2], [1, 1], [0.5, 0.5], normalize: true);
        Assert.Equal(new float[] { 5, 4, -2, 1 }, merged.data<float>().ToArray());
        // Weighted (2, 1): the sum is (8, 3, 1, 0), so element 2 elects +, δ1's 2·2 = 4 over weight 2 → 2.
        using var weighted = ModelMerger.Ties(baseTensor, [m1, m2], [2, 1], [0.5, 0.5], normalize: true);
        Assert.Equal(new float[] { 5, 4, 3, 1 }, weighted.data<float>().ToArray());
        // At density 1 both agree on element 0 and average: (4 + 2) / 2 = 3.
        using var full = ModelMerger.Ties(baseTensor, [m1, m2], [1, 1], [1, 1], normalize: true);
        Assert.Equal(4f, full[0].item<float>(), 5);
        Assert.Equal(1 + 0.3f, full[3].item<float>(), 5);
    }

    [Fact]
    public void TiesOfModelFoldersMatchesTheTensorFunction()
    {
        using var dir = TestEnvironment.NewTempDir();
        ModelMerger.Merge(Options("ties") with { BaseModel = models.Base, Density = [0.3] }, dir.Path);
        var expected = ModelMerger.Ties(Read(models.Base, Probe), [Read(models.A, Probe), Read(models.B, Probe)],
            [1, 1], [0.3, 0.3], normalize: true);
        AssertClose(expected, Read(dir.Path, Probe), Dtype(dir.Path, Probe));
        // 30% of each task vector survives the trim, so most entries keep the base value.
        using var unchanged = Read(dir.Path, Probe).sub(Read(models.Base, Probe)).abs().lt(1e-6f);
        Assert.True(unchanged.to(ScalarType.Float32).mean().item<float>() > 0.4f);
    }

    [Fact]
    public void DareTiesIsDeterministicForASeedAndEqualsTiesAtDensityOne()
    {
        using var one = TestEnvironment.NewTempDir();
        using var two = TestEnvironment.NewTempDir();
        using var other = TestEnvironment.NewTempDir();
        var dare = Options("dare_ties") with { BaseModel = models.Base, Density = [0.5], Seed = 7 };
        ModelMerger.Merge(dare, one.Path);
        ModelMerger.Merge(dare, two.Path);
        ModelMerger.Merge(dare with { Seed = 8 }, other.Path);
        Assert.Equal(File.ReadAllBytes(Path.Combine(one.Path, ModelFolder.SingleFile)),
            File.ReadAllBytes(Path.Combine(two.Path, ModelFolder.SingleFile)));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(one.Path, ModelFolder.SingleFile)),
            File.ReadAllBytes(Path.Combine(other.Path, ModelFolder.SingleFile)));

        using var dareFull = TestEnvironment.NewTempDir();
        using var tiesFull = TestEnvironment.NewTempDir();
        ModelMerger.Merge(dare with { Density = [1] }, dareFull.Path);
        ModelMerger.Merge(Options("ties") with { BaseModel = models.Base, Density = [1] }, tiesFull.Path);
        Assert.Equal(File.ReadAllBytes(Path.Combine(tiesFull.Path, ModelFolder.SingleFile)),
            File.ReadAllBytes(Path.Combine(dareFull.Path, ModelFolder.SingleFile)));
    }

    [Fact]
    public void DareDropsWithTheKeepProbabilityAndRescales()
    {
        using var delta = ones(10_000);
        using var generator = new Generator(5);
        using var dropped = ModelMerger.DropAndRescale(delta, 0.25, generator);
        double kept = dropped.ne(0).to(ScalarType.Float32).mean().item<float>();
        Assert.InRange(kept, 0.22, 0.28);
        Assert.Equal(4f, dropped.max().item<float>());
        Assert.InRange(dropped.mean().item<float>(), 0.88, 1.12); // rescaling keeps the expectation
    }

    [Fact]
    public void TheMergedFolderLoadsAndGenerates()
    {
        using var dir = TestEnvironment.NewTempDir();
        ModelMerger.Merge(Options("linear"), dir.Path);
        foreach (var file in new[] { "config.json", "tokenizer.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(dir.Path, file)), file);
        using var lm = LanguageModel.Load(dir.Path, "cpu");
        var ids = lm.Tokenizer.Encode("12 + 7 =");
        var result = lm.Engine().Generate([ids], SamplingOptions.Greedy(5, lm.StopTokenIds)).Single();
        Assert.InRange(result.CompletionIds.Length, 1, 5);
        using var merged = lm.Model.named_parameters().First(p => p.name == Probe).parameter.detach().cpu();
        AssertClose((Read(models.A, Probe) + Read(models.B, Probe)) / 2, merged.to(ScalarType.Float32), "BF16");
    }

    [Fact]
    public void MismatchedShapesNameTheTensorTheFilesAndTheShapes()
    {
        using var dir = TestEnvironment.NewTempDir();
        var broken = CopyWithTensors(models.B, dir.File("broken"),
            (name, t) => name == Probe ? (name, t.narrow(0, 0, t.shape[0] - 1)) : (name, t));
        var error = Assert.Throws<ReasonSharpException>(() =>
            ModelMerger.Merge(Options("linear", models.A, broken), dir.File("out")));
        Assert.Contains($"tensor '{Probe}'", error.Message);
        Assert.Contains(Path.Combine(models.A, ModelFolder.SingleFile), error.Message);
        Assert.Contains(Path.Combine(broken, ModelFolder.SingleFile), error.Message);
        using var a = Read(models.A, Probe);
        Assert.Contains($"[{a.shape[0]}, {a.shape[1]}]", error.Message);
        Assert.Contains($"[{a.shape[0] - 1}, {a.shape[1]}]", error.Message);
        Assert.Contains("expected the same shape", error.Message);
        Assert.False(File.Exists(Path.Combine(dir.File("out"), ModelFolder.SingleFile)));
    }

    [Fact]
    public void MismatchedNamesNameTheTensorAndTheFiles()
    {
        using var dir = TestEnvironment.NewTempDir();
        var broken = CopyWithTensors(models.B, dir.File("renamed"),
            (name, t) => (name == Probe ? "model.layers.0.mlp.renamed.weight" : name, t));
        var error = Assert.Throws<ReasonSharpException>(() =>
            ModelMerger.Merge(Options("linear", models.A, broken), dir.File("out")));
        Assert.Contains($"tensor '{Probe}'", error.Message);
        Assert.Contains(broken, error.Message);
        Assert.Contains("expected the same tensor names", error.Message);
    }

    [Fact]
    public void MismatchedArchitectureNamesTheKeyAndBothConfigs()
    {
        using var dir = TestEnvironment.NewTempDir();
        var other = dir.File("other");
        CopyFolder(models.B, other);
        var configPath = Path.Combine(other, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["num_hidden_layers"] = config["num_hidden_layers"]!.GetValue<int>() + 1;
        File.WriteAllText(configPath, config.ToJsonString());
        var error = Assert.Throws<ReasonSharpException>(() =>
            ModelMerger.Merge(Options("linear", models.A, other), dir.File("out")));
        Assert.Contains("num_hidden_layers", error.Message);
        Assert.Contains(configPath, error.Message);
        Assert.Contains(Path.Combine(models.A, "config.json"), error.Message);
        Assert.Contains("expected the same architecture", error.Message);
    }

    [Theory]
    [InlineData("linear", "weights: 3 given for 2 models; expected one weight per model")]
    [InlineData("density", "density: 1.5 is outside (0, 1]; expected a fraction in (0, 1]")]
    [InlineData("zero-density", "density: 0 is outside (0, 1]")]
    [InlineData("ties", "base_model: missing; expected the base model folder for ties")]
    [InlineData("dare_ties", "base_model: missing; expected the base model folder for dare_ties")]
    [InlineData("slerp", "models: slerp interpolates exactly two models, got 3")]
    [InlineData("method", "method: 'average' is unknown; expected one of linear, slerp, ties, dare_ties")]
    public void OptionErrorsNameTheFieldAndWhatIsExpected(string which, string message)
    {
        var options = which switch
        {
            "linear" => Options("linear") with { Weights = [1, 2, 3] },
            "density" => Options("ties") with { BaseModel = models.Base, Density = [1.5] },
            "zero-density" => Options("dare_ties") with { BaseModel = models.Base, Density = [0] },
            "ties" => Options("ties"),
            "dare_ties" => Options("dare_ties"),
            "slerp" => Options("slerp", models.A, models.B, models.Base) with { T = 0.5 },
            _ => Options("average"),
        };
        using var dir = TestEnvironment.NewTempDir();
        var error = Assert.Throws<ReasonSharpException>(() => ModelMerger.Merge(options, dir.File("out")));
        Assert.Contains(message, error.Message);
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void AnExistingOutputIsRefusedWithoutOverwrite()
    {
        using var dir = TestEnvironment.NewTempDir();
        var job = new MergeModelsJob { OptionNames = ("--out", "--overwrite") };
        var options = new MergeModelsJobOptions { Merge = Options("linear"), OutputDir = dir.File("out") };
        job.Run(options, new RunContext());
        var error = Assert.Throws<ReasonSharpException>(() => job.Run(options, new RunContext()));
        Assert.Contains($"--out '{dir.File("out")}' already holds a model", error.Message);
        Assert.Contains("--overwrite", error.Message);
        var done = job.Run(options with { Overwrite = true, Merge = Options("slerp") with { T = 1 } },
            new RunContext());
        Assert.Equal(dir.File("out"), done.Outputs["model"]);
        AssertClose(Read(models.B, Probe), Read(dir.File("out"), Probe), Dtype(dir.File("out"), Probe));
    }

    [Fact]
    public void TheJobIsAPipelineStageWithMergekitNames()
    {
        var job = JobRegistry.Get("merge-models", "test");
        var yaml = new YamlDotNet.RepresentationModel.YamlStream();
        yaml.Load(new StringReader(
            $"models: ['{models.A}', '{models.B}']\nmethod: dare_ties\nweights: [0.7, 0.3]\ndensity: [0.6]\n" +
            $"base_model: '{models.Base}'\nseed: 3\nnormalize: false\n"));
        var bound = (MergeModelsJobOptions)JobRegistry.Bind(job, yaml.Documents[0].RootNode, new RunContext(), "test");
        Assert.Equal("dare_ties", bound.Merge.Method);
        Assert.Equal([0.7, 0.3], bound.Merge.Weights);
        Assert.Equal([0.6], bound.Merge.Density);
        Assert.Equal(models.Base, bound.Merge.BaseModel);
        Assert.Equal(3, bound.Merge.Seed);
        Assert.False(bound.Merge.Normalize);
        yaml.Load(new StringReader($"models: ['{models.A}', '{models.B}']\nmethod: ties\n"));
        var error = Assert.Throws<ReasonSharpException>(() =>
            JobRegistry.Bind(job, yaml.Documents[^1].RootNode, new RunContext(), "test"));
        Assert.Contains("base_model: missing", error.Message);
    }

    static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    /// <summary>A copy of a model folder whose tensors pass through <paramref name="change"/>.</summary>
    static string CopyWithTensors(string from, string to, Func<string, Tensor, (string, Tensor)> change)
    {
        CopyFolder(from, to);
        var tensors = new List<(string, Tensor)>();
        using (var file = SafetensorsFile.Open(Path.Combine(from, ModelFolder.SingleFile)))
            foreach (var (name, entry) in file.Entries.OrderBy(e => e.Key, StringComparer.Ordinal))
                tensors.Add(change(name, file.Read(name, SafetensorsFile.ToScalarType(entry.Dtype))));
        SafetensorsWriter.Write(Path.Combine(to, ModelFolder.SingleFile), tensors);
        return to;
    }
}

[Collection("Console")]
public sealed class MergeModelsCliTests(MergeModelsFixture models) : IClassFixture<MergeModelsFixture>
{
    [Fact]
    public async Task TheCommandMergesAndReportsErrorsAsOneLine()
    {
        using var dir = TestEnvironment.NewTempDir();
        var (code, output) = await CliHarness.Run("merge-models", models.A, models.B, "--method", "linear",
            "--weights", "1", "3", "--out", dir.File("out"));
        Assert.True(code == 0, output);
        Assert.Contains("merged", output);
        Assert.True(File.Exists(Path.Combine(dir.File("out"), ModelFolder.SingleFile)));

        (code, output) = await CliHarness.Run("merge-models", models.A, models.B, "--method", "linear",
            "--out", dir.File("out"));
        Assert.Equal(2, code);
        Assert.Contains("--out", output);
        Assert.Contains("--overwrite", output);

        (code, output) = await CliHarness.Run("merge-models", models.A, models.B, "--method", "ties",
            "--density", "0.5", "--out", dir.File("ties"));
        Assert.Equal(2, code);
        Assert.Contains("error: base_model: missing", output);
    }
}
