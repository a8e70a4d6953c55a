using System.Globalization;
using System.Text.RegularExpressions;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Training.Lora;

namespace ReasonSharp.Training;

/// <summary>
/// Keeps two runs out of one folder. A training run (or init-model) that would write into a folder holding another
/// run's files (metrics, checkpoints, a model) is refused, unless it resumes that run or overwrite_output_dir deletes
/// those files first. Files no run writes are neither a reason to refuse nor touched.
/// </summary>
public static partial class RunFolder
{
    /// <summary>Files whose presence means the folder holds a run or a model.</summary>
    static readonly string[] RunFiles =
    [
        Trainer.OptionsFile, Checkpoints.TrainerStateFile, MetricsLogger.MetricsFile, RunReport.HtmlFile,
        ModelFolder.ConfigFile, ModelFolder.SingleFile, ModelFolder.IndexFile,
        LoraConfig.ConfigFile, LoraConfig.WeightsFile,
        "completions.jsonl", // GRPO's sampled completions (GrpoTask.CompletionsFile)
        "warnings.jsonl", // GRPO's health warnings (GrpoTrainer.WarningsFile)
        "star_state.json", // STaR's finished iterations
    ];

    static readonly string[] RunFolders = [MetricsLogger.TensorBoardFolder, "merged"];

    /// <summary>Written beside a run's files and deleted with them, but not a run by themselves.</summary>
    static readonly string[] CompanionFiles =
    [
        ModelFolder.GenerationConfigFile, "sft_config.yaml", "config.yaml", "star_config.yaml",
        .. ModelFolder.TokenizerFiles,
    ];

    static readonly string[] CompanionFolders = [RunReport.PlotsFolder];

    /// <summary>checkpoint-N (also .tmp-/.old- leftovers), STaR's iteration-N, and weight shards.</summary>
    [GeneratedRegex(@"^(checkpoint-\d+(\.(tmp|old)-[0-9a-f]+)?|iteration-\d+|model-\d+-of-\d+\.safetensors)$")]
    private static partial Regex RunPattern();

    /// <summary>AtomicFile's temporary files (.NAME.PID.GUID.tmp) left by a kill.</summary>
    [GeneratedRegex(@"^\..+\.tmp$")]
    private static partial Regex TempPattern();

    /// <summary>The names of the entries of a run or model in <paramref name="folder"/>; empty when none.</summary>
    public static IReadOnlyList<string> RunEntries(string folder) => Entries(folder, companions: false);

