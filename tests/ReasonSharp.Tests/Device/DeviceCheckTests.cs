using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Bench;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Device;

/// <summary>The CPU side of the prepared GPU check (bench/device): the prepared folder loads back and reproduces its
/// logits, the comparison passes identical outputs and catches planted differences, and the device scripts at least
/// parse. check.py itself needs torch and transformers, which this machine does not have.</summary>
public class DeviceCheckTests
{
    static string Fixtures => Path.Combine(TestEnvironment.RepoRoot, "tests", "ReasonSharp.Tests", "Templates",
        "Fixtures");

    static string DeviceScript(string name) => Path.Combine(TestEnvironment.RepoRoot, "bench", "device", name);

    [Fact]
    public void Prepare_WritesLoadableFoldersOfEveryArchitectureThatReproduceTheirLogits()
    {
        using var dir = TestEnvironment.NewTempDir();
        var manifest = DeviceCheck.Prepare(dir.Path, Fixtures);
        var models = manifest["models"]!.AsArray().Select(m => m!.AsObject()).ToList();
        Assert.Equal(ModelArchitecture.All.Select(a => a.ModelType).Order(),
            models.Select(m => m["model_type"]!.GetValue<string>()).Order());
        foreach (var entry in models)
        {
            var folder = Path.Combine(dir.Path, entry["folder"]!.GetValue<string>());
            using var model = ModelFolder.Load(folder);
            model.eval();
            using var tokenizer = Tokenizer.Load(folder);
            Assert.Equal(entry["model_type"]!.GetValue<string>(), model.Config.ModelType);
            Assert.Equal(entry["weights_digest"]!.GetValue<string>(), DeviceCheck.WeightsDigest(model));
            var ids = entry["input_ids"]!.AsArray().Select(n => n!.GetValue<long>()).ToArray();
            Assert.Equal(DeviceCheck.Positions, ids.Length);
            Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
            var written = DeviceCheck.ReadFloats(Path.Combine(dir.Path, entry["logits"]!.GetValue<string>()));
            var fresh = DeviceCheck.Logits(model, ids);
            Assert.Equal(DeviceCheck.Positions * model.Config.VocabSize, written.Length);
            Assert.Equal(0, DeviceCheck.WorstRelativeError(written, fresh, model.Config.VocabSize));
            Assert.True(written.Max(Math.Abs) > 1, $"{entry["name"]}: logits near zero would hide errors");
        }
    }

