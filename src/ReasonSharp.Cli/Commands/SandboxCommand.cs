using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ReasonSharp.Rewards.Sandbox;

namespace ReasonSharp.Cli.Commands;

/// <summary>reason sandbox check | run — what isolation code rewards get here, and running a program in it.</summary>
public static class SandboxCommand
{
    public static Command Create()
    {
        var command = new Command("sandbox", "The sandbox that code rewards run model-written programs in.");
        command.Subcommands.Add(Check());
        command.Subcommands.Add(Run());
        return command;
    }

    static Option<string> IsolationOption() => new("--isolation")
    {
        Description = "auto (strongest available, refuse if none), namespaces, user_namespaces, landlock, " +
                      "or unsafe (no isolation)",
        DefaultValueFactory = _ => "auto",
    };

    static Option<string> PythonOption() =>
        new("--python") { Description = "The Python interpreter", DefaultValueFactory = _ => "python3" };

    static SandboxIsolation? ParseIsolation(string text) => text switch
    {
        "auto" => null,
        "namespaces" => SandboxIsolation.Namespaces,
        "user_namespaces" => SandboxIsolation.UserNamespaces,
        "landlock" => SandboxIsolation.Landlock,
        "unsafe" => SandboxIsolation.Unsafe,
        _ => throw new ReasonSharpException($"--isolation: '{text}' is not a mode; expected auto, namespaces, " +
                                            "user_namespaces, landlock or unsafe"),
    };

    static Command Check()
    {
        var isolation = IsolationOption();
        var python = PythonOption();
        var json = new Option<bool>("--json") { Description = "Print the report as one JSON object" };
        var command = new Command("check", "Show what isolation this machine gives untrusted Python, then run " +
            "escape attempts in it. Exit 0 when a real boundary contained every probe, 1 otherwise.");
        command.Options.Add(isolation);
        command.Options.Add(python);
        command.Options.Add(json);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new PythonSandboxOptions
            {
                PythonExecutable = parse.GetValue(python)!,
                Isolation = ParseIsolation(parse.GetValue(isolation)!),
            };
            var report = await SandboxCheck.RunAsync(options, cancellationToken);
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions
                {
                    Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
                }));
                return report.Safe ? 0 : 1;
            }
            var f = report.Facts;
            var admin = f.IsRoot ? $", CAP_SYS_ADMIN {(f.CapSysAdmin ? "yes" : "no")}" : "";
            var landlock = f.LandlockAbi > 0 ? f.LandlockAbi.ToString(CultureInfo.InvariantCulture) : "none";
            output.WriteLine($"host: uid {f.Uid}{admin}, {f.Machine}, Landlock ABI {landlock}, " +
                             $"user.max_user_namespaces {f.MaxUserNamespaces ?? "?"}");
            output.WriteLine($"cgroups: {f.Cgroups}");
            output.WriteLine($"python: {report.Python.Executable} {report.Python.Version}");
            output.WriteLine("modes (strongest first):");
            foreach (var mode in report.Modes)
                output.WriteLine(mode.Works ? $"  yes  {mode.Mode}" : $"  no   {mode.Mode,-15} {mode.Detail}");
            if (report.Refusal != null)
            {
                output.WriteLine($"REFUSED: {report.Refusal}");
                return 1;
            }
            output.WriteLine($"in use: {report.Description}");
            output.WriteLine("probes:");
            foreach (var probe in report.Probes)
                output.WriteLine($"  {(probe.Contained ? "contained" : "ESCAPED  ")}  {probe.Name}: {probe.Detail}");
            output.WriteLine(report.Safe ? "verdict: model code is isolated on this machine"
                : report.Isolation == SandboxIsolation.Unsafe ? "verdict: UNSAFE mode, model code is not isolated"
                : "verdict: a probe escaped; do not run untrusted code here");
            return report.Safe ? 0 : 1;
        });
        return command;
    }

    static Command Run()
    {
        var file = new Argument<FileInfo>("file") { Description = "The program (.py, or .js for JavaScript)" };
        var stdin = new Option<FileInfo?>("--stdin") { Description = "A file fed to the program's standard input" };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Wall-clock limit in seconds",
            DefaultValueFactory = _ => 5,
        };
        var memory = new Option<double>("--memory-mb")
        {
            Description = "Memory limit of the whole program",
            DefaultValueFactory = _ => 512,
        };
        var isolation = IsolationOption();
        var python = PythonOption();
        var command = new Command("run",
            "Run one program in the code reward's sandbox and print its output; exit with its exit code.");
        command.Arguments.Add(file);
        command.Options.Add(stdin);
        command.Options.Add(timeout);
        command.Options.Add(memory);
        command.Options.Add(isolation);
        command.Options.Add(python);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var program = parse.GetValue(file)!;
            if (!program.Exists) throw new ReasonSharpException($"{program.FullName}: file not found");
            var input = parse.GetValue(stdin) is { } s
                ? await File.ReadAllTextAsync(s.FullName, cancellationToken) : null;
            var seconds = parse.GetValue(timeout);
            var megabytes = parse.GetValue(memory);
            if (!(seconds > 0 && seconds <= 3600))
                throw new ReasonSharpException(
                    $"--timeout: {seconds} is out of range; expected more than 0 and at most 3600 seconds");
            if (!(megabytes >= 32 && megabytes <= 1 << 20))
                throw new ReasonSharpException($"--memory-mb: {megabytes} is out of range; expected 32 to 1048576");
            var limits = new SandboxLimits
            {
                WallTime = TimeSpan.FromSeconds(seconds),
                CpuSeconds = (int)Math.Clamp(Math.Ceiling(seconds), 1, 3600),
                MemoryBytes = (long)(megabytes * 1048576),
            };
            limits.Validate("sandbox run");
            var code = await File.ReadAllTextAsync(program.FullName, cancellationToken);
            SandboxResult result;
            if (program.Extension is ".js" or ".mjs")
            {
                result = await new JavaScriptSandbox(limits, 1).RunAsync(code, input, cancellationToken);
            }
            else
            {
                var sandbox = new PythonSandbox(new PythonSandboxOptions
                {
                    PythonExecutable = parse.GetValue(python)!,
                    Limits = limits,
                    MaxConcurrency = 1,
                    Isolation = ParseIsolation(parse.GetValue(isolation)!),
                });
                result = await sandbox.RunAsync(code, input, cancellationToken);
            }
            parse.InvocationConfiguration.Output.Write(result.Stdout);
            var error = parse.InvocationConfiguration.Error;
            error.Write(result.Stderr);
            if (result.Stderr.Length > 0 && !result.Stderr.EndsWith('\n')) error.WriteLine();
            var limitsHit = (result.TimedOut ? ", time limit" : "")
                            + (result.OutputLimitExceeded ? ", output limit" : "")
                            + (result.MemoryLimitHit ? ", memory limit" : "");
            var elapsed = result.Elapsed.TotalSeconds;
            error.WriteLine($"[exit {result.ExitCode}{limitsHit}, {elapsed:0.00} s; {result.Isolation}]");
            return Math.Clamp(result.ExitCode, 0, 255);
        });
        return command;
    }
}
