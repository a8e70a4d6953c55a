using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Xml.Linq;
using ReasonSharp.Modeling;

namespace ReasonSharp.Tests.Packaging;

/// <summary>
/// `dotnet pack` as a .NET user runs it: the library as a NuGet package (README, MIT license, XML docs, snupkg) and
/// the CLI as a .NET tool, installed with `dotnet tool install --tool-path` from the packed folder and run from there
/// (the native libtorch patch and llama.cpp must work from the tool's install folder).
/// </summary>
public class ToolPackageTests
{
    static readonly string Configuration =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}")
            ? "Release" : "Debug";

    /// <summary>Directory.Build.props' Version, which the library assembly carries.</summary>
    static readonly string Version = typeof(ModelConfig).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;

    [Fact]
    public void PackedToolInstallsAndRuns()
    {
        using var dir = TestEnvironment.NewTempDir();
        var packages = dir.File("packages");
        var env = new Dictionary<string, string?>
        {
            // A private NuGet cache: the installed tool is this build's, and nothing is left in ~/.nuget.
            ["NUGET_PACKAGES"] = dir.File("nuget-cache"),
            ["REASONSHARP_NATIVE_CACHE"] = dir.File("native"),
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
        };
        foreach (var project in new[] { "ReasonSharp", "ReasonSharp.Cli" })
            Run("dotnet", env, TestEnvironment.RepoRoot, "pack", Path.Combine("src", project, project + ".csproj"),
                "-c", Configuration, "--no-build", "-o", packages, "--nologo", "-nodeReuse:false");

        CheckLibraryPackage(packages);
        using (var tool = ZipFile.OpenRead(Path.Combine(packages, $"ReasonSharp.Cli.{Version}.nupkg")))
        {
            var files = tool.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains("tools/net10.0/any/DotnetToolSettings.xml", files);
            Assert.Contains("tools/net10.0/any/reason.dll", files);
            Assert.Contains(files, f => f.EndsWith("/libLibTorchSharp.so"));
            Assert.Contains(files, f => f.EndsWith("/libllama.so"));
        }

        File.WriteAllText(dir.File("nuget.config"), $"""
            <configuration>
              <packageSources>
                <clear />
                <add key="packed" value="{packages}" />
              </packageSources>
            </configuration>
            """);
        var tools = dir.File("tools");
        Run("dotnet", env, dir.Path, "tool", "install", "--tool-path", tools, "--configfile", dir.File("nuget.config"),
            "ReasonSharp.Cli", "--version", Version);
        var reason = Path.Combine(tools, "reason");

        Assert.Equal(Version, Run(reason, env, dir.Path, "--version").Trim());

        var model = dir.File("model");
        long parameters;
        string architecture;
        using (var lm = TinyLanguageModels.Create(dir))
        {
            lm.Save(model);
            parameters = lm.Model.Config.ParameterCount();
            architecture = lm.Model.Config.Architecture;
        }
        var info = Run(reason, env, dir.Path, "info", model);
        Assert.Contains($"parameters:     {parameters:N0}", info);
        Assert.Contains($"architecture:   {architecture} (model_type qwen2)", info);
        // The tool's libLibTorchSharp.so is found in its install folder: loaded as is, or patched into our cache.
        Assert.Matches(
            $@"torch native:   (not needed \(the original library loads\)|patched: {dir.File("native")}/)", info);

        // llama.cpp's native library (LLamaSharp.Backend.Cpu) travels in the tool package too.
        var gguf = dir.File("q.gguf");
        Run(reason, env, dir.Path, "export", "gguf", model, "--out", gguf, "--type", "q4_k_m");
        Assert.True(new FileInfo(gguf).Length > 0);
    }

    static void CheckLibraryPackage(string packages)
    {
        using var zip = ZipFile.OpenRead(Path.Combine(packages, $"ReasonSharp.{Version}.nupkg"));
        var files = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/ReasonSharp.dll", files);
        Assert.Contains("lib/net10.0/ReasonSharp.xml", files);
        Assert.Contains("README.md", files);
        using (var readme = new StreamReader(zip.GetEntry("README.md")!.Open()))
            Assert.StartsWith("# ReasonSharp", readme.ReadToEnd());
        XDocument nuspec;
        using (var stream = zip.Entries.Single(e => e.FullName == "ReasonSharp.nuspec").Open())
            nuspec = XDocument.Load(stream);
        var metadata = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string Field(string name) => metadata.Elements().Single(e => e.Name.LocalName == name).Value;
        Assert.Equal(Version, Field("version"));
        Assert.Equal("MIT", Field("license"));
        Assert.Equal("README.md", Field("readme"));
        Assert.Equal("ReasonSharp contributors", Field("authors"));

        using var symbols = ZipFile.OpenRead(Path.Combine(packages, $"ReasonSharp.{Version}.snupkg"));
        Assert.Contains(symbols.Entries, e => e.FullName == "lib/net10.0/ReasonSharp.pdb");
    }

    static string Run(string file, IReadOnlyDictionary<string, string?> env, string workingDirectory,
        params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var (key, value) in env) info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(4))) process.Kill(entireProcessTree: true);
        Assert.True(process.ExitCode == 0,
            $"{file} {string.Join(' ', args)} exited {process.ExitCode}:\n{stdout}{stderr.Result}");
        return stdout;
    }
}
