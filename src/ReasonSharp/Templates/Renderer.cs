using System.Text;

namespace ReasonSharp.Templates;

/// <summary>Variables of one scope; lookups walk out to the template's variables and the globals.</summary>
internal sealed class Scope(Scope? parent, Dictionary<string, object?>? variables = null)
{
    Dictionary<string, object?>? variables = variables;

    public Scope? Parent => parent;

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
            if (scope.variables is not null && scope.variables.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public object? Lookup(string name) => TryGet(name, out var value) ? value : Undefined.Variable(name);

    public void Set(string name, object? value) => (variables ??= new Dictionary<string, object?>(4,
        StringComparer.Ordinal))[name] = value;
}

/// <summary>The state of one rendering: where output goes, the scope in use, the clock and the generation
/// spans.</summary>
internal sealed class Renderer
{
    const int MaxMacroDepth = 500;

    public Renderer(Template template, Scope scope, Func<DateTime> now)
    {
        Template = template;
        Scope = scope;
        Now = now;
        Output = Root;
    }

    public Template Template { get; }
    public Func<DateTime> Now { get; }
    public Scope Scope { get; set; }
    public StringBuilder Root { get; } = new(4096);
    public StringBuilder Output { get; set; }
    public List<TemplateSpan> GenerationSpans { get; } = [];
    int macroDepth;

    /// <summary>Runs <paramref name="body"/> with its output collected apart, and returns that output.</summary>
    public string Capture(Action body)
    {
        var saved = Output;
        Output = new StringBuilder();
        try
        {
            body();
            return Output.ToString();
        }
        finally { Output = saved; }
    }

    public void EnterMacro()
    {
        if (++macroDepth > MaxMacroDepth) throw new PyError("RecursionError",
            "maximum recursion depth exceeded in a macro");
    }

    public void LeaveMacro() => macroDepth--;
}
