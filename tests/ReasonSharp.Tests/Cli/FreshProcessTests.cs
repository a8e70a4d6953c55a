using System.Diagnostics;
using ReasonSharp.Training.Lora;

namespace ReasonSharp.Tests.Cli;

/// <summary>
/// Each command as the first command of a new `reason` process: native set-up (the libstdc++ patch and the thread
/// policy) must run before the command's first TorchSharp call, whichever command it is. Both layouts a user gets are
/// run: the `dotnet run` one (the build's bin folder) and a flat `dotnet build -o DIR` folder.
/// </summary>
public class FreshProcessTests(FreshProcessTests.FlatBuild flat) : IClassFixture<FreshProcessTests.FlatBuild>
{
    /// <summary>The CLI built once with `dotnet build -o DIR` (the configuration this test assembly was built with).</summary>
    public sealed class FlatBuild : IDisposable
    {
        readonly TempDir _dir = TestEnvironment.NewTempDir();
        readonly Lazy<string> _folder;

        public FlatBuild() => _folder = new(Build);

        public string Folder => _folder.Value;

        string Build()
        {
            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}")
                ? "Release" : "Debug";
            var output = _dir.File("reason");
            var info = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = TestEnvironment.RepoRoot,
            };
            foreach (var arg in new[]
                     {
                         "build", Path.Combine("src", "ReasonSharp.Cli", "ReasonSharp.Cli.csproj"), "-c", configuration,
                         "-o", output, "--nologo", "-v", "q", "-nodeReuse:false", "-p:UseSharedCompilation=false",
                     })
                info.ArgumentList.Add(arg);
            using var process = Process.Start(info)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"dotnet build -o {output} failed:\n{stdout}{stderr.Result}");
            return output;
        }

        public void Dispose() => _dir.Dispose();
    }

    string Folder(string layout) => layout == "flat" ? flat.Folder : AppContext.BaseDirectory;

    (int Code, string Output) Reason(params string[] args) => ReasonFrom("run", args);

    (int Code, string Output) ReasonFrom(string layout, params string[] args) =>
        ReasonWith(layout, new Dictionary<string, string>(), args);

    (int Code, string Output) ReasonWith(string layout, Dictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(Folder(layout), "reason.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment.Remove(ReasonSharp.Native.ThreadPolicy.ThreadsVariable);
        info.Environment.Remove(ReasonSharp.Native.MemoryPolicy.Variable);
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("MALLOC_") || k == "GLIBC_TUNABLES").ToList())
            info.Environment.Remove(name);
        foreach (var (name, value) in environment) info.Environment[name] = value;
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3))) process.Kill(entireProcessTree: true);
        return (process.ExitCode, stdout + stderr.Result);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("flat")]
    public void EveryModelCommandWorksAsAProcesssFirstCommand(string layout)
    {
        using var dir = TestEnvironment.NewTempDir();
        var model = dir.File("model");
        var adapter = dir.File("adapter");
        using (var lm = TinyLanguageModels.Create(dir))
        {
            lm.Save(model);
            var adapters = LoraAdapters.Apply(lm.Model, new LoraConfig { R = 2, LoraAlpha = 4, TargetModules = ["q_proj"] }, seed: 1);
            adapters.Save(adapter, model);
        }
        File.WriteAllText(dir.File("p.jsonl"), "{\"prompt\": \"Compute 12+3.\", \"answer\": \"15\"}\n");
        File.WriteAllText(dir.File("pairs.jsonl"), "{\"prompt\": \"Compute 12+3.\", \"chosen\": \"15\", \"rejected\": \"16\"}\n");

        (string Name, string[] Args, string Expected)[] commands =
        [
            ("export gguf", ["export", "gguf", model, "--out", dir.File("m.gguf"), "--type", "f32"], "m.gguf"),
            // llama.cpp's quantizer: LLamaSharp's native library must load in both layouts too.
            ("export gguf q4_k_m", ["export", "gguf", model, "--out", dir.File("q.gguf"), "--type", "q4_k_m",
                "--overwrite"], "q.gguf"),
            ("merge", ["merge", "--base", model, "--adapter", adapter, "--out", dir.File("merged")], "merged"),
            ("info", ["info", model], "parameters"),
            ("init-model", ["init-model", "--size", "nano", "--tokenizer", model, "--out", dir.File("fresh")], "fresh"),
            ("generate", ["generate", model, "--prompt", "Compute 1+2.", "--max-new-tokens", "4"], ""),
            ("eval", ["eval", model, "--dataset", dir.File("p.jsonl"), "--greedy", "--max-new-tokens", "4"], "pass@1"),
            // A job with no hand-written command (JobCommand).
            ("dpo", ["dpo", "--set", $"model_name_or_path={model}", "--set", $"dataset_name={dir.File("pairs.jsonl")}",
                "--set", $"output_dir={dir.File($"dpo-{layout}")}", "--set", "max_steps=1", "--set", "device=cpu",
                "--set", "write_report=false"], "steps 1"),
            ("reward-model", ["reward-model", "--set", $"model_name_or_path={model}", "--set",
                $"dataset_name={dir.File("pairs.jsonl")}", "--set", $"output_dir={dir.File($"rm-{layout}")}", "--set",
                "max_steps=1", "--set", "device=cpu", "--set", "write_report=false"], "steps 1"),
        ];
        foreach (var (name, args, expected) in commands)
        {
            var (code, output) = ReasonFrom(layout, args);
            Assert.True(code == 0, $"reason {name} as a first command ({layout} layout) exited {code}:\n{output}");
            Assert.DoesNotContain("DllNotFoundException", output);
            Assert.Contains(expected, output);
        }
        Assert.True(File.Exists(dir.File("m.gguf")) && File.Exists(Path.Combine(dir.File("merged"), "model.safetensors")));
    }

    [Fact]
    public void ThreadsOptionAndVariableAreCheckedBeforeAnyWork()
    {
        var (code, output) = Reason("info", "--threads", "0", "nowhere");
        Assert.Equal(2, code);
        Assert.Contains("--threads: expected an integer ≥ 1, got 0", output);
    }

    [SkippableFact]
    public void MallocKeepsFreedMemoryUnlessTheUserSaysOtherwise()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the memory policy applies to glibc on Linux");
        using var dir = TestEnvironment.NewTempDir();
        var model = dir.File("model");
        using (var lm = TinyLanguageModels.Create(dir)) lm.Save(model);
        string Malloc(Dictionary<string, string> environment)
        {
            var (code, output) = ReasonWith("run", environment, "info", model);
            Assert.True(code == 0, output);
            return output.Split('\n').Single(l => l.StartsWith("malloc:"))["malloc:".Length..].Trim();
        }
        Assert.StartsWith("keep freed memory", Malloc([]));
        Assert.Equal("system malloc (REASONSHARP_MALLOC=system)", Malloc(new() { ["REASONSHARP_MALLOC"] = "system" }));
        Assert.Equal("system malloc, as set by MALLOC_TOP_PAD_", Malloc(new() { ["MALLOC_TOP_PAD_"] = "0" }));
        var (failed, message) = ReasonWith("run", new() { ["REASONSHARP_MALLOC"] = "fast" }, "info", model);
        Assert.NotEqual(0, failed);
        Assert.Contains("REASONSHARP_MALLOC=fast: expected keep or system", message);
    }
}
