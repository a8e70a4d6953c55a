using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ReasonSharp.Rewards.Sandbox;

namespace ReasonSharp.Rewards.Builtins;

/// <summary>One test: the program gets Input on stdin and must print Output.</summary>
public sealed record CodeTestCase(string Input, string Output);

/// <summary>
/// Open-R1's code reward: the last ```python (or ```javascript) block of the completion runs once per test case in
/// a sandbox; the reward is the fraction of cases whose stdout matches (binary: 1 when the fraction exceeds 0.99).
/// Test cases come from 'verification_info' {language, test_cases: [{input, output}]} or a 'test_cases' column
/// (with an optional 'language' column); a row with neither gets null. No code block scores 0. Differences: outputs
/// must match line for line after trimming, with equal line counts (Open-R1 zips the lines, so missing or extra
/// lines pass); Python runs in a local sandbox (<see cref="PythonSandbox"/>) instead of E2B, JavaScript in Jint.
/// </summary>
public sealed class CodeReward : IRewardFunction, IRewardMetadata
{
    readonly bool _binary;
    readonly string _defaultLanguage;
    readonly PythonSandbox _python;
    readonly JavaScriptSandbox _javascript;
    public string Name { get; }

    public CodeReward(string name, RewardOptions options, bool binary)
    {
        Name = name;
        _binary = binary;
        _defaultLanguage = Language(options.GetString("language", "python"), name);
        var timeout = Positive(name, options, "timeout_seconds", 5, 3600, "seconds");
        var memoryMb = Positive(name, options, "memory_mb", 512, 1 << 20, "MB");
        var outputKb = Positive(name, options, "max_output_kb", 1024, 1 << 20, "KB");
        var diskMb = Positive(name, options, "disk_mb", 64, 1 << 20, "MB");
        var limits = new SandboxLimits
        {
            WallTime = TimeSpan.FromSeconds(timeout),
            CpuSeconds = (int)Math.Ceiling(timeout),
            MemoryBytes = (long)(memoryMb * 1024 * 1024),
            MaxOutputBytes = (int)(outputKb * 1024),
            MaxDiskBytes = (long)(diskMb * 1024 * 1024),
            MaxProcesses = (int)Positive(name, options, "max_processes", 32, 4096, "processes", integer: true),
        };
        limits.Validate($"reward '{name}'");
        var cores = Math.Max(1, Environment.ProcessorCount);
        var concurrency = (int)Positive(name, options, "concurrency", cores, 1024, "runs", integer: true);
        var isolation = options.GetString("isolation", "auto") switch
        {
            "auto" => (SandboxIsolation?)null,
            "namespaces" => SandboxIsolation.Namespaces,
            "user_namespaces" => SandboxIsolation.UserNamespaces,
            "landlock" => SandboxIsolation.Landlock,
            "unsafe" => SandboxIsolation.Unsafe,
            "process_limits" => throw new ReasonSharpException($"reward '{name}': isolation: 'process_limits' was " +
                "removed (its audit hook was no security boundary); expected auto, namespaces, user_namespaces, " +
                "landlock or unsafe"),
            var other => throw new ReasonSharpException($"reward '{name}': isolation: '{other}' is not a mode; " +
                "expected auto, namespaces, user_namespaces, landlock or unsafe (unsafe runs model code without " +
                "isolation; see docs/rewards.md)"),
        };
        _python = new PythonSandbox(new PythonSandboxOptions
        {
            PythonExecutable = options.GetString("python", "python3"),
            Limits = limits,
            MaxConcurrency = concurrency,
            Isolation = isolation,
        });
        _javascript = new JavaScriptSandbox(limits, concurrency);
    }

    /// <summary>A number option that must be more than 0 and at most <paramref name="max"/>.</summary>
    static double Positive(string reward, RewardOptions options, string key, double defaultValue, double max,
        string unit, bool integer = false)
    {
        var value = integer ? options.GetInt(key, (int)defaultValue) : options.GetDouble(key, defaultValue);
        if (value > 0 && value <= max) return value;
        var text = value.ToString(CultureInfo.InvariantCulture);
        var limit = max.ToString(CultureInfo.InvariantCulture);
        throw new ReasonSharpException($"reward '{reward}': option '{key}': {text} is out of range; expected " +
            $"{(integer ? "an integer" : "a number")} more than 0 and at most {limit} {unit}");
    }

    /// <summary>The sandboxes behind this reward (exposed for tests and tools).</summary>
    public PythonSandbox PythonSandbox => _python;

    public async Task<IReadOnlyDictionary<string, string>> GetMetadataAsync() => new Dictionary<string, string>
    {
        ["python_isolation"] = await _python.DescribeIsolationAsync(),
        ["javascript_isolation"] = JavaScriptSandbox.IsolationDescription,
    };

