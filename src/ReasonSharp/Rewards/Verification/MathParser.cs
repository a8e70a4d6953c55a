using System.Globalization;
using System.Text.RegularExpressions;

namespace ReasonSharp.Rewards.Verification;

public class MathParseException(string message) : Exception(message);

/// <summary>A number literal over the digit cap: not a syntax error, a refusal to compute with it.</summary>
public sealed class NumberTooLargeException(string message) : MathParseException(message);

/// <summary>
/// Parses a normalised LaTeX or plain answer ("\frac{x+2}{7}", "2x^2-1", "[0,1)", "x \le 3", "(1,2),(3,4)",
/// "\begin{pmatrix}1&amp;2\end{pmatrix}") into a <see cref="MathNode"/>. Implicit multiplication, \frac13-style
/// single-token arguments, \sqrt[n]{}, functions with or without parentheses, sets, intervals, tuples, matrices
/// and relation chains are supported. Unknown commands are errors, so the caller can fall back.
/// </summary>
public static partial class MathParser
{
    /// <summary>Deepest nesting of brackets, groups and signs the parser follows.</summary>
    const int MaxNesting = 200;

    /// <summary>Deepest tree accepted (2^2^2^…, 5!!!…, 1/2/3/… nest without brackets); deeper ones are refused so
    /// the recursive evaluator and comparer never run out of stack.</summary>
    public const int MaxTreeDepth = 500;

    /// <summary>Parses LaTeX with the default digit cap (<see cref="MathVerifyOptions.MaxNumberDigits"/>).</summary>
    public static MathNode Parse(string text, Deadline deadline) =>
        Parse(text, deadline, MathVerifyOptions.Default.MaxNumberDigits);

    /// <summary>
    /// Parses LaTeX, or with <paramref name="plain"/> a plain expression where ^ takes a whole operand (2^10 = 1024)
    /// as in Python. A literal with more than <paramref name="maxNumberDigits"/> digits throws
    /// <see cref="NumberTooLargeException"/>.
    /// </summary>
    public static MathNode Parse(string text, Deadline deadline, int maxNumberDigits, bool plain = false)
    {
        var trimmed = text.Trim();
        if (ThousandsRegex().IsMatch(trimmed))
            return NumberOf(LatexNormalizer.StripThousands(trimmed), maxNumberDigits, deadline);
        return new Parser(trimmed, deadline, maxNumberDigits, plain).ParseTop();
    }

    /// <summary>
    /// Parses, and if that fails parses only the part after the last "=" of an a = b = c chain (as math-verify
    /// does for "1 = \zzz = x = 0"). Throws when neither parses.
    /// </summary>
    public static MathNode ParseWithLastEquationFallback(string text, Deadline deadline, int maxNumberDigits)
    {
        try
        {
            return Parse(text, deadline, maxNumberDigits);
        }
        catch (MathParseException e) when (e is not NumberTooLargeException)
        {
            if (text.Contains(',') || text.Contains(';')) throw;
            var parts = EquationSplitRegex().Split(text);
            if (parts.Length <= 2) throw;
            return Parse(parts[^1], deadline, maxNumberDigits);
        }
    }

    /// <summary>A number from "123", "-4.5", "1e5", "2.5E-3"; floats are those with a point or an exponent.</summary>
    internal static NumberNode NumberOf(string text, int maxNumberDigits) =>
        NumberOf(text, maxNumberDigits, Deadline.None);

