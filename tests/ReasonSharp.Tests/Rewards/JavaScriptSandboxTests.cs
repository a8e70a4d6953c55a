using System.Diagnostics;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Builtins;
using ReasonSharp.Rewards.Sandbox;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Rewards;

/// <summary>Jint runs in this process, so no script may take it down: each repro below used to crash the test host
/// (stack overflow, exit 134) or overrun its time limit.</summary>
public class JavaScriptSandboxTests(ITestOutputHelper output)
{
    // A generous wall limit: building 200,000-deep data takes seconds when the suite loads the machine.
    static readonly SandboxLimits Limits = new()
    {
        WallTime = TimeSpan.FromSeconds(10),
        MemoryBytes = 128L * 1024 * 1024,
        MaxOutputBytes = 16 * 1024,
    };

    static string Chain(string start, string step, string use) =>
        $"var x = {start}; for (var i = 0; i < 300000; i++) x = {step};\n{use}";

    const string Deep = "var a = []; for (var i = 0; i < 200000; i++) a = [a];\n";

    public static TheoryData<string, string> Crashers => new()
    {
        { "JSON.stringify of nested arrays", Deep + "JSON.stringify(a)" },
        { "JSON.stringify with an indent", Deep + "JSON.stringify(a, null, 2)" },
        { "JSON.stringify with a replacer function", Deep + "JSON.stringify(a, function (k, v) { return v; })" },
        { "JSON.stringify with a property list", Deep + "JSON.stringify(a, ['x'])" },
        { "JSON.stringify of nested objects", Chain("{}", "{ a: x }", "JSON.stringify(x)") },
        { "String of nested arrays", Deep + "String(a)" },
        { "concatenation", Deep + "a + ''" },
        { "template literal", Deep + "`${a}`" },
        { "toLocaleString", Deep + "a.toLocaleString()" },
        { "join through call", Deep + "Array.prototype.join.call(a, '-')" },
        { "print", Deep + "print(a)" },
        { "throw a nested array", Deep + "throw a" },
        { "bound function chain", Chain("function () { return 1; }", "x.bind(null)", "x()") },
        { "proxy chain", Chain("{}", "new Proxy(x, {})", "x.y") },
        { "revocable proxy chain", Chain("{}", "Proxy.revocable(x, {}).proxy", "x.y") },
        { "proxy handler chain", Chain("{}", "new Proxy({}, x)", "new Proxy({}, x).y") },
        { "nested array literal", "var x = " + new string('[', 50000) + new string(']', 50000) + ";" },
        { "nested literal in eval", "eval('" + new string('[', 50000) + new string(']', 50000) + "')" },
        {
            "nested literal in Function", "Function('return " + new string('[', 50000) + new string(']', 50000) + "')()"
        },
        { "nested parentheses", "var x = " + new string('(', 50000) + "1" + new string(')', 50000) + ";" },
        { "deep unary chain", "var x = " + string.Concat(Enumerable.Repeat("- ", 50000)) + "1;" },
        { "JSON.parse of deep nesting", "JSON.parse('" + new string('[', 100000) + new string(']', 100000) + "')" },
    };

