using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Jint;
using Jint.Native;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Descriptors;
using Jint.Runtime.Interop;

namespace ReasonSharp.Rewards.Sandbox;

/// <summary>
/// Runs untrusted JavaScript in-process with Jint: no CLR access, no modules; Jint's memory, time, recursion and
/// cancellation limits; a per-match regular-expression timeout; on a dedicated thread with a large stack. Built-ins
/// that recurse natively over nested data (join/toString, JSON.stringify, flat, chains of bound functions and
/// proxies) are wrapped so nesting past <see cref="SandboxLimits.MaxRecursion"/> throws a RangeError instead of
/// overflowing the host's stack. Every exception a script causes becomes a failed result. The program reads the
/// global <c>input</c> or <c>readline()</c> and writes with <c>print(…)</c> or <c>console.log(…)</c> (capped).
/// </summary>
public sealed class JavaScriptSandbox
{
    readonly SandboxLimits _limits;
    readonly SemaphoreSlim _slots;

    public JavaScriptSandbox(SandboxLimits? limits = null, int maxConcurrency = 0)
    {
        _limits = limits ?? new SandboxLimits();
        _limits.Validate("javascript sandbox");
        _slots = new SemaphoreSlim(maxConcurrency > 0 ? maxConcurrency : Math.Max(1, Environment.ProcessorCount));
    }

    public const string IsolationDescription = "in-process Jint interpreter on its own large-stack thread: no CLR or " +
        "module access; memory, time, recursion, nesting, regex-time and output limits";

    /// <summary>Longest a single regular-expression match may run (the wall limit is checked between
    /// matches).</summary>
    public TimeSpan RegexTimeout =>
        _limits.WallTime < TimeSpan.FromSeconds(1) ? _limits.WallTime : TimeSpan.FromSeconds(1);

