namespace ReasonSharp.Rewards.Verification;

/// <summary>
/// Decides whether a predicted answer equals the gold one, following math-verify's rules: assignments (x = 5)
/// unwrap against bare values, relations compare up to flipping and scaling, a gold relation matches a predicted
/// set or interval (the reverse only when allowed), sets compare unordered, tuples ordered, matrices by element,
/// and expressions exactly, after rounding when a float is involved, or at random points when they have variables.
/// </summary>
internal sealed class MathComparer(MathVerifyOptions options, Deadline deadline)
{
    const int SamplePoints = 6;
    const double RelativeTolerance = 1e-9;

    /// <summary>How the last positive (or final negative) decision was reached.</summary>
    public string Decision { get; private set; } = "no comparison made";

    /// <summary>Set when some pair of values was too large to compare exactly or as doubles (a refusal, not a
    /// verdict): e.g. 10^{10^{10}} against 10^{10^{10}}+1.</summary>
    public string? TooLarge { get; private set; }

    bool Decide(bool result, string how)
    {
        Decision = how;
        return result;
    }

    public bool Equal(MathNode gold, MathNode pred)
    {
        deadline.Check();
        if (!options.Strict) pred = RenameVariables(pred, gold);

        var goldAssignment = IsAssignment(gold);
        var predAssignment = IsAssignment(pred);
        if (goldAssignment && predAssignment)
        {
            gold = Truncate(gold);
            pred = Truncate(pred);
        }
        else if (goldAssignment && !IsRelation(pred)) gold = LastRight(gold);
        else if (predAssignment && !IsRelation(gold)) pred = LastRight(pred);
        else if (IsEquation(pred) && !IsRelation(gold)) pred = LastRight(pred);

        if (IsRelation(gold) && IsSetLike(pred)) return RelationMatchesSet(gold, pred,
            "gold relation vs predicted set");
        if (IsSetLike(gold) && IsRelation(pred))
            return options.AllowSetRelationComparison
                ? RelationMatchesSet(pred, gold, "predicted relation vs gold set")
                : Decide(false, "a gold set is not compared with a predicted relation (AllowSetRelationComparison " +
                    "is off)");

        if (gold.ToString() == pred.ToString()) return Decide(true, $"identical structure {gold}");
        if (IsRelation(gold) || IsRelation(pred))
            return IsRelation(gold) && IsRelation(pred) ? RelationsEqual(gold, pred)
                : Decide(false, "a relation against a value");
        if (IsSetLike(gold) || IsSetLike(pred)) return SetsEqual(gold, pred);
        if (ContainsMatrix(gold) || ContainsMatrix(pred)) return MatricesEqual(gold, pred);
        if (SymbolRule(gold, pred) is { } symbolic) return symbolic;
        if (gold is PercentNode goldPercent && pred is not PercentNode && Equal(goldPercent.Value, pred))
            return Decide(true, $"percentage {gold} matches the unmarked {pred}: {Decision}");
        if (pred is PercentNode predPercent && gold is not PercentNode && Equal(gold, predPercent.Value))
            return Decide(true, $"unmarked {gold} matches the percentage {pred}: {Decision}");
        return ExpressionsEqual(gold, pred);
    }

    // ---- relations ------------------------------------------------------------------------------------------

    static bool IsRelation(MathNode node) => node is RelationNode or RelationChainNode;

    static bool IsEquation(MathNode node) => node switch
    {
        RelationNode r => r.Kind == RelationKind.Equal,
        RelationChainNode c => c.Relations.All(r => r.Kind == RelationKind.Equal),
        _ => false,
    };

    /// <summary>x = 5, f(x) = …, (p, q) = (3, 2), |AB| = 1: an equation whose left side has no number in it.</summary>
    static bool IsAssignment(MathNode node)
    {
        var first = node switch { RelationNode r => r, RelationChainNode c => c.Relations[0], _ => null };
        return first != null && IsEquation(node) && !first.Left.ContainsNumberLiteral()
            && first.Left is not ConstantNode
               && EvaluatorAtoms(first.Left).Count > 0;
    }

    static SortedSet<string> EvaluatorAtoms(MathNode node) => MathEvaluator.FreeAtoms(node);

    static MathNode LastRight(MathNode node) => node switch
    {
        RelationNode r => r.Right,
        RelationChainNode c => c.Relations[^1].Right,
        _ => node,
    };

    static MathNode Truncate(MathNode node) => node is RelationChainNode chain
        ? new RelationNode(RelationKind.Equal, chain.Relations[0].Left, chain.Relations[^1].Right)
        : node;