    [Theory]
    [MemberData(nameof(Crashers))]
    public async Task Scripts_that_recurse_natively_fail_instead_of_crashing_the_host(string name, string code)
    {
        var js = new JavaScriptSandbox(Limits);
        var watch = Stopwatch.StartNew();
        var result = await js.RunAsync(code);
        output.WriteLine($"{name}: exit {result.ExitCode} in {watch.Elapsed.TotalSeconds:0.00}s: {result.Stderr}");
        Assert.False(result.Succeeded);
        Assert.True(result.Stderr.Length > 0);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"{name} took {watch.Elapsed}");
    }

    [Fact]
    public async Task Flat_of_any_depth_is_computed_without_native_recursion()
    {
        var js = new JavaScriptSandbox(Limits);
        var result = await js.RunAsync(Deep + "print(a.flat(Infinity).length, " +
                                       "[1, [2, [3, [4, [5]]]]].flat(Infinity).join(), [[1], [[2]]].flat(2).length)");
        Assert.True(result.Succeeded, result.Stderr);
        Assert.Equal("0 1,2,3,4,5 2\n", result.Stdout);
    }

    /// <summary>A catastrophic-backtracking regex ran 10.9 s against a 5 s limit; each match now has a
    /// timeout.</summary>
    [Theory]
    [InlineData("/^(a+)+$/.test('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!')")]
    [InlineData("var s = ('a'.repeat(28) + '!').repeat(8); s.replace(/(a+)+b/g, 'x').length")]
    [InlineData("var n = 0; for (var i = 0; i < 100; i++) { if (/^(a+)+$/.test('a'.repeat(22) + '!')) n++; } print(n)")]
    public async Task Regular_expressions_cannot_overrun_the_time_limit(string code)
    {
        var limits = Limits with { WallTime = TimeSpan.FromSeconds(2) };
        var js = new JavaScriptSandbox(limits);
        var watch = Stopwatch.StartNew();
        var result = await js.RunAsync(code);
        output.WriteLine($"exit {result.ExitCode} in {watch.Elapsed.TotalSeconds:0.00}s: {result.Stderr}");
        Assert.True(result.TimedOut, result.Stderr);
        var bound = limits.WallTime + js.RegexTimeout + TimeSpan.FromSeconds(5);
        Assert.True(watch.Elapsed < bound, $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Guarded_builtins_keep_their_behaviour()
    {
        var js = new JavaScriptSandbox(Limits);
        var result = await js.RunAsync("""
            print(JSON.stringify({ b: 1, a: [1, { c: 2 }], d: undefined }),
                  JSON.stringify({ b: 1, a: 2, c: 3 }, ['c', 'b']));
            var plusOne = function (k, v) { return typeof v === 'number' ? v + 1 : v; };
            print(JSON.stringify([1, 2], null, 1).length, JSON.stringify({ x: 1, y: 's' }, plusOne));
            var wrapped = { t: { toJSON: function () { return 'T'; } }, n: new Number(3), s: new String('q') };
            print(JSON.stringify(wrapped, ['t', 'n', 's']));
            print([1, [2, [3]]].join('-'), String([1, [2, 3]]), [1, 2].toString(), Array.prototype.join.length,
                  [].join.name);
            var f = function (a, b) { return this.x + a + b; }.bind({ x: 1 }, 2);
            print(f(3), f.length, typeof Proxy, Proxy.name, Proxy.length);
            var p = new Proxy({}, { get: function (t, k) { return k; } });
            var r = Proxy.revocable({ a: 1 }, {});
            print(p.hello, r.proxy.a);
            r.revoke();
            try { r.proxy.a; } catch (e) { print(e.name); }
            try { Proxy({}, {}); } catch (e) { print(e.name); }
            print('abcabc'.replace(/b/g, 'X'), /a(b)c/.exec('zabc')[1], 'a1b2'.match(/\d/g).join(''),
                  'x,y'.split(/,/).length);
            print(eval('3 * 4'), Function('return 1 + 2')(), typeof __reasonsharp_write, typeof __reasonsharp_deadline);
            console.log('log', 1, null, undefined, { a: 1 }, [1, 2]);
            """);
        Assert.True(result.Succeeded, result.Stderr);
        Assert.Equal("""
            {"b":1,"a":[1,{"c":2}]} {"c":3,"b":1}
            10 {"x":2,"y":"s"}
            {"t":"T","n":3,"s":"q"}
            1-2,3 1,2,3 1,2 1 join
            6 1 function Proxy 2
            hello 1
            TypeError
            TypeError
            aXcaXc b 12 2
            12 3 undefined undefined
            log 1 null undefined [object Object] 1,2

            """.ReplaceLineEndings("\n"), result.Stdout);
    }

    [Fact]
    public async Task JavaScript_runs_in_jint_with_limits_and_no_host_access()
    {
        var js = new JavaScriptSandbox(new SandboxLimits
        {
            WallTime = TimeSpan.FromSeconds(3),
            MemoryBytes = 32L * 1024 * 1024,
            MaxOutputBytes = 16 * 1024,
            MaxRecursion = 64,
        });
        var echo = await js.RunAsync("var n = parseInt(readline()); console.log(n * 2); print('sum', 1 + 2);", "21\n");
        Assert.True(echo.Succeeded, echo.Stderr);
        Assert.Equal("42\nsum 3\n", echo.Stdout);

        var watch = Stopwatch.StartNew();
        var loop = await js.RunAsync("while (true) {}");
        Assert.True(loop.TimedOut);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
        var memory = await js.RunAsync("var a = []; while (true) a.push(new Array(100000).fill(1.5));");
        Assert.Contains("memory limit", memory.Stderr);
        var recursion = await js.RunAsync("function f(n) { return f(n + 1) + 1; } f(0);");
        Assert.Contains("recursion", recursion.Stderr);
        var flood = await js.RunAsync("while (true) print('x'.repeat(1000));");
        Assert.True(flood.OutputLimitExceeded);
        Assert.True(flood.Stdout.Length <= 16 * 1024);
        var host = await js.RunAsync("print(typeof System, typeof require, typeof process, typeof importNamespace);");
        Assert.Equal("undefined undefined undefined undefined\n", host.Stdout);
        var thrown = await js.RunAsync("throw new TypeError('bad thing')");
        Assert.Equal("TypeError: bad thing (1:6)", thrown.Stderr);
        foreach (var r in new[] { loop, memory, recursion, flood, thrown }) Assert.False(r.Succeeded);
    }

    [Fact]
    public async Task Code_reward_runs_javascript_solutions()
    {
        var options = new RewardOptions(new Dictionary<string, string> { ["timeout_seconds"] = "1" });
        var reward = new CodeReward("code", options, binary: false);
        var cases = new[] { new { input = "2", output = "4" }, new { input = "7", output = "14" } };
        var tests = new { language = "javascript", test_cases = cases };
        var scores = await reward.ScoreAsync(
        [
            RewardInput.Create("```javascript\nprint(parseInt(input) * 2)\n```", tests),
            RewardInput.Create("```js\nwhile(true){}\n```", tests),
            RewardInput.Create("```js\n" + Deep + "print(JSON.stringify(a))\n```", tests),
        ]);
        Assert.Equal([1f, 0f, 0f], scores);
    }
}