    internal static NumberNode NumberOf(string text, int maxNumberDigits, Deadline deadline)
    {
        var e = text.IndexOfAny(['e', 'E']);
        var mantissa = e < 0 ? text : text[..e];
        var digits = mantissa.Count(char.IsAsciiDigit);
        if (digits > maxNumberDigits)
            throw new NumberTooLargeException(
                $"a number has {digits} digits, over the cap of {maxNumberDigits} (MaxNumberDigits)");
        if (e >= 0 && (text.Length - e - 1 > 9
                       || Math.Abs(int.Parse(text[(e + 1)..], CultureInfo.InvariantCulture)) > maxNumberDigits))
            throw new NumberTooLargeException(
                $"the exponent of {text} is over the cap of {maxNumberDigits} (MaxNumberDigits)");
        var isFloat = mantissa.Contains('.') || e >= 0;
        var value = BigRational.Parse(text, deadline);
        if (isFloat) return new(value, true);
        var negative = mantissa.StartsWith('-');
        var magnitude = mantissa.TrimStart('-', '+').TrimStart('0');
        return new(value, false, magnitude.Length == 0 ? "0" : negative ? "-" + magnitude : magnitude);
    }

    [GeneratedRegex(@"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")]
    private static partial Regex ThousandsRegex();

    [GeneratedRegex(@"(?<![\\<!>])=")]
    private static partial Regex EquationSplitRegex();

    static readonly HashSet<string> Functions =
    [
        "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "arccot", "arcsec", "arccsc",
        "sinh", "cosh", "tanh", "coth", "ln", "log", "lg", "exp",
    ];

    static readonly HashSet<string> MultiArgumentFunctions = ["max", "min", "gcd", "lcm"];

    static readonly HashSet<string> Greek =
    [
        "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa",
        "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
        "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega", "ell",
    ];

    static readonly HashSet<string> Accents =
    [
        "vec", "overrightarrow", "overline", "bar", "hat", "tilde", "widehat", "widetilde", "dot", "ddot",
        "boldsymbol", "bm", "mathcal", "mathscr", "mathfrak", "underline",
    ];