    static IReadOnlyList<RelationNode> RelationsOf(MathNode node) =>
        node is RelationChainNode chain ? chain.Relations : [(RelationNode)node];

    bool RelationsEqual(MathNode gold, MathNode pred)
    {
        var goldRelations = RelationsOf(gold);
        var predRelations = RelationsOf(pred);
        if (goldRelations.Count == predRelations.Count)
        {
            var all = true;
            for (var i = 0; i < goldRelations.Count && all; i++) all =
                RelationEqual(goldRelations[i], predRelations[i]);
            if (all) return Decide(true, $"relations equivalent up to flipping and a constant factor: {gold} vs " +
                $"{pred}");
        }
        // Single-variable inequality chains written in another order or direction: compare their solution sets.
        if (goldRelations.Concat(predRelations).All(r => r.Kind is not (RelationKind.Equal or RelationKind.NotEqual)))
        {
            var atoms = EvaluatorAtoms(gold);
            atoms.UnionWith(EvaluatorAtoms(pred));
            if (atoms.Count == 1 && SameTruthSets(gold, pred, atoms.Min!))
                return Decide(true, $"inequalities have the same solution set in {atoms.Min}");
        }
        return Decide(false, $"relations differ: {gold} vs {pred}");
    }

    /// <summary>Rewrites a relation as (difference, kind) with kind in {=, ≠, &lt;, ≤}: a &gt; b becomes
    /// b - a &lt; 0.</summary>
    static (MathNode Difference, RelationKind Kind) Canonical(RelationNode relation) => relation.Kind switch
    {
        RelationKind.Greater => (Difference(relation.Right, relation.Left), RelationKind.Less),
        RelationKind.GreaterOrEqual => (Difference(relation.Right, relation.Left), RelationKind.LessOrEqual),
        _ => (Difference(relation.Left, relation.Right), relation.Kind),
    };

    static MathNode Difference(MathNode a, MathNode b) => new AddNode([a, new NegNode(b)]);

    bool RelationEqual(RelationNode gold, RelationNode pred)
    {
        if (gold.Left is TupleNode || gold.Right is TupleNode || pred.Left is TupleNode || pred.Right is TupleNode)
            return gold.Kind == pred.Kind && Equal(gold.Left, pred.Left) && Equal(gold.Right, pred.Right);
        var (goldDifference, goldKind) = Canonical(gold);
        var (predDifference, predKind) = Canonical(pred);
        if (goldKind != predKind) return false;
        var positiveOnly = goldKind is RelationKind.Less or RelationKind.LessOrEqual;
        return Proportional(goldDifference, predDifference, positiveOnly);
    }

    /// <summary>True when a ≡ c·b for a constant c (positive when <paramref name="positiveOnly"/>), checked at random
    /// points.</summary>
    bool Proportional(MathNode a, MathNode b, bool positiveOnly)
    {
        if (!MathEvaluator.IsScalar(a) || !MathEvaluator.IsScalar(b)) return false;
        var atoms = EvaluatorAtoms(a);
        atoms.UnionWith(EvaluatorAtoms(b));
        if (atoms.Count == 0) return ExpressionsEqual(a, b);
        double? ratio = null;
        var valid = 0;
        foreach (var point in SamplePointsFor(atoms))
        {
            var va = MathEvaluator.Evaluate(a, point, deadline);
            var vb = MathEvaluator.Evaluate(b, point, deadline);
            if (!double.IsFinite(va) || !double.IsFinite(vb)) continue;
            valid++;
            if (ratio == null)
            {
                if (Math.Abs(vb) < 1e-12)
                {
                    if (Math.Abs(va) > 1e-9) return false;
                    continue;
                }
                ratio = va / vb;
                if (ratio == 0 || (positiveOnly && ratio < 0)) return false;
                continue;
            }
            if (Math.Abs(va - ratio.Value * vb) > 1e-8 * (Math.Abs(va) + Math.Abs(ratio.Value * vb))
                + 1e-12) return false;
        }
        return valid >= 3;
    }

    // ---- relations against sets --------------------------------------------------------------------------

    static bool IsSetLike(MathNode node) => node is SetNode or IntervalNode or UnionNode or TupleNode;

