namespace ReasonSharp.Templates;

internal enum Flow { Normal, Break, Continue }

/// <summary>A statement node: output, control flow or assignment.</summary>
internal abstract class Stmt(int line, int column)
{
    public int Line { get; } = line;
    public int Column { get; } = column;

    public abstract Flow Exec(Renderer r);

    /// <summary>Names the statement and its body read.</summary>
    public virtual IEnumerable<string> Names() => [];

    /// <summary>Whether this statement or one inside it is a {% generation %} block.</summary>
    public virtual bool HasGeneration => false;

    /// <summary>Runs statements in order; an error gets the position of the statement it came from.</summary>
    public static Flow Run(Stmt[] body, Renderer r)
    {
        var i = 0;
        try
        {
            for (; i < body.Length; i++)
            {
                var flow = body[i].Exec(r);
                if (flow != Flow.Normal) return flow;
            }
            return Flow.Normal;
        }
        catch (PyError e) when (!e.Positioned)
        {
            e.Line = body[i].Line;
            e.Column = body[i].Column;
            throw;
        }
    }

    public static IEnumerable<string> NamesIn(IEnumerable<Stmt> body) => body.SelectMany(s => s.Names());
}

/// <summary>Template text and `{{ … }}` expressions, written in order.</summary>
internal sealed class OutputStmt(object[] parts, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(Renderer r)
    {
        var output = r.Output;
        foreach (var part in parts)
        {
            if (part is string text) { output.Append(text); continue; }
            var value = ((Expr)part).Eval(r);
            if (value is string s) output.Append(s);
            else output.Append(Py.Str(value));
        }
        return Flow.Normal;
    }

    public override IEnumerable<string> Names() => parts.OfType<Expr>().SelectMany(e => e.Names());
}

internal sealed class IfStmt((Expr Test, Stmt[] Body)[] branches, Stmt[] otherwise, int line, int column) : Stmt(line,
    column)
{
    public override Flow Exec(Renderer r)
    {
        foreach (var (test, body) in branches)
            if (Py.Truthy(test.Eval(r))) return Run(body, r);
        return Run(otherwise, r);
    }

    public override IEnumerable<string> Names() =>
        branches.SelectMany(b => b.Test.Names().Concat(NamesIn(b.Body))).Concat(NamesIn(otherwise));

    public override bool HasGeneration => branches.Any(b => b.Body.Any(s => s.HasGeneration))
        || otherwise.Any(s => s.HasGeneration);
}

/// <summary>Where `for` and `set` put values: a name, a tuple of targets, or `ns.attribute`.</summary>
internal abstract class Target
{
    public abstract void Assign(Scope scope, object? value);
}

internal sealed class NameTarget(string name) : Target
{
    public string Name { get; } = name;
    public override void Assign(Scope scope, object? value) => scope.Set(Name, value);
}

internal sealed class TupleTarget(Target[] items) : Target
{
    public override void Assign(Scope scope, object? value)
    {
        var values = Py.ToList(value);
        if (values.Count < items.Length)
            throw PyError.ValueError($"not enough values to unpack (expected {items.Length}, got {values.Count})");
        if (values.Count > items.Length)
            throw PyError.ValueError($"too many values to unpack (expected {items.Length})");
        for (var i = 0; i < items.Length; i++) items[i].Assign(scope, values[i]);
    }
}

internal sealed class NamespaceTarget(string name, string attribute) : Target
{
    public override void Assign(Scope scope, object? value)
    {
        if (scope.Lookup(name) is not Namespace ns)
            throw PyError.Runtime("cannot assign attribute on non-namespace object");
        ns.Attributes[attribute] = value;
    }
}

internal sealed class ForStmt(Target target, Expr iterable, Stmt[] body, Stmt[] otherwise, Expr? filter,
    bool recursive, int line, int column)
    : Stmt(line, column)
{
    public override Flow Exec(Renderer r)
    {
        Loop(r, iterable.Eval(r), 0);
        return Flow.Normal;
    }

    void Loop(Renderer r, object? source, int depth)
    {
        var outer = r.Scope;
        var items = Filtered(r, Py.ToList(source));
        if (items.Count == 0)
        {
            r.Scope = new Scope(outer);
            try { Run(otherwise, r); }
            finally { r.Scope = outer; }
            return;
        }
        var loop = new LoopContext(items, depth);
        var call = recursive ? new BuiltinFunction("loop", (renderer, args) => renderer.Capture(() => Loop(renderer,
            args.Get(0, "iterable", null), depth + 1))) : null;
        try
        {
            for (var i = 0; i < items.Count; i++)
            {
                var scope = new Scope(outer);
                target.Assign(scope, items[i]);
                loop.Index0 = i;
                scope.Set("loop", call is null ? loop : new RecursiveLoop(loop, call));
                r.Scope = scope;
                if (Run(body, r) == Flow.Break) break;
            }
        }
        finally { r.Scope = outer; }
    }

    IReadOnlyList<object?> Filtered(Renderer r, IReadOnlyList<object?> items)
    {
        if (filter is null) return items;
        var outer = r.Scope;
        var kept = new List<object?>();
        try
        {
            foreach (var item in items)
            {
                var scope = new Scope(outer);
                target.Assign(scope, item);
                r.Scope = scope;
                if (Py.Truthy(filter.Eval(r))) kept.Add(item);
            }
        }
        finally { r.Scope = outer; }
        return kept;
    }

    public override IEnumerable<string> Names() =>
        iterable.Names().Concat(NamesIn(body)).Concat(NamesIn(otherwise)).Concat(filter?.Names() ?? []);

    public override bool HasGeneration => body.Any(s => s.HasGeneration) || otherwise.Any(s => s.HasGeneration);
}