    public async Task<SandboxResult> RunAsync(string code, string? stdin = null,
        CancellationToken cancellationToken = default)
    {
        await _slots.WaitAsync(cancellationToken);
        try
        {
            // Jint's memory limit counts allocations of the executing thread, and deep scripts need a deep stack:
            // one dedicated thread per run.
            var done = new TaskCompletionSource<SandboxResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() =>
            {
                try { done.SetResult(Run(code, stdin, cancellationToken)); }
                catch (OperationCanceledException e) { done.SetCanceled(e.CancellationToken); }
                catch (Exception e) { done.SetException(e); }
            }, StackBytes(_limits))
            { IsBackground = true, Name = "reasonsharp-jint" };
            thread.Start();
            return await done.Task;
        }
        finally
        {
            _slots.Release();
        }
    }

    static int StackBytes(SandboxLimits limits) =>
        (int)Math.Min(1L << 30, (16L << 20) + limits.MaxRecursion * (32L << 10));

    SandboxResult Run(string code, string? stdin, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var output = new StringBuilder();
        var outputExceeded = false;
        void Write(string text)
        {
            if (output.Length + text.Length + 1 > _limits.MaxOutputBytes)
            {
                outputExceeded = true;
                throw new OutputLimitException();
            }
            output.Append(text).Append('\n');
        }

        var lines = (stdin ?? "").Split('\n');
        var nextLine = 0;
        SandboxResult Result(int exitCode, string stderr, bool timedOut) =>
            new(exitCode, output.ToString(), stderr, timedOut, outputExceeded, watch.Elapsed, IsolationDescription);
        try
        {
            using var engine = new Engine(options =>
            {
                options.LimitMemory(_limits.MemoryBytes)
                    .TimeoutInterval(_limits.WallTime)
                    .LimitRecursion(_limits.MaxRecursion)
                    .CancellationToken(cancellationToken)
                    .Strict(false);
                options.Constraints.RegexTimeout = RegexTimeout;
            });
            engine.SetValue("input", stdin ?? "");
            engine.SetValue("readline",
                new Func<string?>(() => nextLine < lines.Length ? lines[nextLine++].TrimEnd('\r') : null));
            engine.SetValue("__reasonsharp_write", new ClrFunction(engine, "write", (_, args) =>
            {
                Write(args.Length > 0 && args[0].IsString() ? args[0].AsString() : "");
                return JsValue.Undefined;
            }));
            engine.SetValue("__reasonsharp_deadline", new ClrFunction(engine, "deadline", (_, _) =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (watch.Elapsed > _limits.WallTime) throw new TimeoutException();
                return JsValue.Undefined;
            }));
            engine.Execute(Prelude.Replace("%LIMIT%", _limits.MaxRecursion.ToString(CultureInfo.InvariantCulture)));
            engine.Execute(code);
            return Result(0, "", false);
        }
        catch (OutputLimitException)
        {
            return Result(1, "output limit exceeded", false);
        }
        catch (Exception e) when (e is TimeoutException or RegexMatchTimeoutException)
        {
            var what = e is RegexMatchTimeoutException ? " (regular expression)" : "";
            return Result(124, "time limit exceeded" + what, true);
        }
        catch (ExecutionCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return Result(124, "cancelled", true);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (MemoryLimitExceededException e)
        {
            return Result(137, "memory limit exceeded: " + e.Message, false);
        }
        catch (RecursionDepthOverflowException e)
        {
            return Result(1, "recursion limit exceeded: " + e.Message, false);
        }
        catch (JavaScriptException e)
        {
            var outputLimit = e.InnerException is OutputLimitException;
            return Result(1, Render(e) + (outputLimit ? " (output limit exceeded)" : ""), false);
        }
        catch (Exception e)
        {
            // Parse errors, nesting and stack guards, and any other failure of the script: a failed run, never a crash.
            return Result(1, $"{e.GetType().Name}: {Truncate(e.Message)}", false);
        }
    }

    /// <summary>The thrown value as "Name: message (line:column)", reading only data properties, so no script
    /// runs.</summary>
    static string Render(JavaScriptException e)
    {
        var where = $" ({e.Location.Start.Line}:{e.Location.Start.Column})";
        var error = e.Error;
        if (error is not ObjectInstance obj)
            return "uncaught " + Truncate(error.IsSymbol() ? "symbol" : error.ToString()) + where;
        if (IsProxy(obj)) return "uncaught proxy object" + where;
        string? name = null, message = null;
        var current = obj;
        for (var level = 0; current != null && !IsProxy(current) && level < 32; level++)
        {
            name ??= StringData(current, "name");
            if (level == 0) message = StringData(current, "message") ?? "";
            if (name != null) break;
            current = current.Prototype;
        }
        if (name == null && message == "") return "uncaught object" + where;
        return Truncate($"{name ?? "Error"}: {message}") + where;
    }

    // Jint's proxy type is internal; a proxy's traps are script code, so it is never read.
    static bool IsProxy(ObjectInstance obj) => obj.GetType().Name == "JsProxy";

    static string? StringData(ObjectInstance obj, string key)
    {
        var descriptor = obj.GetOwnProperty(key);
        var isString = descriptor != PropertyDescriptor.Undefined && descriptor.IsDataDescriptor()
                       && descriptor.Value.IsString();
        return isString ? descriptor.Value.AsString() : null;
    }

    static string Truncate(string text) => text.Length <= 1000 ? text : text[..1000] + "…";

    sealed class OutputLimitException : Exception;

    // Runs before the program. Each wrapper keeps a native built-in from recursing over nesting deeper than LIMIT:
    // join/toString/toLocaleString go through a JS frame per level (Jint's recursion limit counts them), JSON.stringify
    // gets a replacer that tracks depth, and bound functions and proxies record their chain length. RegExp matching
    // checks the wall clock before each match. print and console.log write through String().
    const string Prelude = """
        (function (write, deadline) {
          'use strict';
          var LIMIT = %LIMIT%;
          var apply = Reflect.apply, defineProperty = Object.defineProperty, isArray = Array.isArray;
          var WeakMapCtor = WeakMap, StringCtor = String, RangeErrorCtor = RangeError, TypeErrorCtor = TypeError;
          var weakGet = WeakMap.prototype.get, weakSet = WeakMap.prototype.set;
          var toTag = Object.prototype.toString, max = Math.max, min = Math.min, some = Array.prototype.some;
          delete globalThis.__reasonsharp_write;
          delete globalThis.__reasonsharp_deadline;
          function tooDeep() { return new RangeErrorCtor('Maximum call stack size exceeded'); }
          function replace(object, name, f, length) {
            defineProperty(f, 'name', { value: name, configurable: true });
            defineProperty(f, 'length', { value: length, configurable: true });
            defineProperty(object, name, { value: f, writable: true, enumerable: false, configurable: true });
          }
          function wrap(object, name) {
            var original = object[name];
            replace(object, name, function () { return apply(original, this, arguments); }, original.length);
          }
          wrap(Array.prototype, 'join');
          wrap(Array.prototype, 'toString');
          wrap(Array.prototype, 'toLocaleString');

          var flat = Array.prototype.flat;
          replace(Array.prototype, 'flat', function (depth) {
            var d = depth === undefined ? 1 : +depth;
            if (!(d > LIMIT)) return apply(flat, this, [depth]);
            var result = apply(flat, this, [LIMIT]);
            for (d -= LIMIT; d > 0 && apply(some, result, [isArray]); d -= LIMIT) {
              result = apply(flat, result, [min(d, LIMIT)]);
            }
            return result;
          }, 0);

          var chain = new WeakMapCtor();
          function chainLength(o) {
            var isObject = (typeof o === 'object' && o !== null) || typeof o === 'function';
            return isObject ? (apply(weakGet, chain, [o]) || 0) : 0;
          }
          var bind = Function.prototype.bind;
          replace(Function.prototype, 'bind', function (thisArg) {
            var n = chainLength(this) + 1;
            if (n > LIMIT) throw tooDeep();
            var bound = apply(bind, this, arguments);
            apply(weakSet, chain, [bound, n]);
            return bound;
          }, 1);
          var ProxyCtor = Proxy, revocable = Proxy.revocable;
          function proxyLength(target, handler) {
            var n = max(chainLength(target), chainLength(handler)) + 1;
            if (n > LIMIT) throw tooDeep();
            return n;
          }
          var GuardedProxy = function Proxy(target, handler) {
            if (new.target === undefined) throw new TypeErrorCtor("Constructor Proxy requires 'new'");
            var n = proxyLength(target, handler);
            var p = new ProxyCtor(target, handler);
            apply(weakSet, chain, [p, n]);
            return p;
          };
          replace(GuardedProxy, 'revocable', function (target, handler) {
            var n = proxyLength(target, handler);
            var r = revocable(target, handler);
            apply(weakSet, chain, [r.proxy, n]);
            return r;
          }, 2);
          function global(name, value) {
            defineProperty(globalThis, name, { value: value, writable: true, enumerable: false, configurable: true });
          }
          global('Proxy', GuardedProxy);

          var stringify = JSON.stringify, depthOf = new WeakMapCtor();
          function plainObject(v) { return apply(toTag, v, []) === '[object Object]' && !isArray(v); }
          replace(JSON, 'stringify', function (value, replacer, space) {
            var user = typeof replacer === 'function' ? replacer : null;
            var keys = null;
            if (isArray(replacer)) {
              keys = [];
              for (var i = 0; i < replacer.length; i++) {
                var k = replacer[i], t = typeof k === 'object' && k !== null ? apply(toTag, k, []) : '';
                var keyLike = typeof k === 'string' || typeof k === 'number';
                if (keyLike || t === '[object String]' || t === '[object Number]') {
                  k = StringCtor(k);
                  if (keys.indexOf(k) < 0) keys.push(k);
                }
              }
            }
            function guard(key, v) {
              var holderDepth = typeof this === 'object' && this !== null ? (apply(weakGet, depthOf, [this]) || 0) : 0;
              if (user) v = apply(user, this, [key, v]);
              if (holderDepth + 1 > LIMIT) throw tooDeep();
              if (keys && typeof v === 'object' && v !== null && plainObject(v)) {
                var picked = {};
                for (var j = 0; j < keys.length; j++) {
                  var x = v[keys[j]];
                  if (x !== undefined) {
                    defineProperty(picked, keys[j], { value: x, enumerable: true, writable: true, configurable: true });
                  }
                }
                v = picked;
              }
              if ((typeof v === 'object' && v !== null) || typeof v === 'function') {
                apply(weakSet, depthOf, [v, holderDepth + 1]);
              }
              return v;
            }
            return apply(stringify, JSON, [value, guard, space]);
          }, 3);

          var exec = RegExp.prototype.exec;
          replace(RegExp.prototype, 'exec', function (s) { deadline(); return apply(exec, this, [s]); }, 1);

          function print() {
            var text = '';
            for (var i = 0; i < arguments.length; i++) text += (i ? ' ' : '') + StringCtor(arguments[i]);
            write(text);
          }
          global('print', print);
          global('console', { log: print });
        })(__reasonsharp_write, __reasonsharp_deadline);
        """;
}