    [Fact]
    public void Prepare_RendersEveryConversationAsTheJinja2FixturesDo()
    {
        using var dir = TestEnvironment.NewTempDir();
        var manifest = DeviceCheck.Prepare(dir.Path, Fixtures);
        var renders = DeviceCheck.ReadObject(Path.Combine(dir.Path, manifest["chat"]!["renders"]!.GetValue<string>()));
        var committed = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures, "templates.json")))!.AsArray()
            .Count(e => e!["file"] is not null);
        Assert.Equal(committed, renders.Count);
        int compared = 0;
        foreach (var (template, cases) in renders)
        {
            var expected = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures, "expected", template + ".json")))!;
            foreach (var jinja2 in expected["cases"]!.AsArray())
            {
                var ours = cases![jinja2!["name"]!.GetValue<string>()]!.AsObject();
                Assert.Equal(jinja2["error"] is null, ours["error"] is null);
                if (jinja2["output"] is { } output)
                {
                    Assert.Equal(output.GetValue<string>(), ours["output"]!.GetValue<string>());
                    compared++;
                }
            }
        }
        Assert.True(compared > 400, $"only {compared} renders compared");
    }

    /// <summary>A device result that agrees exactly with ours: every model on one run, every render, every
    /// id.</summary>
    static string IdenticalResults(string prepared, string results)
    {
        var manifest = DeviceCheck.ReadObject(Path.Combine(prepared, DeviceCheck.ManifestFile));
        Directory.CreateDirectory(Path.Combine(results, "logits"));
        var models = new JsonObject();
        foreach (var model in manifest["models"]!.AsArray())
        {
            var name = model!["name"]!.GetValue<string>();
            var path = Path.Combine("logits", $"{name}.cpu-eager.f32");
            File.Copy(Path.Combine(prepared, model["logits"]!.GetValue<string>()), Path.Combine(results, path));
            models[name] = new JsonObject { ["cpu-eager"] = new JsonObject { ["logits"] = path } };
        }
        var renders = DeviceCheck.ReadObject(Path.Combine(prepared, manifest["chat"]!["renders"]!.GetValue<string>()));
        foreach (var (_, cases) in renders)
            foreach (var (_, render) in cases!.AsObject())
                if (render!["error"] is JsonObject error)
                    render.AsObject()["error"] = new JsonObject
                    {
                        ["type"] = "TemplateError", ["message"] =
                        error["message"]!.DeepClone()
                    };
        var results1 = new JsonObject
        {
            ["format"] = 1, ["environment"] = new JsonObject { ["torch"] = "test" }, ["errors"] = new JsonObject(),
            ["models"] = models, ["renders"] = renders,
            ["tokenization"] = new JsonObject { ["ids"] = manifest["tokenization"]!["ids"]!.DeepClone() },
        };
        var path1 = Path.Combine(results, DeviceCheck.ResultsFile);
        File.WriteAllText(path1, results1.ToJsonString());
        return path1;
    }

    [Fact]
    public void Compare_PassesIdenticalOutputsAndCatchesEachPlantedDifference()
    {
        using var dir = TestEnvironment.NewTempDir();
        var prepared = dir.File("prepared");
        var results = dir.File("results");
        DeviceCheck.Prepare(prepared, Fixtures);
        var resultsFile = IdenticalResults(prepared, results);

        var same = DeviceCheck.Compare(prepared, results);
        Assert.True(same.Passed, DeviceCheck.Format(same));
        Assert.Equal(5, same.Logits.Count);
        Assert.All(same.Logits, l => Assert.Equal(0, l.Error));

        // A logit 1e-3 of the row's largest away, a render one character off, a token id changed, a failed run.
        var qwen3 = Path.Combine(results, "logits", "qwen3.cpu-eager.f32");
        var logits = DeviceCheck.ReadFloats(qwen3);
        int vocab = logits.Length / DeviceCheck.Positions;
        var row = logits.AsSpan(7 * vocab, vocab).ToArray();
        logits[7 * vocab + 3] += 1e-3f * row.Max(Math.Abs);
        DeviceCheck.WriteFloats(qwen3, logits);
        var json = DeviceCheck.ReadObject(resultsFile);
        var render = json["renders"]!["qwen3"]!["multi-turn"]!.AsObject();
        render["output"] = render["output"]!.GetValue<string>().Replace("<|im_start|>assistant",
            "<|im_start|> assistant");
        json["tokenization"]!["ids"]![2]![0] = 0;
        json["models"]!["gemma3"]!["cuda-sdpa"] = new JsonObject { ["error"] = "RuntimeError: no kernel" };
        File.WriteAllText(resultsFile, json.ToJsonString());

        var planted = DeviceCheck.Compare(prepared, results);
        var report = DeviceCheck.Format(planted);
        Assert.False(planted.Passed);
        var bad = planted.Logits.Where(l => !l.Passed).ToList();
        Assert.Equal(2, bad.Count);
        Assert.InRange(bad.Single(l => l.Model == "qwen3").Error!.Value, 0.9e-3, 1.1e-3);
        Assert.Contains("no kernel", bad.Single(l => l.Model == "gemma3").Problem);
        var qwen3Renders = planted.Renders.Single(r => r.Template == "qwen3");
        Assert.StartsWith("multi-turn: first difference", Assert.Single(qwen3Renders.Differences));
        Assert.All(planted.Renders.Where(r => r.Template != "qwen3"), r => Assert.Empty(r.Differences));
        Assert.Equal([2], planted.Tokens.Select((t, i) => (t, i)).Where(x => !x.t.Equal).Select(x => x.i));
        Assert.Contains("FAILED", report);
    }

    [Fact]
    public void WrittenFixtures_VerifyAgainstTheLibraryAndCatchAWrongLogit()
    {
        using var dir = TestEnvironment.NewTempDir();
        var prepared = dir.File("prepared");
        var results = dir.File("results");
        var golden = dir.File("golden");
        DeviceCheck.Prepare(prepared, Fixtures);
        IdenticalResults(prepared, results);
        DeviceCheck.WriteFixtures(prepared, results, golden, run: "cpu-eager");
        Assert.Empty(DeviceCheck.VerifyGolden(golden, Fixtures));

        var llama = Path.Combine(golden, "logits", "llama.f32");
        var logits = DeviceCheck.ReadFloats(llama);
        logits[100] += 1;
        DeviceCheck.WriteFloats(llama, logits);
        var problem = Assert.Single(DeviceCheck.VerifyGolden(golden, Fixtures));
        Assert.Contains("model 'llama'", problem);
    }

    /// <summary>The golden outputs of a device run, once committed (bench/device/README.md).</summary>
    [SkippableFact]
    public void CommittedGoldenOutputs_MatchTheLibrary()
    {
        var golden = Path.Combine(TestEnvironment.RepoRoot, "tests", "ReasonSharp.Tests", "Device", "Fixtures");
        Skip.IfNot(File.Exists(Path.Combine(golden, "golden.json")), "no golden outputs committed yet: the GPU check "
            + "(bench/device/README.md) has not run on a device machine");
        var problems = DeviceCheck.VerifyGolden(golden, Fixtures);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [SkippableFact]
    public void DeviceScripts_Parse()
    {
        var python = FindOnPath("python3");
        Skip.If(python is null, "python3 is not on the PATH; check.py cannot be compiled here");
        using var dir = TestEnvironment.NewTempDir();
        var (code, output) = Run(python!, "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], "
            + "cfile=sys.argv[2], doraise=True)", DeviceScript("check.py"), dir.File("check.pyc"));
        Assert.True(code == 0, output);
        if (FindOnPath("bash") is { } bash)
            foreach (var script in new[] { "run.sh", "package.sh" })
            {
                var (rc, text) = Run(bash, "-n", DeviceScript(script));
                Assert.True(rc == 0, $"{script}: {text}");
            }
    }

    static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
        .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    static (int Code, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr);
    }
}
