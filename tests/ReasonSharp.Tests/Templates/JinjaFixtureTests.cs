using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ReasonSharp.Templates;

namespace ReasonSharp.Tests.Templates;

/// <summary> The engine against real jinja2 (3.1.2, configured as transformers' apply_chat_template):
/// Fixtures/generate.py rendered every snippet and every real chat template over every conversation; the engine must
/// give the same text byte for byte, the same generation spans, and an error of the same kind where jinja2 raised.
/// </summary>
public class JinjaFixtureTests
{
    static readonly DateTime FixedNow = new(2025, 3, 7, 14, 5, 9);
    static readonly TemplateRenderOptions Options = new() { Now = () => FixedNow };

    static string FixturePath(params string[] parts) =>
        Path.Combine([TestEnvironment.RepoRoot, "tests", "ReasonSharp.Tests", "Templates", "Fixtures", .. parts]);

    static JsonElement ReadJson(params string[] parts) =>
        JsonDocument.Parse(File.ReadAllText(FixturePath(parts))).RootElement;

    public static TheoryData<string> SnippetNames()
    {
        var data = new TheoryData<string>();
        foreach (var snippet in ReadJson("snippets.json").EnumerateArray())
            data.Add(snippet.GetProperty("name").GetString()!);
        return data;
    }

    public static TheoryData<string> TemplateNames()
    {
        var data = new TheoryData<string>();
        foreach (var template in ReadJson("templates.json").EnumerateArray())
            data.Add(template.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(SnippetNames))]
    public void Snippet_RendersAsJinja2Does(string name)
    {
        var snippet = ReadJson("snippets.json").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);
        AssertRendersAsExpected(name, snippet.GetProperty("template").GetString()!,
            snippet.GetProperty("variables").GetRawText(), snippet);
    }

    [SkippableTheory]
    [MemberData(nameof(TemplateNames))]
    public void ChatTemplate_RendersEveryConversationAsJinja2Does(string name)
    {
        var entry = ReadJson("templates.json").EnumerateArray().Single(t => t.GetProperty("name").GetString() == name);
        string source;
        if (entry.TryGetProperty("file", out var file)) source = File.ReadAllText(FixturePath("templates",
            file.GetString()!));
        else
        {
            var shared = entry.GetProperty("shared").GetString();
            var config = TestEnvironment.SharedFile($"tokenizers/{shared}/tokenizer_config.json");
            source = JsonDocument.Parse(File.ReadAllText(config)).RootElement.GetProperty("chat_template").GetString()!;
        }
        var expected = ReadJson("expected", name + ".json");
        Assert.Equal(expected.GetProperty("sha256").GetString(),
            Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(source))));

        var conversations = ReadJson("conversations.json").EnumerateArray().ToList();
        var cases = expected.GetProperty("cases").EnumerateArray().ToList();
        Assert.Equal(conversations.Count, cases.Count);
        for (var i = 0; i < cases.Count; i++)
        {
            var variables = new Dictionary<string, JsonElement>();
            foreach (var p in conversations[i].GetProperty("variables").EnumerateObject()) variables[p.Name] = p.Value;
            foreach (var p in entry.GetProperty("tokens").EnumerateObject()) variables[p.Name] = p.Value;
            AssertRendersAsExpected($"{name}/{cases[i].GetProperty("name").GetString()}", source,
                JsonSerializer.Serialize(variables), cases[i]);
        }
    }

    static void AssertRendersAsExpected(string label, string source, string variablesJson, JsonElement expected)
    {
        var variables = Template.VariablesFromJson(variablesJson, label);
        if (expected.TryGetProperty("output", out var output))
        {
            TemplateOutput rendered;
            try { rendered = Template.Parse(source, label).Render(variables, Options); }
            catch (TemplateException e)
            {
                throw new Xunit.Sdk.XunitException($"{label}: jinja2 rendered it, the "
                + $"engine raised {e.Message}");
            }
            Assert.True(output.GetString() == rendered.Text,
                $"{label}: expected\n{JsonSerializer.Serialize(output.GetString())}\n"
                + $"got\n{JsonSerializer.Serialize(rendered.Text)}");
            var text = output.GetString()!;
            var spans = expected.TryGetProperty("spans", out var s)
                ? s.EnumerateArray().Select(x => new TemplateSpan(Utf16Offset(text, x[0].GetInt32()), Utf16Offset(text,
                    x[1].GetInt32()))).ToList()
                : [];
            Assert.Equal(spans, rendered.GenerationSpans);
            return;
        }
        var error = expected.GetProperty("error");
        var exception = Assert.Throws<TemplateException>(() => Template.Parse(source, label).Render(variables,
            Options));
        Assert.Equal(PythonErrorType(error.GetProperty("type").GetString()!), ErrorType(exception));
        if (exception.Kind == TemplateErrorKind.Raised) Assert.Equal(error.GetProperty("message").GetString(),
            exception.Detail);
        Assert.StartsWith($"{label}:", exception.Message);
        Assert.True(exception.Line >= 1 && exception.Column >= 1);
    }

    /// <summary>jinja2's spans count code points; .NET strings count UTF-16 units.</summary>
    static int Utf16Offset(string text, int codePoints)
    {
        var offset = 0;
        for (var i = 0; i < codePoints; i++) offset += char.IsHighSurrogate(text[offset]) ? 2 : 1;
        return offset;
    }

    static string PythonErrorType(string type) => type is "TemplateAssertionError" or "SyntaxError"
        ? "TemplateSyntaxError" : type;

    static string ErrorType(TemplateException e) => e.Kind switch
    {
        TemplateErrorKind.Syntax => "TemplateSyntaxError",
        TemplateErrorKind.Raised => "TemplateError",
        _ => e.Detail[..e.Detail.IndexOf(':')],
    };
}
