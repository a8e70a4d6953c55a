using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace ReasonSharp.Rewards.Sandbox;

/// <summary>The interpreter: its real executable and the directories the sandbox must make readable.</summary>
public sealed record PythonInstall(string Executable, string Version, IReadOnlyList<string> Paths);

/// <summary>What this machine offers the Python sandbox, read from /proc and from the supervisor's own probe.</summary>
public sealed record SandboxHostFacts
{
    public required int Uid { get; init; }
    public required bool CapSysAdmin { get; init; }
    public required bool CapSetUid { get; init; }
    public required string Machine { get; init; }
    /// <summary>Landlock ABI version, or minus the errno of the probe (-38 ENOSYS: not built, -95 EOPNOTSUPP: not
    /// enabled).</summary>
    public required int LandlockAbi { get; init; }
    public required bool SeccompArchitecture { get; init; }
    public string? MaxUserNamespaces { get; init; }
    public string? UnprivilegedUserNamespaceClone { get; init; }
    public string? AppArmorRestrictsUserNamespaces { get; init; }
    public required string Cgroups { get; init; }
    public required bool CgroupsAvailable { get; init; }

    public bool IsRoot => Uid == 0;

    /// <summary>Why a mode cannot work here, before trying it; null when it may.</summary>
    public string? Obstacle(SandboxIsolation mode) => mode switch
    {
        SandboxIsolation.Namespaces when !IsRoot => $"needs root (running as uid {Uid})",
        SandboxIsolation.Namespaces when !CapSysAdmin =>
            "root without CAP_SYS_ADMIN (a default Docker container): namespaces and mounts need it",
        SandboxIsolation.UserNamespaces when IsRoot && !CapSetUid =>
            "root without CAP_SETUID/CAP_SETGID cannot switch to an unprivileged uid first",
        SandboxIsolation.UserNamespaces when MaxUserNamespaces == "0" =>
            "user namespaces are disabled (user.max_user_namespaces = 0)",
        SandboxIsolation.UserNamespaces when UnprivilegedUserNamespaceClone == "0" && !IsRoot =>
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)",
        SandboxIsolation.Landlock when LandlockAbi < 1 =>
            "Landlock is unavailable (needs Linux 5.13+ with landlock in the lsm= boot list; probe: " +
            Errno(LandlockAbi) + ")",
        SandboxIsolation.Landlock when IsRoot && !CapSetUid =>
            "root without CAP_SETUID/CAP_SETGID cannot switch to an unprivileged uid",
        _ when !SeccompArchitecture => $"the seccomp filter supports x86_64 and aarch64, not {Machine}",
        _ => null,
    };

    static string Errno(int negative) => -negative switch
    {
        38 => "ENOSYS, not built into this kernel",
        95 => "EOPNOTSUPP, built but not enabled",
        var e => "errno " + e.ToString(CultureInfo.InvariantCulture),
    };

    internal static (int Uid, bool SysAdmin, bool SetUid) ReadCredentials()
    {
        var uid = -1;
        ulong caps = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                var fields = line.Split('\t', StringSplitOptions.RemoveEmptyEntries);
                uid = int.Parse(fields[2], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                caps = ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        }
        const int capSetGid = 6, capSetUid = 7, capSysAdmin = 21;
        var hasSetUid = (caps >> capSetUid & 1) == 1 && (caps >> capSetGid & 1) == 1;
        return (uid, (caps >> capSysAdmin & 1) == 1, hasSetUid);
    }
}

/// <summary>Starts the embedded supervisor (sandbox_supervisor.py) with a JSON configuration.</summary>
internal static class SandboxSupervisor
{
    const string SystemPath = "/usr/local/bin:/usr/bin:/bin";
    static readonly Lazy<string> Script = new(() =>
    {
        const string name = "ReasonSharp.Rewards.Sandbox.sandbox_supervisor.py";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException("the sandbox supervisor is missing from ReasonSharp.dll");
        return new StreamReader(stream).ReadToEnd();
    });

