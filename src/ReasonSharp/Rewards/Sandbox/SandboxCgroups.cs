using System.Globalization;

namespace ReasonSharp.Rewards.Sandbox;

/// <summary>
/// One memory and pids cgroup per run, under this process's own cgroup (v1) or a delegated v2 subtree, so the
/// memory and process limits hold for a program as a whole. Groups are named after their owner process
/// (pid and start time), so a later process removes those of an owner that died.
/// </summary>
internal sealed class SandboxCgroups
{
    const string GroupName = "reasonsharp-sandbox";
    readonly string[] _bases;
    readonly bool _v2;
    long _next;

    SandboxCgroups(string[] bases, bool v2, string description)
    {
        _bases = bases;
        _v2 = v2;
        Description = description;
    }

    public string Description { get; }

    /// <summary>The folders holding the run groups (one per controller hierarchy).</summary>
    public IReadOnlyList<string> Bases => _bases;

    /// <summary>Writable memory and pids controllers, or null with the reason.</summary>
    public static SandboxCgroups? Detect(out string reason)
    {
        reason = "";
        if (!OperatingSystem.IsLinux()) { reason = "not Linux"; return null; }
        List<(string Root, string Point, string Type, string[] Options)> mounts;
        Dictionary<string, string> own;
        try
        {
            mounts = File.ReadLines("/proc/self/mountinfo").Select(ParseMount)
                .Where(m => m.Type is "cgroup" or "cgroup2").ToList();
            // "4:memory:/path" per v1 hierarchy (controllers comma-separated), "0::/path" for v2.
            own = File.ReadLines("/proc/self/cgroup").Select(l => l.Split(':', 3)).Where(p => p.Length == 3)
                .SelectMany(p => p[1].Split(',').Select(controller => (Controller: controller, Path: p[2])))
                .GroupBy(x => x.Controller).ToDictionary(g => g.Key, g => g.First().Path);
        }
        catch (IOException e) { reason = e.Message; return null; }
        string? V1(string controller)
        {
            var m = mounts.FirstOrDefault(m => m.Type == "cgroup" && m.Options.Contains(controller));
            if (m.Point == null || !own.TryGetValue(controller, out var path)) return null;
            var relative = path.StartsWith(m.Root, StringComparison.Ordinal) ? path[m.Root.Length..] : path;
            return Path.Join(m.Point, relative);
        }
        var memory = V1("memory");
        var pids = V1("pids");
        if (memory != null && pids != null)
        {
            var bases = new[] { Path.Join(memory, GroupName), Path.Join(pids, GroupName) };
            if (TryPrepare(bases, v2: false, out reason))
                return new SandboxCgroups(bases, v2: false, $"cgroup v1 memory+pids per run under {memory}");
            return null;
        }
        var unified = mounts.FirstOrDefault(m => m.Type == "cgroup2");
        if (unified.Point == null) { reason = "no memory and pids cgroup controllers are mounted"; return null; }
        // The v2 "no internal processes" rule keeps controllers off our own (populated) cgroup, so the runs go in
        // a subtree of the mount's root, which needs root and memory and pids enabled there.
        var root = unified.Point;
        var controllers = ReadOr(Path.Join(root, "cgroup.controllers"), "").Split(' ');
        if (!controllers.Contains("memory") || !controllers.Contains("pids"))
        {
            reason = $"the cgroup v2 root {root} does not offer the memory and pids controllers";
            return null;
        }
        var v2Base = Path.Join(root, GroupName);
        try
        {
            File.WriteAllText(Path.Join(root, "cgroup.subtree_control"), "+memory +pids");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot enable memory and pids in {root}/cgroup.subtree_control: {e.Message}";
            return null;
        }
        if (TryPrepare([v2Base], v2: true, out reason))
            return new SandboxCgroups([v2Base], v2: true, $"cgroup v2 memory+pids per run under {v2Base}");
        return null;
    }

    static (string Root, string Point, string Type, string[] Options) ParseMount(string line)
    {
        var dash = line.IndexOf(" - ", StringComparison.Ordinal);
        var left = line[..dash].Split(' ');
        var right = line[(dash + 3)..].Split(' ');
        return (Unescape(left[3]), Unescape(left[4]), right[0], right.Length > 2 ? right[2].Split(',') : []);
    }

    static string Unescape(string s) =>
        s.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");

