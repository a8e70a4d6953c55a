namespace ReasonSharp.Templates;

/// <summary>A `{% macro %}` (or a call block's `caller`): parameters bound by position or name, missing ones from
/// their defaults, extra ones to `varargs` / `kwargs` when the body uses them; the body's output is the
/// result.</summary>
internal sealed class Macro(string name, string[] parameters, Expr?[] defaults, Stmt[] body, Scope closure,
    bool usesCaller, bool catchesKwargs, bool catchesVarargs) : PyCallable
{
    public override string Name => name;

    public object? Attribute(string attribute) => attribute switch
    {
        "name" => name,
        "arguments" => new PyTuple(parameters.Cast<object?>().ToArray()),
        "catch_kwargs" => catchesKwargs,
        "catch_varargs" => catchesVarargs,
        "caller" => usesCaller,
        _ => Undefined.Member(this, attribute),
    };

    public override object? Call(Renderer r, Args args)
    {
        var scope = new Scope(closure);
        var named = args.Named.ToList();
        var bound = new bool[parameters.Length];
        for (var i = 0; i < parameters.Length && i < args.Positional.Length; i++)
        {
            scope.Set(parameters[i], args.Positional[i]);
            bound[i] = true;
        }
        for (var i = args.Positional.Length; i < parameters.Length; i++)
        {
            var at = named.FindIndex(p => p.Key == parameters[i]);
            if (at < 0) continue;
            scope.Set(parameters[i], named[at].Value);
            named.RemoveAt(at);
            bound[i] = true;
        }
        if (usesCaller && !parameters.Contains("caller"))
        {
            var at = named.FindIndex(p => p.Key == "caller");
            scope.Set("caller", at < 0 ? Undefined.WithHint("No caller defined", "caller") : named[at].Value);
            if (at >= 0) named.RemoveAt(at);
        }
        if (catchesKwargs)
        {
            var kwargs = new PyDict();
            foreach (var (k, v) in named) kwargs[k] = v;
            scope.Set("kwargs", kwargs);
        }
        else if (named.Count > 0)
        {
            if (named[0].Key == "caller")
                throw PyError.TypeError($"macro '{name}' was invoked with two values for the special caller argument. "
                    + $"This is most likely a bug.");
            throw PyError.TypeError($"macro '{name}' takes no keyword argument '{named[0].Key}'");
        }
        if (catchesVarargs) scope.Set("varargs", new PyTuple(args.Positional.Skip(parameters.Length).ToArray()));
        else if (args.Positional.Length > parameters.Length)
            throw PyError.TypeError($"macro '{name}' takes not more than {parameters.Length} argument(s)");

        var outer = r.Scope;
        r.Scope = scope;
        r.EnterMacro();
        try
        {
            for (var i = 0; i < parameters.Length; i++)
            {
                if (bound[i]) continue;
                scope.Set(parameters[i], defaults[i] is { } fallback
                    ? fallback.Eval(r)
                    : Undefined.WithHint($"parameter '{parameters[i]}' was not provided", parameters[i]));
            }
            return r.Capture(() => Stmt.Run(body, r));
        }
        finally
        {
            r.LeaveMacro();
            r.Scope = outer;
        }
    }
}
