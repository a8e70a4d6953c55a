namespace ReasonSharp.Templates;

/// <summary>An expression node; Line and Column (1-based) are where it starts in the template.</summary>
internal abstract class Expr(int line, int column)
{
    public int Line { get; } = line;
    public int Column { get; } = column;

    public abstract object? Eval(Renderer r);

    /// <summary>Gives an error raised below this node this node's position, unless it has one.</summary>
    protected PyError At(PyError error)
    {
        if (!error.Positioned) { error.Line = Line; error.Column = Column; }
        return error;
    }

    /// <summary>Names this expression reads (for a macro's use of caller, varargs and kwargs).</summary>
    public virtual IEnumerable<string> Names() => [];
}

internal sealed class ConstExpr(object? value, int line, int column) : Expr(line, column)
{
    public object? Value { get; } = value;
    public override object? Eval(Renderer r) => Value;
}

internal sealed class NameExpr(string name, int line, int column) : Expr(line, column)
{
    public string Name { get; } = name;
    public override object? Eval(Renderer r) => r.Scope.TryGet(Name, out var value) ? value : Undefined.Variable(Name);
    public override IEnumerable<string> Names() => [Name];
}

internal sealed class ListExpr(Expr[] items, int line, int column) : Expr(line, column)
{
    public Expr[] Items { get; } = items;

    public override object? Eval(Renderer r)
    {
        var list = new List<object?>(Items.Length);
        foreach (var item in Items) list.Add(item.Eval(r));
        return list;
    }

    public override IEnumerable<string> Names() => Items.SelectMany(i => i.Names());
}

internal sealed class TupleExpr(Expr[] items, int line, int column) : Expr(line, column)
{
    public Expr[] Items { get; } = items;

    public override object? Eval(Renderer r)
    {
        var values = new object?[Items.Length];
        for (var i = 0; i < values.Length; i++) values[i] = Items[i].Eval(r);
        return new PyTuple(values);
    }

    public override IEnumerable<string> Names() => Items.SelectMany(i => i.Names());
}

internal sealed class DictExpr((Expr Key, Expr Value)[] pairs, int line, int column) : Expr(line, column)
{
    public override object? Eval(Renderer r)
    {
        var dict = new PyDict(pairs.Length);
        try
        {
            foreach (var (key, value) in pairs) dict.Set(key.Eval(r), value.Eval(r));
        }
        catch (PyError e) { throw At(e); }
        return dict;
    }

    public override IEnumerable<string> Names() => pairs.SelectMany(p => p.Key.Names().Concat(p.Value.Names()));
}

internal sealed class GetAttrExpr(Expr target, string name, int line, int column) : Expr(line, column)
{
    public Expr Target { get; } = target;
    public string Name { get; } = name;

    public override object? Eval(Renderer r)
    {
        var obj = Target.Eval(r);
        if (obj is PyDict dict && dict.TryGetValue(Name, out var value) && !Access.IsDictMethodName(Name)) return value;
        try { return Access.GetAttr(obj, Name); }
        catch (PyError e) { throw At(e); }
    }

    public override IEnumerable<string> Names() => Target.Names();
}

internal sealed class GetItemExpr(Expr target, Expr key, int line, int column) : Expr(line, column)
{
    public override object? Eval(Renderer r)
    {
        var obj = target.Eval(r);
        var k = key.Eval(r);
        try { return Access.GetItem(obj, k); }
        catch (PyError e) { throw At(e); }
    }

    public override IEnumerable<string> Names() => target.Names().Concat(key.Names());
}

internal sealed class SliceExpr(Expr? start, Expr? stop, Expr? step, int line, int column) : Expr(line, column)
{
    public override object? Eval(Renderer r) => new PySlice(start?.Eval(r), stop?.Eval(r), step?.Eval(r));

    public override IEnumerable<string> Names() =>
        new[] { start, stop, step }.OfType<Expr>().SelectMany(e => e.Names());
}