    bool RelationMatchesSet(MathNode relation, MathNode set, string context)
    {
        var atoms = EvaluatorAtoms(relation);
        if (atoms.Count != 1) return Decide(false, $"{context}: the relation must have exactly one variable, " +
            $"{relation} has {atoms.Count}");
        if (RelationsOf(relation).Any(r => r.Kind is RelationKind.Equal or RelationKind.NotEqual))
            return Decide(false, $"{context}: only inequalities are compared with sets");
        var variable = atoms.Min!;
        var interesting = Endpoints(set).ToList();
        var valid = 0;
        foreach (var x in ProbePoints(interesting))
        {
            deadline.Check();
            var truth = RelationHolds(relation, variable, x);
            var member = Contains(set, x);
            if (truth == null || member == null) continue;
            valid++;
            if (truth != member) return Decide(false, $"{context}: at {variable} = {x:G6} the relation is {truth} " +
                $"but membership is {member}");
        }
        return valid >= 20
            ? Decide(true, $"{context}: {relation} holds exactly on {set} ({valid} probe points incl. endpoints)")
            : Decide(false, $"{context}: too few points where both are defined");
    }

    bool SameTruthSets(MathNode a, MathNode b, string variable)
    {
        var constants =
            a.DescendantsAndSelf().Concat(b.DescendantsAndSelf()).OfType<NumberNode>().Select(n =>
            n.Value.ToDouble()).ToList();
        var valid = 0;
        foreach (var x in ProbePoints(constants))
        {
            var ta = RelationHolds(a, variable, x);
            var tb = RelationHolds(b, variable, x);
            if (ta == null || tb == null) continue;
            valid++;
            if (ta != tb) return false;
        }
        return valid >= 20;
    }

    static IEnumerable<double> ProbePoints(IReadOnlyCollection<double> interesting)
    {
        var finite = interesting.Where(double.IsFinite).ToList();
        var low = finite.Count == 0 ? -10 : finite.Min() - 10;
        var high = finite.Count == 0 ? 10 : finite.Max() + 10;
        foreach (var e in finite)
        {
            var step = 1e-4 * Math.Max(1, Math.Abs(e));
            yield return e;
            yield return e - step;
            yield return e + step;
        }
        const int grid = 400;
        for (var i = 0; i <= grid; i++) yield return low + (high - low) * (i + 0.37) / grid;
    }

    IEnumerable<double> Endpoints(MathNode set)
    {
        switch (set)
        {
            case IntervalNode interval:
                yield return Value(interval.Low);
                yield return Value(interval.High);
                break;
            case TupleNode tuple:
                foreach (var item in tuple.Items) yield return Value(item);
                break;
            case SetNode finite:
                foreach (var element in finite.Elements) yield return Value(element);
                break;
            case UnionNode union:
                foreach (var part in union.Parts)
                    foreach (var e in Endpoints(part))
                        yield return e;
                break;
        }
    }

    double Value(MathNode node) => MathEvaluator.Evaluate(node, new Dictionary<string, double>(), deadline);

    bool? RelationHolds(MathNode relation, string variable, double x)
    {
        var point = new Dictionary<string, double> { [variable] = x };
        foreach (var r in RelationsOf(relation))
        {
            var left = MathEvaluator.Evaluate(r.Left, point, deadline);
            var right = MathEvaluator.Evaluate(r.Right, point, deadline);
            if (double.IsNaN(left) || double.IsNaN(right)) return null;
            var slack = 1e-9 * Math.Max(1, Math.Max(Math.Abs(left), Math.Abs(right)));
            var holds = r.Kind switch
            {
                RelationKind.Less => left < right - slack,
                RelationKind.LessOrEqual => left <= right + slack,
                RelationKind.Greater => left > right + slack,
                RelationKind.GreaterOrEqual => left >= right - slack,
                RelationKind.Equal => Math.Abs(left - right) <= slack,
                _ => Math.Abs(left - right) > slack,
            };
            if (!holds) return false;
        }
        return true;
    }

    bool? Contains(MathNode set, double x)
    {
        switch (set)
        {
            case IntervalNode interval:
                return InInterval(Value(interval.Low), Value(interval.High), interval.LowOpen, interval.HighOpen, x);
            case TupleNode { Items.Count: 2, CouldBeOpenInterval: true } pair:
                return InInterval(Value(pair.Items[0]), Value(pair.Items[1]), true, true, x);
            case SetNode finite:
                return finite.Elements.Select(Value).Any(e => Math.Abs(e - x) <= 1e-9 * Math.Max(1, Math.Abs(e)));
            case UnionNode union:
                var any = false;
                foreach (var part in union.Parts)
                {
                    var inside = Contains(part, x);
                    if (inside == null) return null;
                    any |= inside.Value;
                }
                return any;
            default:
                return null;
        }
    }