/// <summary>`loop` of a recursive for: the loop's attributes, and callable to loop over children.</summary>
internal sealed class RecursiveLoop(LoopContext loop, BuiltinFunction call) : PyCallable
{
    public LoopContext Loop { get; } = loop;
    public override string Name => "loop";
    public override object? Call(Renderer renderer, Args args) => call.Call(renderer, args);
}

internal sealed class SetStmt(Target target, Expr value, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(Renderer r)
    {
        target.Assign(r.Scope, value.Eval(r));
        return Flow.Normal;
    }

    public override IEnumerable<string> Names() => value.Names();
}

/// <summary>`{% set x %}…{% endset %}`, optionally through a filter.</summary>
internal sealed class SetBlockStmt(Target target, FilterExpr? filter, Stmt[] body, int line, int column) : Stmt(line,
    column)
{
    public override Flow Exec(Renderer r)
    {
        var outer = r.Scope;
        string text;
        r.Scope = new Scope(outer);
        try { text = r.Capture(() => Run(body, r)); }
        finally { r.Scope = outer; }
        target.Assign(outer, filter is null ? text : filter.Apply(r, text));
        return Flow.Normal;
    }

    public override IEnumerable<string> Names() => NamesIn(body);
}

internal sealed class MacroStmt(string name, string[] parameters, Expr?[] defaults, Stmt[] body, int line, int column)
    : Stmt(line, column)
{
    readonly bool usesCaller = NamesIn(body).Contains("caller");
    readonly bool catchesKwargs = NamesIn(body).Contains("kwargs");
    readonly bool catchesVarargs = NamesIn(body).Contains("varargs");

    public override Flow Exec(Renderer r)
    {
        r.Scope.Set(name, new Macro(name, parameters, defaults, body, r.Scope, usesCaller, catchesKwargs,
            catchesVarargs));
        return Flow.Normal;
    }
}

/// <summary>`{% call(args) m(…) %}body{% endcall %}`: m is called with `caller`, a macro that renders the
/// body.</summary>
internal sealed class CallBlockStmt(CallExpr call, string[] parameters, Expr?[] defaults, Stmt[] body, int line,
    int column)
    : Stmt(line, column)
{
    readonly bool catchesKwargs = NamesIn(body).Contains("kwargs");
    readonly bool catchesVarargs = NamesIn(body).Contains("varargs");

    public override Flow Exec(Renderer r)
    {
        var caller = new Macro("caller", parameters, defaults, body, r.Scope, false, catchesKwargs, catchesVarargs);
        var args = call.Arguments.Eval(r);
        var named = args.Named.Append(new KeyValuePair<string, object?>("caller", caller)).ToArray();
        var result = call.Invoke(r, new Args(args.Positional, named));
        r.Output.Append(Py.Str(result));
        return Flow.Normal;
    }

    public override IEnumerable<string> Names() => call.Names();
}

internal sealed class FilterBlockStmt(FilterExpr filter, Stmt[] body, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(Renderer r)
    {
        var outer = r.Scope;
        string text;
        r.Scope = new Scope(outer);
        try { text = r.Capture(() => Run(body, r)); }
        finally { r.Scope = outer; }
        r.Output.Append(Py.Str(filter.Apply(r, text)));
        return Flow.Normal;
    }

    public override IEnumerable<string> Names() => filter.Names().Concat(NamesIn(body));
}

internal sealed class WithStmt((Target Target, Expr Value)[] assignments, Stmt[] body, int line, int column)
    : Stmt(line, column)
{
    public override Flow Exec(Renderer r)
    {
        var outer = r.Scope;
        var scope = new Scope(outer);
        foreach (var (target, value) in assignments) target.Assign(scope, value.Eval(r));
        r.Scope = scope;
        try { return Run(body, r); }
        finally { r.Scope = outer; }
    }

    public override IEnumerable<string> Names() => assignments.SelectMany(a => a.Value.Names()).Concat(NamesIn(body));
    public override bool HasGeneration => body.Any(s => s.HasGeneration);
}

internal sealed class LoopControlStmt(Flow flow, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(Renderer r) => flow;
}

/// <summary>`{% generation %}…{% endgeneration %}` (transformers' AssistantTracker): the body is output as usual, and
/// its span is recorded as the top-level output's length before it plus the body's length.</summary>
internal sealed class GenerationStmt(Stmt[] body, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(Renderer r)
    {
        var flow = Flow.Normal;
        var outer = r.Scope;
        string text;
        r.Scope = new Scope(outer);
        try { text = r.Capture(() => flow = Run(body, r)); }
        finally { r.Scope = outer; }
        var start = r.Root.Length;
        r.GenerationSpans.Add(new TemplateSpan(start, start + text.Length));
        r.Output.Append(text);
        return flow;
    }

    public override IEnumerable<string> Names() => NamesIn(body);
    public override bool HasGeneration => true;
}