    public static ProcessStartInfo StartInfo(string python, object config)
    {
        var start = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-I", "-S", "-B", "-c", Script.Value, JsonSerializer.Serialize(config) })
            start.ArgumentList.Add(a);
        start.Environment.Clear();
        start.Environment["PATH"] = SystemPath;
        start.Environment["LANG"] = "C.UTF-8";
        return start;
    }

    /// <summary>Runs a short trusted command to completion and returns its stdout; throws with stderr on
    /// failure.</summary>
    public static async Task<string> RunTrustedAsync(ProcessStartInfo start, TimeSpan timeout)
    {
        using var process = Process.Start(start) ?? throw new ReasonSharpException($"cannot start {start.FileName}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new ReasonSharpException($"'{start.FileName}' did not answer within {timeout.TotalSeconds:0} s");
        }
        if (process.ExitCode != 0)
        {
            var message = (await stderr).Trim();
            throw new ReasonSharpException($"'{start.FileName}' failed (exit {process.ExitCode}): {message}");
        }
        return await stdout;
    }

    public static async Task<SandboxHostFacts> ReadFactsAsync(string python, SandboxCgroups? cgroups,
        string cgroupReason)
    {
        var json = await RunTrustedAsync(StartInfo(python, new { mode = "facts" }), TimeSpan.FromSeconds(30));
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        string? S(string name) =>
            root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var (uid, sysAdmin, setUid) = SandboxHostFacts.ReadCredentials();
        return new SandboxHostFacts
        {
            Uid = uid,
            CapSysAdmin = sysAdmin,
            CapSetUid = setUid,
            Machine = S("machine") ?? "?",
            LandlockAbi = root.GetProperty("landlock_abi").GetInt32(),
            SeccompArchitecture = root.GetProperty("seccomp_arch").GetBoolean(),
            MaxUserNamespaces = S("max_user_namespaces"),
            UnprivilegedUserNamespaceClone = S("unprivileged_userns_clone"),
            AppArmorRestrictsUserNamespaces = S("apparmor_restrict_unprivileged_userns"),
            Cgroups = cgroups?.Description ?? "unavailable: " + cgroupReason,
            CgroupsAvailable = cgroups != null,
        };
    }

    /// <summary>The interpreter's real executable and prefixes, asked of the interpreter itself (trusted
    /// code).</summary>
    public static async Task<PythonInstall> DescribePythonAsync(string python)
    {
        var start = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        const string probe = "import sys, os, json\n" +
            "r = os.path.realpath\n" +
            "paths = [r(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)]\n" +
            "paths.append(os.path.dirname(r(sys.executable)))\n" +
            "version = list(sys.version_info[:3])\n" +
            "print(json.dumps({'executable': sys.executable, 'version': version, 'paths': paths}))\n";
        foreach (var a in new[] { "-I", "-S", "-c", probe }) start.ArgumentList.Add(a);
        start.Environment.Clear();
        start.Environment["PATH"] = SystemPath + ":" + (Environment.GetEnvironmentVariable("PATH") ?? "");
        start.Environment["HOME"] = Environment.GetEnvironmentVariable("HOME") ?? "/";
        var json = await RunTrustedAsync(start, TimeSpan.FromSeconds(30));
        using var doc = JsonDocument.Parse(json.Trim().Split('\n')[^1]);
        var root = doc.RootElement;
        var version = root.GetProperty("version").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        if (version[0] < 3 || version[0] == 3 && version[1] < 8)
            throw new ReasonSharpException(
                $"the Python sandbox needs Python 3.8 or newer; {python} is {string.Join('.', version)}");
        var paths = root.GetProperty("paths").EnumerateArray().Select(p => p.GetString()!)
            .Where(p => p.Length > 1).Distinct().ToList();
        return new PythonInstall(root.GetProperty("executable").GetString()!, string.Join('.', version), paths);
    }
}