    public async Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch,
        CancellationToken cancellationToken = default)
    {
        var jobs = new List<Task<float?>>();
        for (var i = 0; i < batch.Count; i++)
        {
            var (language, tests) = RewardBatch.At(i, () => ReadTests(batch[i]));
            jobs.Add(ScoreOneAsync(batch[i].Completion, language, tests, cancellationToken));
        }
        return await Task.WhenAll(jobs);
    }

    async Task<float?> ScoreOneAsync(string completion, string language, IReadOnlyList<CodeTestCase>? tests,
        CancellationToken cancellationToken)
    {
        if (tests == null || tests.Count == 0) return null;
        var code = ExtractCode(completion, language);
        if (string.IsNullOrWhiteSpace(code)) return 0f;
        var results = await Task.WhenAll(tests.Select(async test =>
        {
            var run = language == "python"
                ? await _python.RunAsync(code, test.Input, cancellationToken)
                : await _javascript.RunAsync(code, test.Input, cancellationToken);
            return run.Succeeded && OutputsMatch(run.Stdout, test.Output);
        }));
        var fraction = (float)results.Count(passed => passed) / tests.Count;
        return _binary ? (fraction > 0.99f ? 1f : 0f) : fraction;
    }

    /// <summary>Lines equal after trimming each, ignoring leading and trailing blank lines.</summary>
    public static bool OutputsMatch(string actual, string expected)
    {
        static string[] Lines(string text) => text.Trim().Split('\n').Select(l => l.Trim()).ToArray();
        return Lines(actual).SequenceEqual(Lines(expected));
    }

    /// <summary>The last ```python (or ```javascript / ```js) block, as Open-R1's extract_code.</summary>
    public static string ExtractCode(string completion, string language = "python")
    {
        var fence = language == "javascript" ? "(?:javascript|js)" : Regex.Escape(language);
        var matches =
            Regex.Matches(completion, "```" + fence + @"\n(.*?)```", RegexOptions.Singleline, TimeSpan.FromSeconds(2));
        return matches.Count == 0 ? "" : matches[^1].Groups[1].Value;
    }

    (string Language, IReadOnlyList<CodeTestCase>? Tests) ReadTests(RewardInput input)
    {
        var language = _defaultLanguage;
        JsonElement? tests = null;
        if (input.HasColumn("verification_info"))
        {
            var info = input.Require("verification_info");
            if (info.ValueKind == JsonValueKind.String) info =
                JsonDocument.Parse(info.GetString()!).RootElement.Clone();
            if (info.ValueKind != JsonValueKind.Object) throw new RewardInputException("verification_info",
                $"expected an object with test_cases, got {RewardInput.Describe(info)}");
            if (info.TryGetProperty("language", out var lang) && lang.ValueKind == JsonValueKind.String) language =
                Language(lang.GetString()!, Name, "verification_info");
            if (!info.TryGetProperty("test_cases", out var cases)) throw new RewardInputException("verification_info",
                "has no 'test_cases'");
            tests = cases;
        }
        else if (input.HasColumn("test_cases"))
        {
            tests = input.Require("test_cases");
            if (tests.Value.ValueKind == JsonValueKind.String) tests =
                JsonDocument.Parse(tests.Value.GetString()!).RootElement.Clone();
            if (input.HasColumn("language")) language = Language(input.RequireString("language"), Name, "language");
        }
        if (tests == null) return (language, null);
        if (tests.Value.ValueKind != JsonValueKind.Array) throw new RewardInputException("test_cases",
            $"expected a list of {{input, output}}, got {RewardInput.Describe(tests.Value)}");
        var list = new List<CodeTestCase>();
        foreach (var (test, k) in tests.Value.EnumerateArray().Select((t, k) => (t, k)))
        {
            if (test.ValueKind != JsonValueKind.Object || !test.TryGetProperty("input", out var inp)
                || !test.TryGetProperty("output", out var outp)
                || inp.ValueKind != JsonValueKind.String || outp.ValueKind != JsonValueKind.String)
                throw new RewardInputException("test_cases", $"test {k} must be an object with string 'input' and " +
                    $"'output', got {RewardInput.Describe(test)}");
            list.Add(new CodeTestCase(inp.GetString()!, outp.GetString()!));
        }
        return (language, list);
    }

    static string Language(string language, string reward, string? field = null) => language.ToLowerInvariant() switch
    {
        "python" or "python3" or "py" => "python",
        "javascript" or "js" => "javascript",
        _ when field != null =>
            throw new RewardInputException(field, $"language '{language}' is not supported (python or javascript)"),
        _ => throw new ReasonSharpException($"reward '{reward}': language must be python or javascript, got " +
            $"'{language}'"),
    };
}