/// <summary>Arguments as written at a call, filter or test: positional, keyword, *args and **kwargs.</summary>
internal sealed class CallArguments(Expr[] positional, (string Name, Expr Value)[] named, Expr? starArgs,
    Expr? starKwargs)
{
    public static readonly CallArguments Empty = new([], [], null, null);

    public Expr[] Positional { get; } = positional;
    public bool IsEmpty => Positional.Length == 0 && named.Length == 0 && starArgs is null && starKwargs is null;

    public Args Eval(Renderer r, object? first = null, bool withFirst = false)
    {
        if (IsEmpty && !withFirst) return Args.None;
        var values = new List<object?>(Positional.Length + 1);
        if (withFirst) values.Add(first);
        foreach (var p in Positional) values.Add(p.Eval(r));
        if (starArgs is not null) values.AddRange(Py.Iterate(starArgs.Eval(r)));
        KeyValuePair<string, object?>[]? keywords = null;
        if (named.Length > 0 || starKwargs is not null)
        {
            var list = new List<KeyValuePair<string, object?>>(named.Length);
            foreach (var (name, value) in named) list.Add(new(name, value.Eval(r)));
            if (starKwargs is not null)
            {
                if (starKwargs.Eval(r) is not PyDict extra)
                    throw PyError.TypeError("argument after ** must be a mapping");
                foreach (var (k, v) in extra) list.Add(new(Py.Str(k), v));
            }
            keywords = [.. list];
        }
        return new Args([.. values], keywords);
    }

    public IEnumerable<string> Names() =>
        Positional.SelectMany(p => p.Names()).Concat(named.SelectMany(n => n.Value.Names()))
            .Concat(starArgs?.Names() ?? []).Concat(starKwargs?.Names() ?? []);
}

internal sealed class CallExpr(Expr callee, CallArguments arguments, int line, int column) : Expr(line, column)
{
    public Expr Callee { get; } = callee;
    public CallArguments Arguments { get; } = arguments;

    public override object? Eval(Renderer r)
    {
        try
        {
            if (Callee is GetAttrExpr attribute)
            {
                var obj = attribute.Target.Eval(r);
                if (Access.IsMethod(obj, attribute.Name)) return Methods.Call(r, obj!, attribute.Name,
                    Arguments.Eval(r));
                var method = Access.GetAttr(obj, attribute.Name);
                return CallValue(r, method, Arguments.Eval(r));
            }
            var callee = Callee.Eval(r);
            return CallValue(r, callee, Arguments.Eval(r));
        }
        catch (PyError e) { throw At(e); }
    }

    /// <summary>Calls the callee with arguments already evaluated (a call block adds `caller`).</summary>
    public object? Invoke(Renderer r, Args args)
    {
        try { return CallValue(r, Callee.Eval(r), args); }
        catch (PyError e) { throw At(e); }
    }

    public static object? CallValue(Renderer r, object? callee, Args args) => callee switch
    {
        PyCallable callable => callable.Call(r, args),
        Undefined undefined => throw undefined.Fail(),
        _ => throw PyError.TypeError($"'{Py.TypeName(callee)}' object is not callable"),
    };

    public override IEnumerable<string> Names() => Callee.Names().Concat(Arguments.Names());
}

internal sealed class FilterExpr(Expr? value, string name, FilterFunction? filter, CallArguments arguments, int line,
    int column)
    : Expr(line, column)
{
    public string Name { get; } = name;

    /// <summary>A chain of filters with no value of its own (`{% filter a | b %}`, `{% set x | a | b %}`).</summary>
    bool AppliesToInput => value is null || (value is FilterExpr inner && inner.AppliesToInput);

    public override object? Eval(Renderer r) => Apply(r, null);

    /// <summary>The filter applied to its value, or to <paramref name="input"/> for a filter block's chain.</summary>
    public object? Apply(Renderer r, object? input)
    {
        var operand = value is null ? input : AppliesToInput ? ((FilterExpr)value).Apply(r, input) : value.Eval(r);
        try
        {
            var function = filter ?? throw PyError.Runtime($"No filter named '{Name}'.");
            return function(r, operand, arguments.Eval(r));
        }
        catch (PyError e) { throw At(e); }
    }

    public override IEnumerable<string> Names() => (value?.Names() ?? []).Concat(arguments.Names());
}

internal sealed class TestExpr(Expr value, string name, TestFunction? test, CallArguments arguments, int line,
    int column)
    : Expr(line, column)
{
    public override object? Eval(Renderer r)
    {
        var input = value.Eval(r);
        try
        {
            var function = test ?? throw PyError.Runtime($"No test named '{name}'.");
            return function(r, input, arguments.Eval(r));
        }
        catch (PyError e) { throw At(e); }
    }

    public override IEnumerable<string> Names() => value.Names().Concat(arguments.Names());
}