    static bool TryPrepare(string[] bases, bool v2, out string reason)
    {
        reason = "";
        var probe = $"probe-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            foreach (var b in bases)
            {
                Directory.CreateDirectory(b);
                if (v2) File.WriteAllText(Path.Join(b, "cgroup.subtree_control"), "+memory +pids");
                Directory.CreateDirectory(Path.Join(b, probe));
                var (file, value) = v2 ? ("memory.max", "max")
                    : File.Exists(Path.Join(b, probe, "memory.limit_in_bytes")) ? ("memory.limit_in_bytes", "-1")
                    : ("pids.max", "max");
                File.WriteAllText(Path.Join(b, probe, file), value);
                Directory.Delete(Path.Join(b, probe));
            }
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot create cgroups under {string.Join(" and ", bases)}: {e.Message}";
            foreach (var b in bases) TryRemove(Path.Join(b, probe));
            return false;
        }
    }

    /// <summary>A fresh group for one run, with the memory (no swap) and process limits.</summary>
    public RunCgroup Create(SandboxLimits limits)
    {
        var name = $"{ProcessIdentity.Current}-{Interlocked.Increment(ref _next)}";
        var dirs = _bases.Select(b => Path.Join(b, name)).ToArray();
        var group = new RunCgroup(dirs, _v2);
        var memory = limits.MemoryBytes.ToString(CultureInfo.InvariantCulture);
        var processes = limits.MaxProcesses.ToString(CultureInfo.InvariantCulture);
        try
        {
            foreach (var dir in dirs)
            {
                Directory.CreateDirectory(dir);
                if (_v2)
                {
                    File.WriteAllText(Path.Join(dir, "memory.max"), memory);
                    TryWrite(Path.Join(dir, "memory.swap.max"), "0");
                    File.WriteAllText(Path.Join(dir, "pids.max"), processes);
                }
                else if (File.Exists(Path.Join(dir, "memory.limit_in_bytes")))
                {
                    File.WriteAllText(Path.Join(dir, "memory.limit_in_bytes"), memory);
                    TryWrite(Path.Join(dir, "memory.memsw.limit_in_bytes"), memory);
                    TryWrite(Path.Join(dir, "memory.swappiness"), "0");
                }
                else
                {
                    File.WriteAllText(Path.Join(dir, "pids.max"), processes);
                }
            }
            return group;
        }
        catch
        {
            group.Dispose();
            throw;
        }
    }

    /// <summary>Removes the groups of owners that are no longer running (killing anything left in them).</summary>
    public void SweepLeftovers()
    {
        foreach (var b in _bases)
        {
            if (!Directory.Exists(b)) continue;
            foreach (var dir in Directory.EnumerateDirectories(b))
            {
                var name = Path.GetFileName(dir);
                if (name.StartsWith("probe-", StringComparison.Ordinal) || !ProcessIdentity.OwnerIsGone(name)) continue;
                RunCgroup.KillAndRemove(dir, _v2);
            }
        }
    }

    static void TryWrite(string path, string text)
    {
        try { if (File.Exists(path)) File.WriteAllText(path, text); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    static string ReadOr(string path, string fallback)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (IOException) { return fallback; }
        catch (UnauthorizedAccessException) { return fallback; }
    }

    internal static void TryRemove(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>The groups of one run: the supervisor puts the program in them; disposing kills what is left.</summary>
    internal sealed class RunCgroup(string[] dirs, bool v2) : IDisposable
    {
        public IReadOnlyList<string> ProcsFiles { get; } = dirs.Select(d => Path.Join(d, "cgroup.procs")).ToArray();

        string? MemoryDir =>
            dirs.FirstOrDefault(d => File.Exists(Path.Join(d, v2 ? "memory.max" : "memory.limit_in_bytes")));

        static bool Counted(string text, string key) => text.Split('\n')
            .Any(l => l.StartsWith(key + " ", StringComparison.Ordinal) && !l.EndsWith(" 0", StringComparison.Ordinal));

        /// <summary>Peak memory of the group, and whether it hit its limit.</summary>
        public (long? Peak, bool LimitHit) MemoryUsage()
        {
            var dir = MemoryDir;
            if (dir == null) return (null, false);
            if (v2)
            {
                var events = ReadOr(Path.Join(dir, "memory.events"), "");
                var hit = Counted(events, "max") || Counted(events, "oom_kill");
                return (long.TryParse(ReadOr(Path.Join(dir, "memory.peak"), ""), out var p) ? p : null, hit);
            }
            var usage = ReadOr(Path.Join(dir, "memory.max_usage_in_bytes"), "");
            var peak = long.TryParse(usage, out var v) ? v : (long?)null;
            // memory.failcnt stays 0 on recent kernels; the OOM kill counter is reliable.
            var oom = Counted(ReadOr(Path.Join(dir, "memory.oom_control"), ""), "oom_kill");
            var fail = long.TryParse(ReadOr(Path.Join(dir, "memory.failcnt"), "0"), out var f) && f > 0;
            return (peak, oom || fail);
        }

        public void Dispose()
        {
            foreach (var dir in dirs) KillAndRemove(dir, v2);
        }

        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        static extern int kill(int pid, int signal);

        internal static void KillAndRemove(string dir, bool v2)
        {
            if (!Directory.Exists(dir)) return;
            var killFile = Path.Join(dir, "cgroup.kill");
            if (v2 && File.Exists(killFile)) TryWrite(killFile, "1");
            for (var attempt = 0; attempt < 200; attempt++)
            {
                var pids = ReadOr(Path.Join(dir, "cgroup.procs"), "")
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (pids.Length == 0)
                {
                    try
                    {
                        Directory.Delete(dir);
                        return;
                    }
                    catch (IOException) { }
                    catch (UnauthorizedAccessException) { return; }
                }
                foreach (var p in pids)
                    if (int.TryParse(p, out var pid)) kill(pid, 9);
                Thread.Sleep(10);
            }
        }
    }
}

/// <summary>This process as "pid-starttime", and whether the owner named by such a prefix still runs.</summary>
internal static class ProcessIdentity
{
    public static string Current { get; } = $"{Environment.ProcessId}-{StartTime(Environment.ProcessId)}";

    static string StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Field 22 (start time in clock ticks) counts from after the parenthesised command name.
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
        }
        catch (IOException) { return "0"; }
        catch (UnauthorizedAccessException) { return "0"; }
    }

    /// <summary>Whether <paramref name="name"/> starts with "pid-starttime-".</summary>
    public static bool NamesOwner(string name)
    {
        var parts = name.Split('-');
        return parts.Length >= 2 && int.TryParse(parts[0], out _) && long.TryParse(parts[1], out _);
    }

    /// <summary>True when <paramref name="name"/> starts with "pid-starttime-" of a process that is gone.</summary>
    public static bool OwnerIsGone(string name)
    {
        if (!NamesOwner(name)) return false;
        var parts = name.Split('-');
        return StartTime(int.Parse(parts[0], CultureInfo.InvariantCulture)) != parts[1];
    }
}