    static List<string> Entries(string folder, bool companions)
    {
        if (!Directory.Exists(folder)) return [];
        var found = new List<string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(folder))
        {
            var name = Path.GetFileName(path);
            bool isFolder = Directory.Exists(path);
            bool run = RunPattern().IsMatch(name) || (isFolder ? RunFolders.Contains(name) : RunFiles.Contains(name));
            bool companion = isFolder ? CompanionFolders.Contains(name)
                : CompanionFiles.Contains(name) || TempPattern().IsMatch(name);
            if (run || (companions && companion)) found.Add(name);
        }
        // Checkpoints first, by step (checkpoint-9 before checkpoint-10), then the rest by name.
        return found.OrderBy(n => n.StartsWith(Checkpoints.Prefix, StringComparison.Ordinal) ? 0 : 1).ThenBy(StepOrder)
            .ThenBy(n => n, StringComparer.Ordinal).ToList();
    }

    static long StepOrder(string name)
    {
        var digits = new string(name.SkipWhile(c => !char.IsAsciiDigit(c)).TakeWhile(char.IsAsciiDigit).ToArray());
        return digits.Length is > 0 and < 18 ? long.Parse(digits, CultureInfo.InvariantCulture) : -1;
    }

    /// <summary>Deletes the run's entries and the files written beside them, except <paramref name="keep"/>.</summary>
    public static IReadOnlyList<string> Clear(string folder, string? keep = null)
    {
        var deleted = Entries(folder, companions: true).Where(n => n != keep).ToList();
        foreach (var name in deleted)
        {
            var path = Path.Combine(folder, name);
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else File.Delete(path);
        }
        return deleted;
    }

    /// <summary>A short list for messages: the first few names and how many more; checkpoints as a range.</summary>
    public static string Describe(IReadOnlyList<string> names, int max = 6)
    {
        var checkpoints = names.Where(n => n.StartsWith(Checkpoints.Prefix, StringComparison.Ordinal)).ToList();
        var shown = checkpoints.Count <= 3 ? names.ToList()
            : [$"{checkpoints.Count} checkpoints ({checkpoints[0]} … {checkpoints[^1]})", .. names.Except(checkpoints)];
        return shown.Count <= max ? string.Join(", ", shown)
            : $"{string.Join(", ", shown.Take(max))} and {shown.Count - max} more";
    }

    /// <summary>
    /// For a command that fills a whole folder (init-model): a folder holding a run or model is refused, naming
    /// <paramref name="overwriteFlag"/>; with <paramref name="overwrite"/> its run files are deleted first.
    /// Returns a note of what was deleted, or null.
    /// </summary>
    public static string? Claim(string folder, bool overwrite, string folderOption, string overwriteFlag)
    {
        var existing = RunEntries(folder);
        if (existing.Count == 0) return null;
        if (!overwrite)
            throw new ReasonSharpException(
                $"{folderOption} '{folder}' already holds a model or run ({Describe(existing)}); " +
                $"expected a new folder, or {overwriteFlag} to delete those files first");
        return Deleted(folder, Clear(folder));
    }

    static string Deleted(string folder, IReadOnlyList<string> names) =>
        $"deleted the previous run's files in {folder}: {Describe(names)}";

    /// <summary>
    /// Called before a training run writes into output_dir. A folder with another run's files is refused unless the
    /// run resumes from one of its checkpoints (and no later checkpoint would mix with the new ones), or
    /// overwrite_output_dir is set, which deletes those files first (all but the checkpoint resumed from). A checkpoint
    /// from elsewhere is only resumed into a folder without a run. Returns a note of what was deleted, or null.
    /// </summary>
    public static string? Prepare(TrainingOptions options)
    {
        var dir = options.OutputDir;
        if (!Directory.Exists(dir)) return null;
        string? kept = null;
        long keptStep = 0;
        if (options.ResumeFromCheckpoint is { } spec)
        {
            Checkpoints.RemoveIncomplete(dir);
            var checkpoint = Path.GetFullPath(Checkpoints.Resolve(spec, dir)).TrimEnd(Path.DirectorySeparatorChar);
            if (Path.GetDirectoryName(checkpoint) == Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar))
            {
                kept = Path.GetFileName(checkpoint);
                keptStep = Checkpoints.List(dir).FirstOrDefault(c => Path.GetFileName(c.Path) == kept).Step;
            }
        }
        var existing = RunEntries(dir).Where(n => n != kept).ToList();
        if (existing.Count == 0) return null;
        if (options.OverwriteOutputDir) return Deleted(dir, Clear(dir, keep: kept));

        const string Overwrite = "overwrite_output_dir: true (--overwrite)";
        if (kept is not null)
        {
            var later = Checkpoints.List(dir).Where(c => c.Step > keptStep).Select(c => Path.GetFileName(c.Path))
                .ToList();
            if (later.Count == 0) return null;
            throw new ReasonSharpException(
                $"resume_from_checkpoint '{options.ResumeFromCheckpoint}' is step {keptStep}, but output_dir '{dir}' " +
                $"also holds later checkpoints ({Describe(later)}) that the resumed run would mix with its own; " +
                $"expected resume_from_checkpoint: latest, or {Overwrite} to delete everything but {kept} first");
        }
        if (options.ResumeFromCheckpoint is not null)
            throw new ReasonSharpException(
                $"resume_from_checkpoint '{options.ResumeFromCheckpoint}' is outside output_dir '{dir}', which " +
                $"already holds another run ({Describe(existing)}); expected a new output_dir, or {Overwrite} to " +
                "delete that run's files first");
        bool resumable = Checkpoints.List(dir).Count > 0 || File.Exists(Path.Combine(dir, "star_state.json"));
        var ways = resumable
            ? $"resume_from_checkpoint: latest (--resume) to continue it, {Overwrite} to delete its files and " +
              "start over"
            : $"{Overwrite} to delete its files and start over (it has no checkpoint to resume from)";
        throw new ReasonSharpException(
            $"output_dir '{dir}' already holds a run ({Describe(existing)}); refusing to write a new run over it. " +
            $"Expected {ways}, or a new output_dir");
    }
}
