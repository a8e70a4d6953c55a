using ReasonSharp.Templates;

namespace ReasonSharp.Tests.Templates;

/// <summary>Positions in errors, the parse cache, the injectable clock and generation spans.</summary>
public class TemplateEngineTests
{
    static readonly Dictionary<string, object?> NoVariables = [];

    [Fact]
    public void SyntaxError_NamesTheTemplateLineAndColumn()
    {
        var error = Assert.Throws<TemplateException>(() => Template.Parse("a\n{% if x %}\n  {{ 1 + }}\n{% endif %}",
            "chat.jinja"));

        Assert.Equal(TemplateErrorKind.Syntax, error.Kind);
        Assert.Equal((3, 10), (error.Line, error.Column));
        Assert.Equal("chat.jinja:3:10: template syntax error: unexpected 'end of print statement'", error.Message);
    }

    [Fact]
    public void RaiseException_GivesTheTemplatesMessageAndWhereItWasCalled()
    {
        var template = Template.Parse("{% for m in messages %}\n{% if m.role == 'tool' %}\n    {{ raise_exception('no "
            + "tools here') }}\n"
            + "{% endif %}\n{% endfor %}", "strict");

        var error = Assert.Throws<TemplateException>(() => template.Render(new Dictionary<string, object?>
        {
            ["messages"] = new[] { new Dictionary<string, object?> { ["role"] = "tool" } },
        }));

        Assert.Equal(TemplateErrorKind.Raised, error.Kind);
        Assert.Equal("no tools here", error.Detail);
        Assert.Equal((3, 8), (error.Line, error.Column));
        Assert.Equal("strict:3:8: the template raised an exception: no tools here", error.Message);
    }

    [Fact]
    public void RuntimeError_NamesThePythonErrorAndItsPosition()
    {
        var error = Assert.Throws<TemplateException>(() => Template.Parse("ok\n{{ 'a' + 1 }}").Render(NoVariables));

        Assert.Equal(TemplateErrorKind.Runtime, error.Kind);
        Assert.Equal(2, error.Line);
        Assert.Contains("TypeError: can only concatenate str (not \"int\") to str", error.Message);
    }

    [Fact]
    public void Parse_IsCachedPerSourceAndName()
    {
        var source = "{{ 'cached' ~ " + Guid.NewGuid().ToString("N").Length + " }}";
        Assert.Same(Template.Parse(source, "a"), Template.Parse(source, "a"));
        Assert.NotSame(Template.Parse(source, "a"), Template.Parse(source, "b"));
    }

    [Fact]
    public void StrftimeNow_ReadsTheInjectedClock()
    {
        var options = new TemplateRenderOptions { Now = () => new DateTime(2024, 7, 26, 9, 3, 0) };
        Assert.Equal("26 Jul 2024 09:03 Friday",
            Template.Parse("{{ strftime_now('%d %b %Y %H:%M %A') }}").RenderText(NoVariables, options));
    }

    [Fact]
    public void GenerationBlocks_AreReportedAsSpansOfTheOutput()
    {
        var template = Template.Parse("{% for m in messages %}[{{ m }}:{% generation %}{{ m | upper }}.{% "
            + "endgeneration %}]{% endfor %}");
        var output = template.Render(new Dictionary<string, object?> { ["messages"] = new[] { "ab", "c" } });

        Assert.True(template.HasGenerationBlocks);
        Assert.Equal("[ab:AB.][c:C.]", output.Text);
        Assert.Equal([new TemplateSpan(4, 7), new TemplateSpan(11, 13)], output.GenerationSpans);
        Assert.Equal(["AB.", "C."], output.GenerationSpans.Select(s => output.Text[s.Start..s.End]));
        Assert.False(Template.Parse("{{ 1 }}").HasGenerationBlocks);
    }

    [Fact]
    public void Variables_FromClrValues_BehaveAsPythonValues()
    {
        var output = Template.Parse("{{ n + 1 }}|{{ f }}|{{ items | length }}|{{ d.k }}|{{ d | tojson }}|{{ "
            + "none_value is none }}").RenderText(
            new Dictionary<string, object?>
            {
                ["n"] = 41,
                ["f"] = 2.0f,
                ["items"] = new List<string> { "a", "b" },
                ["d"] = new Dictionary<string, object?> { ["k"] = true },
                ["none_value"] = null,
            });
        Assert.Equal("42|2.0|2|True|{\"k\": true}|True", output);
    }

    [Fact]
    public void VariablesFromJson_RejectsWhatIsNotAnObject()
    {
        Assert.Contains("data.json:1:", Assert.Throws<ReasonSharpException>(() => Template.VariablesFromJson("[1]",
            "data.json")).Message);
        Assert.Contains("data.json:", Assert.Throws<ReasonSharpException>(() => Template.VariablesFromJson("{\"a\": ",
            "data.json")).Message);
        var variables = Template.VariablesFromJson("{\"a\": 1, \"b\": 1.0, \"c\": {\"z\": 1, \"y\": 2}}", "data.json");
        Assert.Equal("1|1.0|zy", Template.Parse("{{ a }}|{{ b }}|{% for k in c %}{{ k }}{% endfor "
            + "%}").RenderText(variables));
    }
}
