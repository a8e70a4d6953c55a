namespace ReasonSharp.Templates;

/// <summary>The `loop` variable of a for loop: index, first, last, length, previtem, nextitem, cycle,
/// changed.</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items, int depth0)
{
    object?[]? lastChanged;

    public int Index0 { get; set; }
    public int Length => items.Count;
    public int Depth0 => depth0;

    public object? Attribute(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(Length - Index0),
        "revindex0" => (long)(Length - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Length - 1,
        "length" => (long)Length,
        "depth" => (long)(depth0 + 1),
        "depth0" => (long)depth0,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : Undefined.WithHint("there is no previous item", "previtem"),
        "nextitem" => Index0 + 1 < Length ? items[Index0 + 1] : Undefined.WithHint("there is no next item", "nextitem"),
        "cycle" => new BuiltinFunction("cycle", (_, args) => Cycle(args)),
        "changed" => new BuiltinFunction("changed", (_, args) => Changed(args)),
        _ => Undefined.Member(this, name),
    };

    object? Cycle(Args args)
    {
        if (args.Positional.Length == 0) throw PyError.TypeError("no items for cycling given");
        return args.Positional[Index0 % args.Positional.Length];
    }

    bool Changed(Args args)
    {
        var values = args.Positional;
        if (lastChanged is not null && lastChanged.Length == values.Length && Py.Eq(new PyTuple(lastChanged),
            new PyTuple(values)))
            return false;
        lastChanged = values;
        return true;
    }

    public override string ToString() => $"<LoopContext {Index0 + 1}/{Length}>";
}
