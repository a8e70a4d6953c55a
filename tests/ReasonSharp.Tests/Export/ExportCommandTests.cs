using System.CommandLine;
using ReasonSharp.Cli;
using ReasonSharp.Cli.Commands;
using ReasonSharp.Export;
using ReasonSharp.Modeling;

namespace ReasonSharp.Tests.Export;

public class ExportCommandTests
{
    static (int Code, string Out, string Error) Run(params string[] args)
    {
        var root = new RootCommand("reason");
        foreach (var command in CommandList.All()) root.Subcommands.Add(command);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (oldOut, oldError) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return (CliRunner.InvokeAsync(root, args).GetAwaiter().GetResult(), stdout.ToString(), stderr.ToString()); }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
        }
    }

    static string SaveModelFolder(TempDir dir, CausalLM model)
    {
        var tokenizer = dir.File("tokenizer");
        TestTokenizer.Write(tokenizer);
        var folder = dir.File("tiny-qwen");
        ModelFolder.Save(model, folder, new ModelSaveOptions { TokenizerFolder = tokenizer });
        return folder;
    }

    [Fact]
    public void ExportsAModelFolderThatLlamaCppRuns()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = ExportModels.Create(ExportModels.Config("qwen2", tied: false), seed: 8);
        var folder = SaveModelFolder(dir, model);
        var outPath = dir.File("out/tiny.gguf");
        File.WriteAllText(dir.File("stale.gguf"), "old content");

        var (code, stdout, stderr) = Run("export", "gguf", folder, "--out", outPath, "--type", "q8_0");
        Assert.True(code == 0, stderr);
        Assert.Contains("qwen2", stdout);
        Assert.Contains("Q8_0", stdout);
        var reader = GgufReader.Open(outPath);
        Assert.Equal("tiny-qwen", reader.Metadata["general.name"]);
        Assert.Equal(GgmlType.Q8_0, reader.Tensor("output.weight").Type);
        Assert.Equal(["tiny.Modelfile", "tiny.gguf"],
            Directory.GetFiles(Path.GetDirectoryName(outPath)!).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var modelfile = File.ReadAllLines(dir.File("out/tiny.Modelfile"));
        Assert.Contains("FROM ./tiny.gguf", modelfile);
        Assert.Contains(modelfile, l => l.StartsWith("TEMPLATE \"\"\"{{- range .Messages }}<|im_start|>"));
        Assert.Contains("PARAMETER stop \"<|im_end|>\"", modelfile);

        // llama.cpp's quantizer: every row here is shorter than a k-quant super-block, and the output says so.
        var quantized = Run("export", "gguf", folder, "--out", dir.File("q/tiny.gguf"), "--type", "q4_k_m",
            "--no-modelfile");
        Assert.True(quantized.Code == 0, quantized.Error);
        Assert.Contains("is not a multiple of 256", quantized.Out);
        Assert.Equal(15u, (uint)GgufReader.Open(dir.File("q/tiny.gguf")).Metadata["general.file_type"]);
        Assert.Equal(["tiny.gguf"], Directory.GetFiles(dir.File("q")).Select(Path.GetFileName));

        // An existing file is kept unless --overwrite; then it is replaced whole.
        var refused = Run("export", "gguf", folder, "--out", dir.File("stale.gguf"), "--name", "renamed");
        Assert.Equal(2, refused.Code);
        Assert.Contains("--overwrite", refused.Error);
        Assert.Equal("old content", File.ReadAllText(dir.File("stale.gguf")));
        Assert.Equal(0, Run("export", "gguf", folder, "--out", dir.File("stale.gguf"), "--name", "renamed", "--overwrite").Code);
        Assert.Equal("renamed", GgufReader.Open(dir.File("stale.gguf")).Metadata["general.name"]);

        var tokens = ExportModels.RandomTokens(16, 3);
        using var llama = LlamaCppReference.Load(dir.File("stale.gguf"), ExportModels.Threads, contextSize: 32);
        Assert.InRange(ExportModels.WorstRelativeError(ExportModels.Logits(model, tokens), llama.Logits(tokens)), 0, 1e-3);
    }

    [Fact]
    public void BadInputGivesOneErrorLineAndExitCode2()
    {
        using var dir = TestEnvironment.NewTempDir();
        var (code, _, stderr) = Run("export", "gguf", dir.File("missing"), "--out", dir.File("x.gguf"));
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains("model folder not found", stderr);

        using var model = ExportModels.Create(ExportModels.Config("llama", tied: true), seed: 8);
        var folder = dir.File("no-tokenizer");
        ModelFolder.Save(model, folder);
        (code, _, stderr) = Run("export", "gguf", folder, "--out", dir.File("x.gguf"), "--type", "f16");
        Assert.Equal(2, code);
        Assert.Contains("tokenizer.json: not found", stderr);
        Assert.False(File.Exists(dir.File("x.gguf")));

        (code, _, stderr) = Run("export", "gguf", folder, "--out", dir.File("x.gguf"), "--type", "q3_k");
        Assert.NotEqual(0, code);
        Assert.Contains("q3_k", stderr);
    }
}