    static bool? InInterval(double low, double high, bool lowOpen, bool highOpen, double x)
    {
        if (double.IsNaN(low) || double.IsNaN(high)) return null;
        var slack = 1e-9 * Math.Max(1, Math.Abs(x));
        var aboveLow = lowOpen ? x > low + slack : x >= low - slack;
        var belowHigh = highOpen ? x < high - slack : x <= high + slack;
        return aboveLow && belowHigh;
    }

    // ---- sets, intervals, tuples -------------------------------------------------------------------------

    bool SetsEqual(MathNode gold, MathNode pred)
    {
        if (AsIntervals(gold) is { } goldIntervals && AsIntervals(pred) is { } predIntervals
            && (gold is IntervalNode or UnionNode || pred is IntervalNode or UnionNode))
            return IntervalListsEqual(goldIntervals, predIntervals);

        switch (gold, pred)
        {
            case (TupleNode g, TupleNode p):
                return OrderedEqual(g.Items, p.Items, "tuples compared in order");
            case (TupleNode g, SetNode p):
                return OrderedEqual(g.Items, p.Elements, "gold tuple vs predicted set, in the order written");
            case (IntervalNode { LowOpen: true, HighOpen: true } g, SetNode { Elements.Count: 2 } p):
                return OrderedEqual([g.Low, g.High], p.Elements, "open interval vs two-element set, in the order " +
                    "written");
        }
        var goldElements = gold is SetNode gs ? gs.Elements : gold is TupleNode gt ? gt.Items : [gold];
        var predElements = pred is SetNode ps ? ps.Elements : pred is TupleNode pt ? pt.Items : [pred];
        if (gold is not SetNode && pred is not SetNode && !(gold is TupleNode || pred is TupleNode))
            return Decide(false, $"{gold} and {pred} are different kinds of sets");
        return UnorderedEqual(goldElements, predElements);
    }

    /// <summary>An interval, an open pair, or a union of those, as a list of intervals; null otherwise.</summary>
    static List<IntervalNode>? AsIntervals(MathNode node) => node switch
    {
        IntervalNode interval => [interval],
        TupleNode { Items.Count: 2, CouldBeOpenInterval: true } pair =>
            [new IntervalNode(pair.Items[0], pair.Items[1], true, true)],
        UnionNode union => union.Parts.Select(AsIntervals).All(p => p != null)
            ? union.Parts.SelectMany(p => AsIntervals(p)!).ToList() : null,
        _ => null,
    };

    bool IntervalListsEqual(List<IntervalNode> gold, List<IntervalNode> pred)
    {
        if (gold.Count != pred.Count) return Decide(false, $"{gold.Count} interval(s) vs {pred.Count}");
        var goldSorted = gold.OrderBy(i => Value(i.Low)).ToList();
        var predSorted = pred.OrderBy(i => Value(i.Low)).ToList();
        for (var i = 0; i < goldSorted.Count; i++)
        {
            var g = goldSorted[i];
            var p = predSorted[i];
            if (g.LowOpen != p.LowOpen || g.HighOpen != p.HighOpen)
                return Decide(false, $"interval ends differ in openness: {g} vs {p}");
            if (!Equal(g.Low, p.Low) || !Equal(g.High, p.High)) return Decide(false,
                $"interval endpoints differ: {g} vs {p}");
        }
        return Decide(true, $"intervals match end by end: {string.Join(" U ", gold)}");
    }

    bool OrderedEqual(IReadOnlyList<MathNode> gold, IReadOnlyList<MathNode> pred, string how)
    {
        if (gold.Count != pred.Count) return Decide(false, $"{how}: {gold.Count} vs {pred.Count} items");
        for (var i = 0; i < gold.Count; i++)
            if (!Equal(gold[i], pred[i])) return Decide(false, $"{how}: item {i + 1} differs ({gold[i]} vs {pred[i]})");
        return Decide(true, $"{how}: all {gold.Count} items equal");
    }

    bool UnorderedEqual(IReadOnlyList<MathNode> gold, IReadOnlyList<MathNode> pred)
    {
        var goldDistinct = Distinct(gold);
        var predDistinct = Distinct(pred);
        if (goldDistinct.Count != predDistinct.Count)
            return Decide(false, $"sets have {goldDistinct.Count} vs {predDistinct.Count} distinct elements");
        var used = new bool[predDistinct.Count];
        foreach (var g in goldDistinct)
        {
            var found = false;
            for (var j = 0; j < predDistinct.Count && !found; j++)
            {
                if (used[j] || !Equal(g, predDistinct[j])) continue;
                used[j] = found = true;
            }
            if (!found) return Decide(false, $"gold element {g} has no equal predicted element");
        }
        return Decide(true, $"sets match element by element ({goldDistinct.Count} elements, any order)");
    }

