using System.Collections.Concurrent;
using System.Text.Json;

namespace ReasonSharp.Templates;

/// <summary>A span [Start, End) of rendered text, in .NET string offsets (UTF-16 units; jinja2 counts code
/// points).</summary>
public readonly record struct TemplateSpan(int Start, int End);

/// <summary>A rendering: the text and the spans of its {% generation %} blocks (assistant text).</summary>
public sealed record TemplateOutput(string Text, IReadOnlyList<TemplateSpan> GenerationSpans);

/// <summary>Options of one rendering.</summary>
public sealed record TemplateRenderOptions
{
    /// <summary>The clock strftime_now reads; null is the local time now.</summary>
    public Func<DateTime>? Now { get; init; }
}

/// <summary> A Jinja2 template as Hugging Face chat templates use it: the environment of transformers'
/// apply_chat_template (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, its tojson,
/// raise_exception, strftime_now and the {% generation %} tag). Values behave as Python's; parsed templates are cached.
/// </summary>
public sealed class Template
{
    const int CacheLimit = 256;
    static readonly ConcurrentDictionary<(string Name, string Source), Template> Cache = new();
    static readonly Scope GlobalScope = Globals.CreateScope();

    readonly Stmt[] body;

    Template(string source, string name, Stmt[] body)
    {
        Source = source;
        Name = name;
        this.body = body;
        HasGenerationBlocks = body.Any(s => s.HasGeneration);
    }

    /// <summary>The template's text.</summary>
    public string Source { get; }
    /// <summary>The name errors give (a file name, or "chat_template of …").</summary>
    public string Name { get; }
    /// <summary>Whether the template marks assistant text with {% generation %} blocks.</summary>
    public bool HasGenerationBlocks { get; }

    /// <summary>Parses a template (or takes it from the cache); a syntax error is a <see cref="TemplateException"/>
    /// with its line and column.</summary>
    public static Template Parse(string source, string name = "template")
    {
        if (Cache.TryGetValue((name, source), out var cached)) return cached;
        var template = new Template(source, name, Parser.Parse(source, name));
        if (Cache.Count >= CacheLimit) Cache.Clear();
        Cache[(name, source)] = template;
        return template;
    }

    /// <summary>Renders with the given variables (.NET values: strings, numbers, booleans, null, dictionaries,
    /// sequences, JsonElement); errors are <see cref="TemplateException"/>s with the template's line and
    /// column.</summary>
    public TemplateOutput Render(IReadOnlyDictionary<string, object?> variables, TemplateRenderOptions? options = null)
    {
        var values = new Dictionary<string, object?>(variables.Count, StringComparer.Ordinal);
        foreach (var (key, value) in variables) values[key] = TemplateJson.FromClr(value);
        var renderer = new Renderer(this, new Scope(new Scope(GlobalScope, values)), options?.Now
            ?? (() => DateTime.Now));
        try
        {
            Stmt.Run(body, renderer);
        }
        catch (PyError e)
        {
            var kind = e.Type == "TemplateError" ? TemplateErrorKind.Raised : TemplateErrorKind.Runtime;
            throw new TemplateException(kind, Name, Math.Max(1, e.Line), Math.Max(1, e.Column),
                kind == TemplateErrorKind.Raised ? e.Message : $"{e.Type}: {e.Message}");
        }
        return new TemplateOutput(renderer.Root.ToString(), renderer.GenerationSpans);
    }

    /// <summary>The rendered text only.</summary>
    public string RenderText(IReadOnlyDictionary<string, object?> variables, TemplateRenderOptions? options = null) =>
        Render(variables, options).Text;

    /// <summary>Variables from a JSON object (objects become dicts with their key order, integers stay
    /// integers).</summary>
    public static IReadOnlyDictionary<string, object?> VariablesFromJson(string json, string source)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e)
        {
            throw new ReasonSharpException($"{source}:{(e.LineNumber ?? 0) + 1}: not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new ReasonSharpException($"{source}:1: expected a JSON object of template variables (messages, "
                    + $"add_generation_prompt, …)");
            var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
                variables[property.Name] = TemplateJson.FromJson(property.Value);
            return variables;
        }
    }
}