internal sealed class NotExpr(Expr operand, int line, int column) : Expr(line, column)
{
    public override object? Eval(Renderer r) => !Py.Truthy(operand.Eval(r));
    public override IEnumerable<string> Names() => operand.Names();
}

internal enum UnaryOp { Neg, Pos }

internal sealed class UnaryExpr(UnaryOp op, Expr operand, int line, int column) : Expr(line, column)
{
    public override object? Eval(Renderer r)
    {
        var value = operand.Eval(r);
        try { return op == UnaryOp.Neg ? Py.Negate(value) : Py.Plus(value); }
        catch (PyError e) { throw At(e); }
    }

    public override IEnumerable<string> Names() => operand.Names();
}

internal enum BinaryOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow }

internal sealed class BinaryExpr(BinaryOp op, Expr left, Expr right, int line, int column) : Expr(line, column)
{
    public override object? Eval(Renderer r)
    {
        var a = left.Eval(r);
        var b = right.Eval(r);
        try
        {
            return op switch
            {
                BinaryOp.Add => Py.Add(a, b),
                BinaryOp.Sub => Py.Sub(a, b),
                BinaryOp.Mul => Py.Mul(a, b),
                BinaryOp.Div => Py.TrueDiv(a, b),
                BinaryOp.FloorDiv => Py.FloorDiv(a, b),
                BinaryOp.Mod => Py.Mod(a, b),
                _ => Py.Pow(a, b),
            };
        }
        catch (PyError e) { throw At(e); }
    }

    public override IEnumerable<string> Names() => left.Names().Concat(right.Names());
}

internal sealed class AndExpr(Expr left, Expr right, int line, int column) : Expr(line, column)
{
    public override object? Eval(Renderer r)
    {
        var a = left.Eval(r);
        return Py.Truthy(a) ? right.Eval(r) : a;
    }

    public override IEnumerable<string> Names() => left.Names().Concat(right.Names());
}

internal sealed class OrExpr(Expr left, Expr right, int line, int column) : Expr(line, column)
{
    public override object? Eval(Renderer r)
    {
        var a = left.Eval(r);
        return Py.Truthy(a) ? a : right.Eval(r);
    }

    public override IEnumerable<string> Names() => left.Names().Concat(right.Names());
}

/// <summary>`a ~ b ~ c`: every operand made a string and joined.</summary>
internal sealed class ConcatExpr(Expr[] operands, int line, int column) : Expr(line, column)
{
    public override object? Eval(Renderer r)
    {
        var b = new System.Text.StringBuilder();
        foreach (var operand in operands) b.Append(Py.Str(operand.Eval(r)));
        return b.ToString();
    }

    public override IEnumerable<string> Names() => operands.SelectMany(o => o.Names());
}

internal sealed class CompareExpr(Expr first, (string Op, Expr Operand)[] rest, int line, int column) : Expr(line,
    column)
{
    public override object? Eval(Renderer r)
    {
        var left = first.Eval(r);
        try
        {
            foreach (var (op, operand) in rest)
            {
                var right = operand.Eval(r);
                var holds = op switch
                {
                    "==" => Py.Eq(left, right),
                    "!=" => !Py.Eq(left, right),
                    "<" => Py.Compare(left, right, op) < 0,
                    "<=" => Py.Compare(left, right, op) <= 0,
                    ">" => Py.Compare(left, right, op) > 0,
                    ">=" => Py.Compare(left, right, op) >= 0,
                    "in" => Py.Contains(right, left),
                    _ => !Py.Contains(right, left),
                };
                if (!holds) return false;
                left = right;
            }
            return true;
        }
        catch (PyError e) { throw At(e); }
    }

    public override IEnumerable<string> Names() => first.Names().Concat(rest.SelectMany(p => p.Operand.Names()));
}

/// <summary>`a if test else b`; without else, a false test gives Undefined.</summary>
internal sealed class CondExpr(Expr test, Expr then, Expr? otherwise, int line, int column) : Expr(line, column)
{
    public override object? Eval(Renderer r)
    {
        if (Py.Truthy(test.Eval(r))) return then.Eval(r);
        return otherwise is null
            ? Undefined.WithHint($"the inline if-expression on line {Line} evaluated to false and no else section was "
                + $"defined.")
            : otherwise.Eval(r);
    }

    public override IEnumerable<string> Names() => test.Names().Concat(then.Names()).Concat(otherwise?.Names() ?? []);
}