    List<MathNode> Distinct(IReadOnlyList<MathNode> items)
    {
        var distinct = new List<MathNode>();
        foreach (var item in items)
            if (!distinct.Any(d => Equal(d, item))) distinct.Add(item);
        return distinct;
    }

    // ---- matrices ----------------------------------------------------------------------------------------

    static bool ContainsMatrix(MathNode node) => node.DescendantsAndSelf().Any(n => n is MatrixNode);

    bool MatricesEqual(MathNode gold, MathNode pred)
    {
        var g = MatrixAlgebra.Reduce(gold);
        var p = MatrixAlgebra.Reduce(pred);
        if (g == null || p == null) return Decide(false, "a matrix expression could not be reduced to one matrix");
        if (g.RowCount != p.RowCount || g.ColumnCount != p.ColumnCount)
            return Decide(false, $"matrix shapes differ: {g.RowCount}x{g.ColumnCount} vs {p.RowCount}x{p.ColumnCount}");
        for (var r = 0; r < g.RowCount; r++)
            for (var c = 0; c < g.ColumnCount; c++)
                if (!Equal(g.Rows[r][c], p.Rows[r][c])) return Decide(false,
                    $"matrix entry ({r + 1},{c + 1}) differs: {g.Rows[r][c]} vs {p.Rows[r][c]}");
        return Decide(true, $"matrices equal entry by entry ({g.RowCount}x{g.ColumnCount})");
    }

    // ---- symbols -----------------------------------------------------------------------------------------

    /// <summary>\text{Evelyn} vs Evelyn (parsed E·v·e·l·y·n), \text{e} vs Euler's e, names ignoring case when longer
    /// than one letter.</summary>
    bool? SymbolRule(MathNode gold, MathNode pred)
    {
        if (gold is SymbolNode && pred is SymbolNode || gold is SymbolNode && IsLetterProduct(pred)
            || pred is SymbolNode && IsLetterProduct(gold)
            || gold is SymbolNode && pred is ConstantNode { Kind: MathConstant.E } || pred is SymbolNode
                && gold is ConstantNode { Kind: MathConstant.E })
        {
            var g = Spell(gold);
            var p = Spell(pred);
            var same = g.Length > 1 || p.Length > 1 ? string.Equals(g, p, StringComparison.OrdinalIgnoreCase) : g == p;
            return Decide(same, same ? $"same name '{g}'" : $"different names '{g}' and '{p}'");
        }
        return null;
    }

    static bool IsLetterProduct(MathNode node) =>
        node is MulNode mul && mul.Factors.All(f => f is SymbolNode || f is ConstantNode { Kind: MathConstant.E });

    static string Spell(MathNode node) => node switch
    {
        SymbolNode s => s.Name,
        ConstantNode => "e",
        MulNode m => string.Concat(m.Factors.Select(Spell)),
        _ => node.ToString(),
    };

    // ---- expressions -------------------------------------------------------------------------------------

