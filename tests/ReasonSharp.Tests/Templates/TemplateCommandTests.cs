using System.Text.Json;
using System.Text.Json.Nodes;

namespace ReasonSharp.Tests.Templates;

/// <summary>`reason template render`: exact output (compared with jinja2's for the same template and variables), the
/// fixed clock, and exit codes with the template's line and column.</summary>
[Collection("Console")]
public class TemplateCommandTests
{
    static string Fixture(params string[] parts) =>
        Path.Combine([TestEnvironment.RepoRoot, "tests", "ReasonSharp.Tests", "Templates", "Fixtures", .. parts]);

    /// <summary>The variables of a fixture conversation with a template's tokens, written to a data file.</summary>
    static string DataFile(TempDir dir, string conversation, string template)
    {
        var variables = JsonNode.Parse(File.ReadAllText(Fixture("conversations.json")))!.AsArray()
            .Single(c => c!["name"]!.GetValue<string>() == conversation)!["variables"]!.AsObject();
        var tokens = JsonNode.Parse(File.ReadAllText(Fixture("templates.json")))!.AsArray()
            .Single(t => t!["name"]!.GetValue<string>() == template)!["tokens"]!.AsObject();
        foreach (var (key, value) in tokens) variables[key] = value?.DeepClone();
        var path = dir.File($"{template}-{conversation}.json");
        File.WriteAllText(path, variables.ToJsonString());
        return path;
    }

    static string Expected(string template, string conversation) =>
        JsonDocument.Parse(File.ReadAllText(Fixture("expected", template
            + ".json"))).RootElement.GetProperty("cases").EnumerateArray()
            .Single(c => c.GetProperty("name").GetString() == conversation).GetProperty("output").GetString()!;

    [Fact]
    public async Task ModelFolder_RendersExactlyWhatJinja2Rendered()
    {
        using var dir = TestEnvironment.NewTempDir();
        var model = Directory.CreateDirectory(dir.File("model")).FullName;
        var config = new JsonObject
        {
            ["chat_template"] = File.ReadAllText(Fixture("templates",
            "Qwen-Qwen3-0.6B.jinja"))
        };
        File.WriteAllText(Path.Combine(model, "tokenizer_config.json"), config.ToJsonString());

        var (code, output) = await CliHarness.Run("template", "render", "--model", model, "--data", DataFile(dir,
            "tool-call-round-trip", "qwen3"));

        Assert.Equal(0, code);
        Assert.Equal(Expected("qwen3", "tool-call-round-trip"), output);
    }

    [Fact]
    public async Task TemplateFile_WithNow_FixesStrftimeNow()
    {
        using var dir = TestEnvironment.NewTempDir();
        var template = Fixture("templates", "ibm-granite-granite-3.3-2B-Instruct.jinja");
        var data = DataFile(dir, "user", "granite-3.3");

        var (code, output) = await CliHarness.Run("template", "render", "--template", template, "--data", data,
            "--now", "2025-03-07T14:05:09");

        Assert.Equal(0, code);
        Assert.Equal(Expected("granite-3.3", "user"), output);
        Assert.Contains("Today's Date: March 07, 2025.", output);
        Assert.False(output.EndsWith('\n'));
    }

    [Fact]
    public async Task SyntaxErrorsAndRaisedExceptions_ExitOneWithTheLineAndColumn()
    {
        using var dir = TestEnvironment.NewTempDir();
        var data = dir.File("data.json");
        File.WriteAllText(data, """{"messages": [{"role": "robot", "content": "beep"}]}""");
        var broken = dir.File("broken.jinja");
        File.WriteAllText(broken, "ok\n{% for m in messages %}{{ m.content }\n{% endfor %}");
        var strict = dir.File("strict.jinja");
        File.WriteAllText(strict,
            "{% for m in messages %}\n  {% if m.role not in ['user', 'assistant'] %}{{ raise_exception('Unknown role: "
            + "' + m.role) }}{% endif %}\n{% endfor %}");

        var (code, output) = await CliHarness.Run("template", "render", "--template", broken, "--data", data);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {broken}:2:", output);
        Assert.Contains("template syntax error", output);

        (code, output) = await CliHarness.Run("template", "render", "--template", strict, "--data", data);
        Assert.Equal(1, code);
        Assert.Equal($"error: {strict}:2:50: the template raised an exception: Unknown role: robot\n", output);
    }

    [Fact]
    public async Task BadInput_ExitsTwo()
    {
        using var dir = TestEnvironment.NewTempDir();
        var template = dir.File("t.jinja");
        File.WriteAllText(template, "{{ x }}");
        var data = dir.File("data.json");
        File.WriteAllText(data, """{"x": 1}""");

        var (code, output) = await CliHarness.Run("template", "render", "--template", template, "--data", data,
            "--now", "yesterday");
        Assert.Equal(2, code);
        Assert.Contains("--now", output);
        (code, output) = await CliHarness.Run("template", "render", "--template", template, "--model", dir.Path,
            "--data", data);
        Assert.Equal(2, code);
        Assert.Contains("exactly one", output);
        File.WriteAllText(data, "[1]");
        (code, output) = await CliHarness.Run("template", "render", "--template", template, "--data", data);
        Assert.Equal(2, code);
        Assert.Contains($"{data}:1:", output);
        (code, output) = await CliHarness.Run("template", "render", "--template", dir.File("missing.jinja"), "--data",
            data);
        Assert.Equal(2, code);
        Assert.Contains("missing.jinja", output);
    }
}
