namespace ReasonSharp.Rewards.Verification;

/// <summary>Rebuilds trees bottom-up, replacing nodes chosen by a function.</summary>
internal static class MathRewriter
{
    public static MathNode Rewrite(MathNode node, Func<MathNode, MathNode?> replace)
    {
        if (replace(node) is { } replaced) return replaced;
        MathNode R(MathNode child) => Rewrite(child, replace);
        List<MathNode> All(IEnumerable<MathNode> children) => children.Select(R).ToList();
        return node switch
        {
            AddNode add => new AddNode(All(add.Terms)),
            NegNode neg => new NegNode(R(neg.Operand)),
            MulNode mul => new MulNode(All(mul.Factors)),
            DivNode div => new DivNode(R(div.Numerator), R(div.Denominator)),
            PowNode pow => new PowNode(R(pow.Base), R(pow.Exponent)),
            FuncNode func => new FuncNode(func.Name, All(func.Args), func.IsUndefined),
            PercentNode percent => new PercentNode(R(percent.Value)),
            RelationNode relation => new RelationNode(relation.Kind, R(relation.Left), R(relation.Right)),
            RelationChainNode chain => new RelationChainNode(chain.Relations.Select(r => (RelationNode)R(r)).ToList()),
            SetNode set => new SetNode(All(set.Elements)),
            IntervalNode interval =>
                new IntervalNode(R(interval.Low), R(interval.High), interval.LowOpen, interval.HighOpen),
            UnionNode union => new UnionNode(All(union.Parts)),
            TupleNode tuple => new TupleNode(All(tuple.Items), tuple.CouldBeOpenInterval),
            MatrixNode matrix => new MatrixNode(matrix.Rows.Select(r => (IReadOnlyList<MathNode>)All(r)).ToList()),
            _ => node,
        };
    }
}

/// <summary>Reduces sums, products, negations and small powers of matrices to one matrix of element expressions.
/// Entries share subtrees, so their expanded size can grow exponentially (a 10×10 matrix to the 10th power);
/// an entry that would expand past <see cref="MaxEntryNodes"/> nodes is refused as too large.</summary>
internal static class MatrixAlgebra
{
    /// <summary>Most nodes one entry of a reduced matrix may expand to.</summary>
    public const long MaxEntryNodes = 100_000;

    public static MatrixNode? Reduce(MathNode node)
    {
        switch (node)
        {
            case MatrixNode matrix:
                return matrix;
            case NegNode neg:
                return Reduce(neg.Operand) is { } negated ? Map(negated, e => new NegNode(e)) : null;
            case AddNode add:
                {
                    MatrixNode? sum = null;
                    foreach (var term in add.Terms)
                    {
                        if (Reduce(term) is not { } termMatrix) return null;
                        if (sum == null) sum = termMatrix;
                        else if (sum.RowCount != termMatrix.RowCount
                            || sum.ColumnCount != termMatrix.ColumnCount) return null;
                        else sum = Combine(sum, termMatrix);
                    }
                    return sum;
                }
            case MulNode mul:
                {
                    MatrixNode? product = null;
                    var scalars = new List<MathNode>();
                    foreach (var factor in mul.Factors)
                    {
                        if (!factor.DescendantsAndSelf().Any(n => n is MatrixNode)) { scalars.Add(factor); continue; }
                        if (Reduce(factor) is not { } factorMatrix) return null;
                        if (product == null) product = factorMatrix;
                        else if (Multiply(product, factorMatrix) is { } p) product = RequireSmall(p);
                        else return null;
                    }
                    if (product == null) return null;
                    return scalars.Count == 0 ? product : Map(product, e => new MulNode([.. scalars, e]));
                }
            case PowNode { Exponent: NumberNode { IsFloat: false } exponent } pow
                when exponent.Value.IsInteger && exponent.Value.Sign > 0 && exponent.Value.Numerator <= 10:
                {
                    if (Reduce(pow.Base) is not { } baseMatrix) return null;
                    var result = baseMatrix;
                    for (var i = 1; i < (int)exponent.Value.Numerator; i++)
                        if (Multiply(result, baseMatrix) is { } p) result = RequireSmall(p);
                        else return null;
                    return result;
                }
            default:
                return null;
        }
    }

    static MatrixNode RequireSmall(MatrixNode matrix)
    {
        foreach (var row in matrix.Rows)
            foreach (var entry in row)
                if (entry.DescendantsAndSelf().Skip((int)MaxEntryNodes).Any())
                    throw new VerificationSizeException(
                        $"a matrix product's entries expand past {MaxEntryNodes} nodes");
        return matrix;
    }

    static MatrixNode Map(MatrixNode m, Func<MathNode, MathNode> f) =>
        new(m.Rows.Select(r => (IReadOnlyList<MathNode>)r.Select(f).ToList()).ToList());

    static MatrixNode Combine(MatrixNode a, MatrixNode b) =>
        new(a.Rows.Select((row, i) =>
            (IReadOnlyList<MathNode>)row.Select((e, j) => (MathNode)new AddNode([e, b.Rows[i][j]])).ToList()).ToList());

    static MatrixNode? Multiply(MatrixNode a, MatrixNode b)
    {
        if (a.ColumnCount != b.RowCount) return null;
        var rows = new List<IReadOnlyList<MathNode>>();
        for (var i = 0; i < a.RowCount; i++)
        {
            var row = new List<MathNode>();
            for (var j = 0; j < b.ColumnCount; j++)
                row.Add(new AddNode(Enumerable.Range(0,
                    a.ColumnCount).Select(k => (MathNode)new MulNode([a.Rows[i][k], b.Rows[k][j]])).ToList()));
            rows.Add(row);
        }
        return new MatrixNode(rows);
    }
}