    static readonly HashSet<string> MatrixEnvironments =
        ["pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "matrix", "smallmatrix", "array"];

    sealed class Parser(string text, Deadline deadline, int maxNumberDigits, bool plain, int depth = 0)
    {
        readonly string _s = text;
        int _pos;
        int _depth = depth;
        int _absDepth;

        public MathNode ParseTop()
        {
            var items = ParseSequence();
            SkipSpaces();
            if (_pos < _s.Length) throw Error($"unexpected '{_s[_pos]}'");
            var result = items.Count == 1 ? items[0] : new SetNode(items);
            deadline.Check();
            if (result.Depth() > MaxTreeDepth)
                throw new MathParseException($"expression nested more than {MaxTreeDepth} deep");
            return result;
        }

        MathParseException Error(string message) =>
            new($"{message} at position {_pos} in \"{(_s.Length <= 200 ? _s : _s[..197] + "...")}\"");

        void SkipSpaces()
        {
            while (_pos < _s.Length && char.IsWhiteSpace(_s[_pos])) _pos++;
        }

        char Peek()
        {
            SkipSpaces();
            return _pos < _s.Length ? _s[_pos] : '\0';
        }

        bool TryConsume(char c)
        {
            if (Peek() != c) return false;
            _pos++;
            return true;
        }

        bool TryConsume(string literal)
        {
            SkipSpaces();
            if (string.CompareOrdinal(_s, _pos, literal, 0, literal.Length) != 0) return false;
            _pos += literal.Length;
            return true;
        }

        void Expect(char c)
        {
            if (!TryConsume(c)) throw Error($"expected '{c}'");
        }

        /// <summary>The command name at the cursor ("frac" for \frac, "{" for \{), without consuming it.</summary>
        string? PeekCommand()
        {
            SkipSpaces();
            if (_pos >= _s.Length || _s[_pos] != '\\' || _pos + 1 >= _s.Length) return null;
            var end = _pos + 1;
            if (!char.IsLetter(_s[end])) return _s[end].ToString();
            while (end < _s.Length && char.IsLetter(_s[end])) end++;
            return _s[(_pos + 1)..end];
        }

        bool TryCommand(params string[] names)
        {
            var command = PeekCommand();
            if (command == null || !names.Contains(command)) return false;
            _pos += command.Length + 1;
            return true;
        }

        string ReadCommand()
        {
            var command = PeekCommand() ?? throw Error("expected a command");
            _pos += command.Length + 1;
            return command;
        }

        void Enter()
        {
            deadline.Check();
            if (++_depth > MaxNesting) throw Error("expression nested too deeply");
        }

        List<MathNode> ParseSequence()
        {
            var items = new List<MathNode> { ParseRelation() };
            while (TryConsume(',') || TryConsume(';')) items.Add(ParseRelation());
            return items;
        }

        enum Op { Eq, Ne, Lt, Le, Gt, Ge, Approx, In }

        Op? TryRelation()
        {
            if (TryConsume("<=") || TryConsume('≤')) return Op.Le;
            if (TryConsume(">=") || TryConsume('≥')) return Op.Ge;
            if (TryConsume("!=") || TryConsume('≠')) return Op.Ne;
            if (TryConsume('≈')) return Op.Approx;
            if (TryConsume('=')) return Op.Eq;
            if (TryConsume('<')) return Op.Lt;
            if (TryConsume('>')) return Op.Gt;
            if (TryCommand("le", "leq", "leqslant")) return Op.Le;
            if (TryCommand("ge", "geq", "geqslant")) return Op.Ge;
            if (TryCommand("ne", "neq")) return Op.Ne;
            if (TryCommand("lt")) return Op.Lt;
            if (TryCommand("gt")) return Op.Gt;
            if (TryCommand("approx", "simeq", "sim")) return Op.Approx;
            if (TryCommand("equiv")) return Op.Eq;
            if (TryCommand("in")) return Op.In;
            return null;
        }

        MathNode ParseRelation()
        {
            var operands = new List<MathNode> { ParseUnion() };
            var ops = new List<Op>();
            while (TryRelation() is { } op)
            {
                ops.Add(op);
                operands.Add(ParseUnion());
            }
            // "A ≈ B": an approximation of a named quantity reads as A = B; otherwise the exact A is the answer.
            for (var i = 0; i < ops.Count; i++)
            {
                if (ops[i] != Op.Approx) continue;
                if (IsSymbolic(operands[i])) ops[i] = Op.Eq;
                else
                {
                    operands.RemoveAt(i + 1);
                    ops.RemoveAt(i);
                    i--;
                }
            }
            // "x \in S" is the set S.
            if (ops.Count == 1 && ops[0] == Op.In)
                return IsSymbolic(operands[0]) ? operands[1] : throw Error("unsupported use of \\in");
            if (ops.Contains(Op.In)) throw Error("unsupported use of \\in");
            if (ops.Count == 0) return operands[0];
            var relations = new List<RelationNode>();
            for (var i = 0; i < ops.Count; i++)
                relations.Add(new RelationNode(KindOf(ops[i]), operands[i], operands[i + 1]));
            return relations.Count == 1 ? relations[0] : new RelationChainNode(relations);
        }

        static RelationKind KindOf(Op op) => op switch
        {
            Op.Eq => RelationKind.Equal,
            Op.Ne => RelationKind.NotEqual,
            Op.Lt => RelationKind.Less,
            Op.Le => RelationKind.LessOrEqual,
            Op.Gt => RelationKind.Greater,
            _ => RelationKind.GreaterOrEqual,
        };

        static bool IsSymbolic(MathNode node) => !node.ContainsNumberLiteral() && node is not ConstantNode;

        MathNode ParseUnion()
        {
            var parts = new List<MathNode> { ParseAdditive() };
            while (TryCommand("cup")) parts.Add(ParseAdditive());
            if (PeekCommand() is "cap" or "setminus") throw Error("set intersection and difference are not supported");
            if (parts.Count == 1) return parts[0];
            return new UnionNode(parts.Select(p => p is TupleNode { CouldBeOpenInterval: true } t
                ? new IntervalNode(t.Items[0], t.Items[1], true, true) : p).ToList());
        }

        MathNode ParseAdditive()
        {
            Enter();
            var terms = new List<MathNode> { ParseTerm() };
            while (true)
            {
                if (TryConsume('+')) terms.Add(ParseTerm());
                else if (TryConsume('-') || TryConsume('−')) terms.Add(new NegNode(ParseTerm()));
                else if (PeekCommand() is "pm" or "mp" || Peek() == '±') throw Error("\\pm is not supported");
                else break;
            }
            _depth--;
            return terms.Count == 1 ? terms[0] : new AddNode(terms);
        }

        MathNode ParseTerm()
        {
            var factors = new List<MathNode> { ParseUnary() };
            MathNode Collapse() => factors.Count == 1 ? factors[0] : new MulNode(factors.ToList());
            while (true)
            {
                if (TryConsume('*') || TryConsume('×') || TryConsume('·') || TryCommand("cdot", "times", "ast"))
                    factors.Add(ParseUnary());
                else if (TryConsume('/') || TryConsume('÷') || TryConsume(':') || TryCommand("div"))
                {
                    var quotient = new DivNode(Collapse(), ParseUnary());
                    factors = [quotient];
                }
                else if (StartsImplicitFactor()) factors.Add(ParsePower());
                else break;
            }
            return Collapse();
        }

        static readonly HashSet<string> NonFactorCommands =
        [
            "cdot", "times", "div", "ast", "le", "leq", "leqslant", "ge", "geq", "geqslant", "ne", "neq", "lt", "gt",
            "approx", "simeq", "sim", "equiv", "in", "cup", "cap", "setminus", "pm", "mp", "right", "end", "\\", "}",
            "rfloor", "rceil", "rangle", "%", "|",
        ];

        bool StartsImplicitFactor()
        {
            var c = Peek();
            if (c == '\0') return false;
            if (char.IsAsciiDigit(c) || char.IsLetter(c) || c == '(' || c == '{' || c == 'π' || c == '∞'
                || c == '√') return true;
            if (c == '.' && _pos + 1 < _s.Length && char.IsAsciiDigit(_s[_pos + 1])) return true;
            if (c == '|') return _absDepth == 0;
            if (c == '\\') return PeekCommand() is { } command && !NonFactorCommands.Contains(command);
            return false;
        }

        MathNode ParseUnary()
        {
            Enter();
            try
            {
                if (TryConsume('-') || TryConsume('−')) return new NegNode(ParseUnary());
                if (TryConsume('+')) return ParseUnary();
                return ParsePower();
            }
            finally
            {
                _depth--;
            }
        }

        MathNode ParsePower()
        {
            var node = ParsePostfix();
            while (TryConsume('^') || TryConsume("**"))
            {
                node = new PowNode(node, ParseScript());
                node = ParsePostfixOperators(node);
            }
            return node;
        }

        /// <summary>An exponent: {…}, a number (2^10 is 2^{10}, as latex2sympy reads it), a single letter, a
        /// command, (…), or a signed one of those.</summary>
        MathNode ParseScript()
        {
            Enter();
            try
            {
                var c = Peek();
                if (c == '{') return ParseBraced();
                if (c is '-' or '−') { _pos++; return new NegNode(ParseScript()); }
                if (c == '+') { _pos++; return ParseScript(); }
                if (c == '(') return ParsePrimary();
                if (char.IsAsciiDigit(c) || c == '.') return ParseNumber();
                if (char.IsLetter(c) && !plain) { _pos++; return LetterNode(c); }
                if (char.IsLetter(c) || c == '\\') return ParsePrimary();
                throw Error("expected an exponent");
            }
            finally
            {
                _depth--;
            }
        }

        MathNode ParsePostfix() => ParsePostfixOperators(ParsePrimary());

        MathNode ParsePostfixOperators(MathNode node)
        {
            while (true)
            {
                var c = Peek();
                if (c == '!' && !(_pos + 1 < _s.Length && _s[_pos + 1] == '='))
                {
                    _pos++;
                    node = new FuncNode("factorial", [node]);
                }
                else if (c == '_')
                {
                    _pos++;
                    var subscript = ReadRawScript();
                    node = node switch
                    {
                        SymbolNode symbol => new SymbolNode($"{symbol.Name}_{subscript}", symbol.IsText),
                        NumberNode { IsFloat: false } number => new SymbolNode($"{number}_{subscript}"),
                        _ => throw Error("unsupported subscript"),
                    };
                }
                else if (c == '%' || PeekCommand() == "%")
                {
                    _pos += c == '%' ? 1 : 2;
                    node = new PercentNode(node);
                }
                else if (c == '\'') { _pos++; }
                else return node;
            }
        }

        /// <summary>A subscript as text: {…} verbatim without spaces, or a single character.</summary>
        string ReadRawScript()
        {
            var c = Peek();
            if (c == '{') return ReadBracedRaw().Replace(" ", "");
            if (c == '\\') return ReadCommand();
            if (c == '\0') throw Error("expected a subscript");
            _pos++;
            return c.ToString();
        }

        string ReadBracedRaw()
        {
            Expect('{');
            var start = _pos;
            var depth = 1;
            while (_pos < _s.Length)
            {
                var c = _s[_pos];
                if (c == '\\' && _pos + 1 < _s.Length) { _pos += 2; continue; }
                if (c == '{') depth++;
                else if (c == '}' && --depth == 0) break;
                _pos++;
            }
            if (_pos >= _s.Length) throw Error("unclosed '{'");
            var content = _s[start.._pos];
            _pos++;
            return content;
        }

        MathNode ParseBraced()
        {
            Expect('{');
            if (TryConsume('}')) throw Error("empty group");
            var items = ParseSequence();
            Expect('}');
            return items.Count == 1 ? items[0] : new SetNode(items);
        }

        /// <summary>A macro argument: {…}, or one digit, one letter or one command (as in \frac13, \sqrt3,
        /// \frac\pi2).</summary>
        MathNode ParseMacroArgument()
        {
            var c = Peek();
            if (c == '{') return ParseBraced();
            if (char.IsAsciiDigit(c)) { _pos++; return MathParser.NumberOf(c.ToString(), maxNumberDigits); }
            if (char.IsLetter(c)) { _pos++; return LetterNode(c); }
            if (c == '\\') return ParsePrimary();
            throw Error("expected an argument");
        }

        static MathNode LetterNode(char c) => c == 'e' ? new ConstantNode(MathConstant.E)
            : new SymbolNode(c.ToString());

        MathNode ParsePrimary()
        {
            Enter();
            try
            {
                var c = Peek();
                if (c == '\0') throw Error("unexpected end");
                if (char.IsAsciiDigit(c)
                    || (c == '.' && _pos + 1 < _s.Length && char.IsAsciiDigit(_s[_pos + 1]))) return ParseNumber();
                if (char.IsLetter(c) && c < 128) return ParseLetters();
                switch (c)
                {
                    case '(': case '[': return ParseBracketed();
                    case '{': return ParseBraced();
                    case '|': return ParseAbs();
                    case 'π': _pos++; return new ConstantNode(MathConstant.Pi);
                    case '∞': _pos++; return new ConstantNode(MathConstant.Infinity);
                    case '√': _pos++; return new FuncNode("sqrt", [ParsePostfix()]);
                    case '\\': return ParseCommand();
                }
                throw Error($"unexpected '{c}'");
            }
            finally
            {
                _depth--;
            }
        }

        /// <summary>123, 4.5, .5, and scientific 1e5 (an e directly between digits is an exponent, not Euler's number:
        /// 1e5 is 100000 as in Python and math-verify's plain expressions; plain mode also reads 2.5E-3).</summary>
        MathNode ParseNumber()
        {
            var start = _pos;
            while (_pos < _s.Length && char.IsAsciiDigit(_s[_pos])) _pos++;
            if (_pos + 1 < _s.Length && _s[_pos] == '.' && char.IsAsciiDigit(_s[_pos + 1]))
            {
                _pos++;
                while (_pos < _s.Length && char.IsAsciiDigit(_s[_pos])) _pos++;
            }
            if (_pos < _s.Length && _s[_pos] is 'e' or 'E')
            {
                var end = _pos + 1;
                if (plain && end < _s.Length && _s[end] is '+' or '-') end++; // LaTeX 2e-3 is 2e − 3
                if (end < _s.Length && char.IsAsciiDigit(_s[end]))
                {
                    while (end < _s.Length && char.IsAsciiDigit(_s[end])) end++;
                    if (end >= _s.Length || !char.IsLetter(_s[end])) _pos = end;
                }
            }
            return MathParser.NumberOf(_s[start.._pos], maxNumberDigits, deadline);
        }

        MathNode ParseLetters()
        {
            // Plain function names written without a backslash: sin(x), sqrt(2), log(8).
            var end = _pos;
            while (end < _s.Length && char.IsLetter(_s[end])) end++;
            var word = _s[_pos..end];
            if ((Functions.Contains(word) || word is "sqrt" or "abs") && end < _s.Length && _s[end] == '(')
            {
                _pos = end;
                var argument = ParseBracketed();
                return word switch { "sqrt" => new FuncNode("sqrt", [argument]), "abs" => new FuncNode("abs", [argument]), _ => new FuncNode(word, [argument]) };
            }
            var letter = _s[_pos++];
            // f(x), g(t), h(2): undefined functions (other letters before '(' multiply).
            if (letter is 'f' or 'g' or 'h' && _pos < _s.Length && _s[_pos] == '(')
            {
                _pos++;
                var args = ParseSequence();
                Expect(')');
                return new FuncNode(letter.ToString(), args, isUndefined: true);
            }
            return LetterNode(letter);
        }

        MathNode ParseBracketed()
        {
            var open = _s[_pos++];
            if (Peek() is ')' or ']') throw Error("empty brackets");
            var items = ParseSequence();
            var close = Peek();
            if (close is not (')' or ']')) throw Error($"expected a closing bracket for '{open}'");
            _pos++;
            if (items.Count == 1)
            {
                if ((open == '(') != (close == ')')) throw Error("mismatched brackets");
                return items[0];
            }
            if (items.Count == 2 && !(open == '(' && close == ')'))
                return new IntervalNode(items[0], items[1], open == '(', close == ')');
            if (open == '(' && close == ')') return new TupleNode(items, items.Count == 2);
            throw Error("a bracketed list with more than two items must use ( )");
        }

        MathNode ParseAbs()
        {
            _pos++;
            _absDepth++;
            var inner = ParseUnion();
            _absDepth--;
            Expect('|');
            return new FuncNode("abs", [inner]);
        }

        MathNode ParseCommand()
        {
            var name = ReadCommand();
            switch (name)
            {
                case "frac":
                case "dfrac":
                case "tfrac":
                case "cfrac":
                    return new DivNode(ParseMacroArgument(), ParseMacroArgument());
                case "sqrt":
                    if (TryConsume('['))
                    {
                        var index = ParseAdditive();
                        Expect(']');
                        return new FuncNode("root", [ParseMacroArgument(), index]);
                    }
                    return new FuncNode("sqrt", [ParseMacroArgument()]);
                case "binom":
                case "dbinom":
                case "tbinom":
                    return new FuncNode("binom", [ParseMacroArgument(), ParseMacroArgument()]);
                case "pi": return new ConstantNode(MathConstant.Pi);
                case "infty": case "infin": return new ConstantNode(MathConstant.Infinity);
                case "emptyset": case "varnothing": return new SetNode([]);
                case "mathbb":
                    var set = ReadBracedRaw().Trim();
                    return set == "R" ? new IntervalNode(new NegNode(new ConstantNode(MathConstant.Infinity)),
                        new ConstantNode(MathConstant.Infinity), true, true)
                        : new SymbolNode("mathbb" + set);
                case "text":
                case "operatorname":
                case "textrm":
                    return ParseText(name);
                case "{":
                    if (TryCommand("}")) return new SetNode([]);
                    var elements = ParseSequence();
                    if (!TryCommand("}")) throw Error("expected \\}");
                    return new SetNode(elements);
                case "|":
                    _absDepth++;
                    var normed = ParseUnion();
                    _absDepth--;
                    if (!TryCommand("|")) throw Error("expected \\|");
                    return new FuncNode("abs", [normed]);
                case "lfloor":
                case "lceil":
                    var inner = ParseUnion();
                    if (!TryCommand(name == "lfloor" ? "rfloor" : "rceil")) throw Error($"unclosed \\{name}");
                    return new FuncNode(name == "lfloor" ? "floor" : "ceil", [inner]);
                case "langle":
                    var items = ParseSequence();
                    if (!TryCommand("rangle")) throw Error("unclosed \\langle");
                    return new TupleNode(items, false);
                case "begin":
                    return ParseEnvironment();
                case "left":
                case "right":
                case "big":
                case "Big":
                case "bigl":
                case "bigr":
                case "Bigl":
                case "Bigr":
                    return ParsePrimary();
            }
            if (Functions.Contains(name)) return ParseFunction(name);
            if (MultiArgumentFunctions.Contains(name))
            {
                Expect('(');
                var args = ParseSequence();
                Expect(')');
                return new FuncNode(name, args);
            }
            if (Greek.Contains(name)) return new SymbolNode(name);
            if (Accents.Contains(name))
            {
                var argument = ParseMacroArgument();
                return argument is SymbolNode symbol ? new SymbolNode(symbol.Name) : argument;
            }
            throw Error($"unknown command \\{name}");
        }

        MathNode ParseText(string command)
        {
            var raw = ReadBracedRaw();
            var trimmed = raw.Trim();
            if (trimmed.Length == 0) throw Error("empty \\text");
            if (command == "operatorname" && Functions.Contains(trimmed)) return ParseFunction(trimmed);
            if (trimmed.All(c => char.IsLetterOrDigit(c) || c == ' '))
                return new SymbolNode(trimmed.Replace(" ", ""), isText: true);
            // \text{…} holding math is parsed by a parser that continues this one's nesting count.
            return new Parser(trimmed, deadline, maxNumberDigits, plain, _depth + 1).ParseTop();
        }

        MathNode ParseFunction(string name)
        {
            MathNode? power = null;
            MathNode? logBase = null;
            for (var i = 0; i < 2; i++)
            {
                if (TryConsume('^')) power = ParseScript();
                else if (name == "log" && TryConsume('_')) logBase = ParseMacroArgument();
            }
            if (power is NegNode { Operand: NumberNode { Value.IsInteger: true } one } && one.Value == BigRational.One
                && name is "sin" or "cos" or "tan")
            {
                name = "arc" + name;
                power = null;
            }
            MathNode argument = Peek() == '(' ? ParseBracketed() : ParsePower();
            MathNode result = logBase == null ? new FuncNode(name, [argument])
                : new FuncNode("log", [argument, logBase]);
            return power == null ? result : new PowNode(result, power);
        }

        MathNode ParseEnvironment()
        {
            var environment = ReadBracedRaw().Trim();
            if (!MatrixEnvironments.Contains(environment)) throw Error($"unsupported environment {environment}");
            if (environment == "array" && Peek() == '{') ReadBracedRaw();
            var rows = new List<IReadOnlyList<MathNode>>();
            var row = new List<MathNode>();
            while (true)
            {
                if (TryCommand("end"))
                {
                    var closing = ReadBracedRaw().Trim();
                    if (closing != environment) throw Error($"\\begin{{{environment}}} closed by \\end{{{closing}}}");
                    if (row.Count > 0) rows.Add(row);
                    break;
                }
                if (TryConsume(@"\\"))
                {
                    if (row.Count > 0) rows.Add(row);
                    row = [];
                    continue;
                }
                if (TryCommand("hline")) continue;
                row.Add(ParseUnion());
                TryConsume('&');
            }
            if (rows.Count == 0 || rows.Any(r => r.Count != rows[0].Count)) throw Error("ragged or empty matrix");
            return new MatrixNode(rows);
        }
    }
}
