namespace ReasonSharp.Templates;

/// <summary>Builds statement and expression nodes from tokens with Jinja2's grammar, its loopcontrols extension and
/// transformers' generation tag.</summary>
internal sealed class Parser
{
    static readonly HashSet<string> CompareOperators = ["==", "!=", "<", "<=", ">", ">="];

    readonly List<Token> tokens;
    readonly string templateName;
    readonly Stack<string[]> endTokens = new();
    readonly Stack<string> tagStack = new();
    int index;
    int loopDepth;
    /// <summary>Inside an if or a conditional expression an unknown filter or test fails only if it runs.</summary>
    bool soft;
    readonly List<(Token Token, string Kind, bool Soft)> unknown = [];

    Parser(List<Token> tokens, string templateName)
    {
        this.tokens = tokens;
        this.templateName = templateName;
    }

    public static Stmt[] Parse(string source, string templateName)
    {
        var parser = new Parser(Lexer.Tokenize(source, templateName), templateName);
        var body = parser.Subparse(null);
        foreach (var (token, kind, isSoft) in parser.unknown)
            if (!isSoft) throw parser.Error($"No {kind} named '{token.Text}'.", token);
        return body;
    }

    Token Current => tokens[index];
    Token Peek => tokens[Math.Min(index + 1, tokens.Count - 1)];
    Token Next() => tokens[index < tokens.Count - 1 ? index++ : index];

    TemplateException Error(string message, Token at) =>
        new(TemplateErrorKind.Syntax, templateName, at.Line, at.Column, message);

    static string Describe(Token token) => token.Type switch
    {
        TokenType.Eof => "end of template",
        TokenType.Name => token.Text,
        TokenType.BlockEnd => "end of statement block",
        TokenType.VariableEnd => "end of print statement",
        TokenType.BlockBegin => "begin of statement block",
        TokenType.VariableBegin => "begin of print statement",
        TokenType.String => "string",
        TokenType.Integer => "integer",
        TokenType.Float => "float",
        TokenType.Data => "template data / text",
        _ => token.Text,
    };

    Token Expect(TokenType type, string what)
    {
        if (Current.Type != type)
        {
            if (Current.Type == TokenType.Eof) throw Error($"unexpected end of template, expected '{what}'.", Current);
            throw Error($"expected token '{what}', got '{Describe(Current)}'", Current);
        }
        return Next();
    }

    Token ExpectName(string name)
    {
        if (!Current.IsName(name))
        {
            if (Current.Type == TokenType.Eof) throw Error($"unexpected end of template, expected '{name}'.", Current);
            throw Error($"expected token '{name}', got '{Describe(Current)}'", Current);
        }
        return Next();
    }

    bool SkipIf(TokenType type)
    {
        if (Current.Type != type) return false;
        Next();
        return true;
    }

    bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        Next();
        return true;
    }

    // ---- statements ----

    Stmt[] Subparse(string[]? ends)
    {
        var body = new List<Stmt>();
        var data = new List<object>();
        Token? dataStart = null;
        if (ends is not null) endTokens.Push(ends);
        try
        {
            while (Current.Type != TokenType.Eof)
            {
                var token = Current;
                if (token.Type == TokenType.Data)
                {
                    dataStart ??= token;
                    data.Add((string)token.Value!);
                    Next();
                }
                else if (token.Type == TokenType.VariableBegin)
                {
                    dataStart ??= token;
                    Next();
                    data.Add(ParseTuple(withCondExpr: true));
                    Expect(TokenType.VariableEnd, "end of print statement");
                }
                else if (token.Type == TokenType.BlockBegin)
                {
                    Flush();
                    Next();
                    if (ends is not null && Current.Type == TokenType.Name && ends.Contains(Current.Text))
                        return [.. body];
                    body.Add(ParseStatement());
                    Expect(TokenType.BlockEnd, "end of statement block");
                }
                else throw Error($"unexpected '{Describe(token)}'", token);
            }
            Flush();
            return [.. body];
        }
        finally
        {
            if (ends is not null) endTokens.Pop();
        }

        void Flush()
        {
            if (data.Count == 0) return;
            body.Add(new OutputStmt([.. data], dataStart!.Value.Line, dataStart.Value.Column));
            data.Clear();
            dataStart = null;
        }
    }

    /// <summary>Statements up to one of <paramref name="ends"/>; the end tag's name is left current (or
    /// skipped).</summary>
    Stmt[] ParseStatements(string[] ends, bool dropNeedle = false)
    {
        SkipIf(TokenType.Colon);
        Expect(TokenType.BlockEnd, "end of statement block");
        var result = Subparse(ends);
        if (Current.Type == TokenType.Eof) throw EndOfTemplate(ends);
        if (dropNeedle) Next();
        return result;
    }

    TemplateException EndOfTemplate(string[]? ends)
    {
        var looking = ends ?? (endTokens.Count > 0 ? endTokens.Peek() : null);
        var message = "Unexpected end of template.";
        if (looking is not null) message += $" Jinja was looking for the following tags: "
            + $"{string.Join(" or ", looking.Select(e => $"'{e}'"))}.";
        if (tagStack.Count > 0) message += $" The innermost block that needs to be closed is '{tagStack.Peek()}'.";
        return Error(message, Current);
    }

    Stmt ParseStatement()
    {
        var token = Current;
        if (token.Type != TokenType.Name) throw Error("tag name expected", token);
        tagStack.Push(token.Text);
        try
        {
            switch (token.Text)
            {
                case "for": return ParseFor();
                case "if": return ParseIf();
                case "set": return ParseSet();
                case "macro": return ParseMacro();
                case "call": return ParseCallBlock();
                case "filter": return ParseFilterBlock();
                case "with": return ParseWith();
                case "print": return ParsePrint();
                case "generation":
                    Next();
                    return new GenerationStmt(Hard(() => ParseStatements(["endgeneration"], dropNeedle: true)),
                        token.Line, token.Column);
                case "break" or "continue":
                    if (loopDepth == 0) throw Error($"'{token.Text}' is only allowed inside a for loop", token);
                    Next();
                    return new LoopControlStmt(token.Text == "break" ? Flow.Break : Flow.Continue, token.Line,
                        token.Column);
                case "block" or "extends" or "include" or "import" or "from" or "autoescape":
                    throw Error($"tag '{token.Text}' is not supported in chat templates (they cannot load or extend "
                        + $"other templates)", token);
            }
            tagStack.Pop();
            var message = $"Encountered unknown tag '{token.Text}'.";
            if (endTokens.Count > 0)
            {
                var looking = string.Join(" or ", endTokens.Peek().Select(e => $"'{e}'"));
                message += endTokens.Any(e => e.Contains(token.Text))
                    ? $" You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for "
                        + $"{looking}."
                    : $" Jinja was looking for the following tags: {looking}.";
            }
            if (tagStack.Count > 0) message += $" The innermost block that needs to be closed is '{tagStack.Peek()}'.";
            tagStack.Push(token.Text);
            throw Error(message, token);
        }
        finally { tagStack.Pop(); }
    }

    /// <summary>Parses a body that starts a new frame (loop, macro …): filters there are checked, not soft.</summary>
    T Hard<T>(Func<T> parse)
    {
        var saved = soft;
        soft = false;
        try { return parse(); }
        finally { soft = saved; }
    }

    T Soft<T>(Func<T> parse)
    {
        var saved = soft;
        soft = true;
        try { return parse(); }
        finally { soft = saved; }
    }

    Stmt ParseFor()
    {
        var start = ExpectName("for");
        var target = ParseAssignTarget(extraEnd: "in");
        ExpectName("in");
        var iterable = ParseTuple(withCondExpr: false, extraEnd: "recursive");
        Expr? filter = null;
        if (SkipName("if")) filter = Hard(() => ParseExpression());
        var recursive = SkipName("recursive");
        loopDepth++;
        Stmt[] body;
        try { body = Hard(() => ParseStatements(["endfor", "else"])); }
        finally { loopDepth--; }
        Stmt[] otherwise = [];
        if (Next().Text != "endfor") otherwise = Hard(() => ParseStatements(["endfor"], dropNeedle: true));
        return new ForStmt(target, iterable, body, otherwise, filter, recursive, start.Line, start.Column);
    }

    Stmt ParseIf()
    {
        var start = ExpectName("if");
        return Soft(() =>
        {
            var branches = new List<(Expr, Stmt[])>();
            Stmt[] otherwise = [];
            while (true)
            {
                var test = ParseTuple(withCondExpr: false);
                var body = ParseStatements(["elif", "else", "endif"]);
                branches.Add((test, body));
                var token = Next();
                if (token.Text == "elif") continue;
                if (token.Text == "else") otherwise = ParseStatements(["endif"], dropNeedle: true);
                break;
            }
            return (Stmt)new IfStmt([.. branches], otherwise, start.Line, start.Column);
        });
    }

    Stmt ParseSet()
    {
        var start = Next();
        var target = ParseAssignTarget(withNamespace: true);
        if (SkipIf(TokenType.Assign)) return new SetStmt(target, ParseTuple(), start.Line, start.Column);
        var filter = ParseFilter(null) as FilterExpr;
        var body = Hard(() => ParseStatements(["endset"], dropNeedle: true));
        return new SetBlockStmt(target, filter, body, start.Line, start.Column);
    }

    (string[] Names, Expr?[] Defaults) ParseSignature()
    {
        Expect(TokenType.LParen, "(");
        var names = new List<string>();
        var defaults = new List<Expr?>();
        while (Current.Type != TokenType.RParen)
        {
            if (names.Count > 0) Expect(TokenType.Comma, ",");
            var name = Expect(TokenType.Name, "name");
            CheckAssignable(name);
            names.Add(name.Text);
            if (SkipIf(TokenType.Assign)) defaults.Add(ParseExpression());
            else if (defaults.Any(d => d is not null)) throw Error("non-default argument follows default argument",
                name);
            else defaults.Add(null);
        }
        Expect(TokenType.RParen, ")");
        return ([.. names], [.. defaults]);
    }

    Stmt ParseMacro()
    {
        var start = Next();
        var name = Expect(TokenType.Name, "name");
        CheckAssignable(name);
        var (names, defaults) = ParseSignature();
        var saved = loopDepth;
        loopDepth = 0;
        try
        {
            var body = Hard(() => ParseStatements(["endmacro"], dropNeedle: true));
            return new MacroStmt(name.Text, names, defaults, body, start.Line, start.Column);
        }
        finally { loopDepth = saved; }
    }

    Stmt ParseCallBlock()
    {
        var start = Next();
        var (names, defaults) = Current.Type == TokenType.LParen ? ParseSignature() : ([], []);
        if (ParseExpression() is not CallExpr call) throw Error("expected call", start);
        var saved = loopDepth;
        loopDepth = 0;
        try
        {
            var body = Hard(() => ParseStatements(["endcall"], dropNeedle: true));
            return new CallBlockStmt(call, names, defaults, body, start.Line, start.Column);
        }
        finally { loopDepth = saved; }
    }

    Stmt ParseFilterBlock()
    {
        var start = Next();
        var filter = (FilterExpr)ParseFilter(null, startInline: true)!;
        var body = Hard(() => ParseStatements(["endfilter"], dropNeedle: true));
        return new FilterBlockStmt(filter, body, start.Line, start.Column);
    }

    Stmt ParseWith()
    {
        var start = Next();
        var assignments = new List<(Target, Expr)>();
        while (Current.Type != TokenType.BlockEnd)
        {
            if (assignments.Count > 0) Expect(TokenType.Comma, ",");
            var target = ParseAssignTarget();
            Expect(TokenType.Assign, "=");
            assignments.Add((target, ParseExpression()));
        }
        var body = Hard(() => ParseStatements(["endwith"], dropNeedle: true));
        return new WithStmt([.. assignments], body, start.Line, start.Column);
    }

    Stmt ParsePrint()
    {
        var start = Next();
        var parts = new List<object>();
        while (Current.Type != TokenType.BlockEnd)
        {
            if (parts.Count > 0) Expect(TokenType.Comma, ",");
            parts.Add(ParseExpression());
        }
        return new OutputStmt([.. parts], start.Line, start.Column);
    }

    void CheckAssignable(Token name)
    {
        if (name.Text is "true" or "false" or "none" or "True" or "False" or "None")
            throw Error("can't assign to 'const'", name);
    }

    Target ParseAssignTarget(string? extraEnd = null, bool withNamespace = false)
    {
        if (withNamespace && Current.Type == TokenType.Name && Peek.Type == TokenType.Dot)
        {
            var ns = Next();
            Next();
            var attribute = Expect(TokenType.Name, "name");
            return new NamespaceTarget(ns.Text, attribute.Text);
        }
        var targets = new List<Target>();
        var isTuple = false;
        while (true)
        {
            if (targets.Count > 0) Expect(TokenType.Comma, ",");
            if (IsTupleEnd(extraEnd)) break;
            targets.Add(ParseSimpleTarget());
            if (Current.Type == TokenType.Comma) isTuple = true;
            else break;
        }
        if (!isTuple && targets.Count == 1) return targets[0];
        if (targets.Count == 0) throw Error($"Expected an expression, got '{Describe(Current)}'", Current);
        return new TupleTarget([.. targets]);
    }

    Target ParseSimpleTarget()
    {
        var token = Current;
        if (token.Type == TokenType.LParen)
        {
            Next();
            var inner = ParseAssignTarget();
            Expect(TokenType.RParen, ")");
            return inner;
        }
        if (token.Type != TokenType.Name) throw Error($"can't assign to '{Describe(token)}'", token);
        CheckAssignable(token);
        Next();
        return new NameTarget(token.Text);
    }

    bool IsTupleEnd(string? extraEnd) =>
        Current.Type is TokenType.VariableEnd or TokenType.BlockEnd or TokenType.RParen || (extraEnd is not null
            && Current.IsName(extraEnd));

    // ---- expressions ----

    Expr ParseExpression(bool withCondExpr = true) => withCondExpr ? ParseCondExpr() : ParseOr();

    Expr ParseCondExpr()
    {
        var start = Current;
        var mark = unknown.Count;
        var expr = ParseOr();
        while (SkipName("if"))
        {
            var test = Soft(() => ParseOr());
            var otherwise = SkipName("else") ? Soft(ParseCondExpr) : null;
            for (var i = mark; i < unknown.Count; i++) unknown[i] = unknown[i] with { Soft = true };
            expr = new CondExpr(test, expr, otherwise, start.Line, start.Column);
        }
        return expr;
    }

    Expr ParseOr()
    {
        var start = Current;
        var left = ParseAnd();
        while (SkipName("or")) left = new OrExpr(left, ParseAnd(), start.Line, start.Column);
        return left;
    }

    Expr ParseAnd()
    {
        var start = Current;
        var left = ParseNot();
        while (SkipName("and")) left = new AndExpr(left, ParseNot(), start.Line, start.Column);
        return left;
    }

    Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            var token = Next();
            return new NotExpr(ParseNot(), token.Line, token.Column);
        }
        return ParseCompare();
    }

    Expr ParseCompare()
    {
        var start = Current;
        var expr = ParseMath1();
        var ops = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Type is TokenType.Eq or TokenType.Ne or TokenType.Lt or TokenType.LtEq or TokenType.Gt
                or TokenType.GtEq)
            {
                var op = Next().Text;
                ops.Add((op, ParseMath1()));
            }
            else if (SkipName("in")) ops.Add(("in", ParseMath1()));
            else if (Current.IsName("not") && Peek.IsName("in"))
            {
                Next();
                Next();
                ops.Add(("not in", ParseMath1()));
            }
            else break;
        }
        return ops.Count == 0 ? expr : new CompareExpr(expr, [.. ops], start.Line, start.Column);
    }

    Expr ParseMath1()
    {
        var start = Current;
        var left = ParseConcat();
        while (Current.Type is TokenType.Add or TokenType.Sub)
        {
            var op = Next().Type == TokenType.Add ? BinaryOp.Add : BinaryOp.Sub;
            left = new BinaryExpr(op, left, ParseConcat(), start.Line, start.Column);
        }
        return left;
    }

    Expr ParseConcat()
    {
        var start = Current;
        var operands = new List<Expr> { ParseMath2() };
        while (SkipIf(TokenType.Tilde)) operands.Add(ParseMath2());
        return operands.Count == 1 ? operands[0] : new ConcatExpr([.. operands], start.Line, start.Column);
    }

    Expr ParseMath2()
    {
        var start = Current;
        var left = ParsePow();
        while (Current.Type is TokenType.Mul or TokenType.Div or TokenType.FloorDiv or TokenType.Mod)
        {
            var op = Next().Type switch
            {
                TokenType.Mul => BinaryOp.Mul,
                TokenType.Div => BinaryOp.Div,
                TokenType.FloorDiv => BinaryOp.FloorDiv,
                _ => BinaryOp.Mod,
            };
            left = new BinaryExpr(op, left, ParsePow(), start.Line, start.Column);
        }
        return left;
    }

    Expr ParsePow()
    {
        var start = Current;
        var left = ParseUnary();
        while (SkipIf(TokenType.Pow)) left = new BinaryExpr(BinaryOp.Pow, left, ParseUnary(), start.Line, start.Column);
        return left;
    }

    Expr ParseUnary(bool withFilter = true)
    {
        var token = Current;
        Expr node;
        if (token.Type == TokenType.Sub)
        {
            Next();
            node = new UnaryExpr(UnaryOp.Neg, ParseUnary(false), token.Line, token.Column);
        }
        else if (token.Type == TokenType.Add)
        {
            Next();
            node = new UnaryExpr(UnaryOp.Pos, ParseUnary(false), token.Line, token.Column);
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        if (withFilter) node = ParseFilterExpr(node);
        return node;
    }

    Expr ParsePrimary()
    {
        var token = Current;
        switch (token.Type)
        {
            case TokenType.Name:
                Next();
                return token.Text switch
                {
                    "true" or "True" => new ConstExpr(true, token.Line, token.Column),
                    "false" or "False" => new ConstExpr(false, token.Line, token.Column),
                    "none" or "None" => new ConstExpr(null, token.Line, token.Column),
                    _ => new NameExpr(token.Text, token.Line, token.Column),
                };
            case TokenType.String:
                Next();
                var text = (string)token.Value!;
                while (Current.Type == TokenType.String) text += (string)Next().Value!;
                return new ConstExpr(text, token.Line, token.Column);
            case TokenType.Integer or TokenType.Float:
                Next();
                return new ConstExpr(token.Value, token.Line, token.Column);
            case TokenType.LParen:
                Next();
                var inner = ParseTuple(explicitParentheses: true);
                Expect(TokenType.RParen, ")");
                return inner;
            case TokenType.LBracket:
                return ParseList();
            case TokenType.LBrace:
                return ParseDict();
            case TokenType.Eof:
                throw Error("unexpected end of template", token);
            default:
                throw Error($"unexpected '{Describe(token)}'", token);
        }
    }

    Expr ParseTuple(bool simplified = false, bool withCondExpr = true, string? extraEnd = null,
        bool explicitParentheses = false)
    {
        var start = Current;
        var items = new List<Expr>();
        var isTuple = false;
        while (true)
        {
            if (items.Count > 0) Expect(TokenType.Comma, ",");
            if (IsTupleEnd(extraEnd)) break;
            items.Add(simplified ? ParsePrimary() : ParseExpression(withCondExpr));
            if (Current.Type == TokenType.Comma) isTuple = true;
            else break;
        }
        if (!isTuple)
        {
            if (items.Count > 0) return items[0];
            if (!explicitParentheses)
            {
                if (Current.Type == TokenType.Eof) throw Error("unexpected end of template", Current);
                throw Error($"Expected an expression, got '{Describe(Current)}'", Current);
            }
        }
        return new TupleExpr([.. items], start.Line, start.Column);
    }

    Expr ParseList()
    {
        var start = Expect(TokenType.LBracket, "[");
        var items = new List<Expr>();
        while (Current.Type != TokenType.RBracket)
        {
            if (items.Count > 0) Expect(TokenType.Comma, ",");
            if (Current.Type == TokenType.RBracket) break;
            items.Add(ParseExpression());
        }
        Expect(TokenType.RBracket, "]");
        return new ListExpr([.. items], start.Line, start.Column);
    }

    Expr ParseDict()
    {
        var start = Expect(TokenType.LBrace, "{");
        var pairs = new List<(Expr, Expr)>();
        while (Current.Type != TokenType.RBrace)
        {
            if (pairs.Count > 0) Expect(TokenType.Comma, ",");
            if (Current.Type == TokenType.RBrace) break;
            var key = ParseExpression();
            Expect(TokenType.Colon, ":");
            pairs.Add((key, ParseExpression()));
        }
        Expect(TokenType.RBrace, "}");
        return new DictExpr([.. pairs], start.Line, start.Column);
    }

    Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            if (Current.Type is TokenType.Dot or TokenType.LBracket) node = ParseSubscript(node);
            else if (Current.Type == TokenType.LParen) node = ParseCall(node);
            else return node;
        }
    }

    Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (Current.Type == TokenType.Pipe) node = ParseFilter(node)!;
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.Type == TokenType.LParen) node = ParseCall(node);
            else return node;
        }
    }

    Expr ParseSubscript(Expr node)
    {
        var token = Next();
        if (token.Type == TokenType.Dot)
        {
            var attribute = Next();
            if (attribute.Type == TokenType.Name) return new GetAttrExpr(node, attribute.Text, node.Line, node.Column);
            if (attribute.Type != TokenType.Integer) throw Error("expected name or number", attribute);
            return new GetItemExpr(node, new ConstExpr(attribute.Value, attribute.Line, attribute.Column), node.Line,
                node.Column);
        }
        var args = new List<Expr>();
        while (Current.Type != TokenType.RBracket)
        {
            if (args.Count > 0) Expect(TokenType.Comma, ",");
            args.Add(ParseSubscribed());
        }
        Expect(TokenType.RBracket, "]");
        var key = args.Count == 1 ? args[0] : new TupleExpr([.. args], token.Line, token.Column);
        return new GetItemExpr(node, key, node.Line, node.Column);
    }

    Expr ParseSubscribed()
    {
        var start = Current;
        var parts = new List<Expr?>();
        if (Current.Type == TokenType.Colon)
        {
            Next();
            parts.Add(null);
        }
        else
        {
            var node = ParseExpression();
            if (Current.Type != TokenType.Colon) return node;
            Next();
            parts.Add(node);
        }
        if (Current.Type == TokenType.Colon) parts.Add(null);
        else if (Current.Type is not (TokenType.RBracket or TokenType.Comma)) parts.Add(ParseExpression());
        else parts.Add(null);
        if (SkipIf(TokenType.Colon))
            parts.Add(Current.Type is not (TokenType.RBracket or TokenType.Comma) ? ParseExpression() : null);
        else parts.Add(null);
        return new SliceExpr(parts[0], parts[1], parts[2], start.Line, start.Column);
    }

    CallArguments ParseCallArguments()
    {
        var open = Expect(TokenType.LParen, "(");
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        Expr? starArgs = null, starKwargs = null;
        var requireComma = false;
        while (Current.Type != TokenType.RParen)
        {
            if (requireComma)
            {
                Expect(TokenType.Comma, ",");
                if (Current.Type == TokenType.RParen) break;
            }
            if (Current.Type == TokenType.Mul)
            {
                Ensure(starArgs is null && starKwargs is null);
                Next();
                starArgs = ParseExpression();
            }
            else if (Current.Type == TokenType.Pow)
            {
                Ensure(starKwargs is null);
                Next();
                starKwargs = ParseExpression();
            }
            else if (Current.Type == TokenType.Name && Peek.Type == TokenType.Assign)
            {
                Ensure(starKwargs is null);
                var key = Next().Text;
                Next();
                named.Add((key, ParseExpression()));
            }
            else
            {
                Ensure(starArgs is null && starKwargs is null && named.Count == 0);
                positional.Add(ParseExpression());
            }
            requireComma = true;
        }
        Expect(TokenType.RParen, ")");
        return new CallArguments([.. positional], [.. named], starArgs, starKwargs);

        void Ensure(bool valid)
        {
            if (!valid) throw Error("invalid syntax for function call expression", open);
        }
    }

    Expr ParseCall(Expr node) => new CallExpr(node, ParseCallArguments(), node.Line, node.Column);

    Expr? ParseFilter(Expr? node, bool startInline = false)
    {
        while (Current.Type == TokenType.Pipe || startInline)
        {
            if (!startInline) Next();
            var token = Expect(TokenType.Name, "name");
            var name = token.Text;
            while (SkipIf(TokenType.Dot)) name += "." + Expect(TokenType.Name, "name").Text;
            var arguments = Current.Type == TokenType.LParen ? ParseCallArguments() : CallArguments.Empty;
            Filters.All.TryGetValue(name, out var filter);
            if (filter is null) unknown.Add((token with { Text = name }, "filter", soft));
            node = new FilterExpr(node, name, filter, arguments, token.Line, token.Column);
            startInline = false;
        }
        return node;
    }

    Expr ParseTest(Expr node)
    {
        var isToken = Next();
        var negated = SkipName("not");
        var nameToken = Expect(TokenType.Name, "name");
        var name = nameToken.Text;
        while (SkipIf(TokenType.Dot)) name += "." + Expect(TokenType.Name, "name").Text;
        CallArguments arguments;
        if (Current.Type == TokenType.LParen) arguments = ParseCallArguments();
        else if (Current.Type is TokenType.Name or TokenType.String or TokenType.Integer or TokenType.Float
            or TokenType.LParen
                     or TokenType.LBracket or TokenType.LBrace
                 && !(Current.IsName("else") || Current.IsName("or") || Current.IsName("and")))
        {
            if (Current.IsName("is")) throw Error("You cannot chain multiple tests with is", Current);
            var argument = ParsePostfix(ParsePrimary());
            arguments = new CallArguments([argument], [], null, null);
        }
        else arguments = CallArguments.Empty;
        Tests.All.TryGetValue(name, out var test);
        if (test is null) unknown.Add((nameToken with { Text = name }, "test", soft));
        Expr result = new TestExpr(node, name, test, arguments, isToken.Line, isToken.Column);
        return negated ? new NotExpr(result, isToken.Line, isToken.Column) : result;
    }
}