    bool ExpressionsEqual(MathNode gold, MathNode pred)
    {
        if (!MathEvaluator.IsScalar(gold) || !MathEvaluator.IsScalar(pred)) return Decide(false,
            $"{gold} and {pred} are different kinds of objects");
        var atoms = EvaluatorAtoms(gold);
        atoms.UnionWith(EvaluatorAtoms(pred));
        var hasFloat = gold.ContainsFloat() || pred.ContainsFloat();
        var digits = options.FloatRounding;
        if (atoms.Count == 0)
        {
            if (MathEvaluator.TryExact(gold, deadline) is { } ge && MathEvaluator.TryExact(pred, deadline) is { } pe)
            {
                if (hasFloat)
                {
                    var same = ge.Round(digits) == pe.Round(digits);
                    return Decide(same, $"numbers {(same ? "equal" : "differ")} after rounding to {digits} " +
                        $"decimals ({ge.Round(digits).ToDouble()} vs {pe.Round(digits).ToDouble()})");
                }
                return Decide(ge == pe, ge == pe
                    ? $"exact rational values equal ({ge.Describe()})"
                    : $"exact values differ ({ge.Describe()} vs {pe.Describe()})");
            }
            var gd = Value(gold);
            var pd = Value(pred);
            if (double.IsNaN(gd) || double.IsNaN(pd)) return Decide(false, "a value could not be evaluated");
            if (Overflowed(gold, gd) || Overflowed(pred, pd))
            {
                TooLarge = $"{Shorten(gold)} vs {Shorten(pred)}: a value is past exact arithmetic and past a double";
                return Decide(false, $"too large to compare: {TooLarge}");
            }
            var close = hasFloat ? RoundedEqual(gd, pd, digits) : Close(gd, pd);
            return Decide(close, $"numeric values {(close ? "equal" : "differ")} ({gd:G15} vs " +
                $"{pd:G15}{(hasFloat ? $", rounded to {digits} decimals" : "")})");
        }
        var valid = 0;
        foreach (var point in SamplePointsFor(atoms))
        {
            var gv = MathEvaluator.Evaluate(gold, point, deadline);
            var pv = MathEvaluator.Evaluate(pred, point, deadline);
            if (!double.IsFinite(gv) || !double.IsFinite(pv))
            {
                if (double.IsFinite(gv) != double.IsFinite(pv) && !double.IsNaN(gv) && !double.IsNaN(pv))
                    return Decide(false, "one side is infinite where the other is finite");
                continue;
            }
            valid++;
            if (!(hasFloat ? RoundedEqual(gv, pv, digits) : Close(gv, pv)))
                return Decide(false, $"expressions differ at {Describe(point)}: {gv:G10} vs {pv:G10}");
        }
        return valid >= 3
            ? Decide(true, $"expressions agree at {valid} random points of {string.Join(", ", atoms)}")
            : Decide(false, "expressions could not be evaluated at enough points");
    }

    /// <summary>An infinite value from an expression with no ∞ in it: the double overflowed (10^{400}).</summary>
    static bool Overflowed(MathNode node, double value) =>
        double.IsInfinity(value)
        && !node.DescendantsAndSelf().Any(n => n is ConstantNode { Kind: MathConstant.Infinity });

    static string Shorten(MathNode node)
    {
        var text = node.ToString();
        return text.Length <= 60 ? text : text[..57] + "...";
    }

    static bool Close(double a, double b)
    {
        if (double.IsInfinity(a) || double.IsInfinity(b)) return a == b;
        return Math.Abs(a - b) <= RelativeTolerance * Math.Max(1, Math.Max(Math.Abs(a), Math.Abs(b)));
    }

    static bool RoundedEqual(double a, double b, int digits)
    {
        if (double.IsInfinity(a) || double.IsInfinity(b)) return a == b;
        return Math.Round(a, Math.Min(digits, 15), MidpointRounding.AwayFromZero) == Math.Round(b, Math.Min(digits, 15),
            MidpointRounding.AwayFromZero)
               || Math.Abs(a - b) <= 1e-12 * Math.Max(1, Math.Abs(a));
    }

    static string Describe(Dictionary<string, double> point) =>
        string.Join(", ", point.Select(p => $"{p.Key}={p.Value:G4}"));

    /// <summary>Deterministic random points with every atom in [0.5, 2.5] (positive, so roots and logs stay
    /// real).</summary>
    static IEnumerable<Dictionary<string, double>> SamplePointsFor(SortedSet<string> atoms)
    {
        var random = new Random(20250101);
        for (var i = 0; i < SamplePoints; i++)
            yield return atoms.ToDictionary(a => a, _ => 0.5 + 2 * random.NextDouble());
    }

    /// <summary>Non-strict mode: the prediction's variables, in sorted order, are renamed to the gold's.</summary>
    static MathNode RenameVariables(MathNode pred, MathNode gold)
    {
        var goldSymbols =
            gold.DescendantsAndSelf().OfType<SymbolNode>().Select(s =>
            s.Name).Distinct().Order(StringComparer.Ordinal).ToList();
        var predSymbols =
            pred.DescendantsAndSelf().OfType<SymbolNode>().Select(s =>
            s.Name).Distinct().Order(StringComparer.Ordinal).ToList();
        if (goldSymbols.Count != predSymbols.Count || goldSymbols.SequenceEqual(predSymbols)) return pred;
        var map = predSymbols.Zip(goldSymbols).ToDictionary(p => p.First, p => p.Second);
        return MathRewriter.Rewrite(pred, n => n is SymbolNode s ? new SymbolNode(map[s.Name], s.IsText) : null);
    }
}
