using System.Text.RegularExpressions;

namespace ReasonSharp.Training;

/// <summary>
/// The checkpoint folders of a run: output_dir/checkpoint-{step}. A checkpoint is written into
/// checkpoint-{step}.tmp-{id} and renamed when complete, so a folder named checkpoint-{step} is always whole; a kill
/// during a write leaves only a .tmp folder, which the next run deletes.
/// </summary>
public static partial class Checkpoints
{
    public const string Prefix = "checkpoint-";
    /// <summary>Written last into every checkpoint; its presence marks the folder complete.</summary>
    public const string TrainerStateFile = "trainer_state.json";

    [GeneratedRegex(@"^checkpoint-(\d+)$")]
    private static partial Regex CompleteName();

    /// <summary>Complete checkpoints, oldest first.</summary>
    public static IReadOnlyList<(long Step, string Path)> List(string outputDir)
    {
        if (!Directory.Exists(outputDir)) return [];
        return Directory.EnumerateDirectories(outputDir)
            .Select(path => (Match: CompleteName().Match(System.IO.Path.GetFileName(path)), Path: path))
            .Where(c => c.Match.Success && File.Exists(System.IO.Path.Combine(c.Path, TrainerStateFile)))
            .Select(c => (long.Parse(c.Match.Groups[1].Value), c.Path))
            .OrderBy(c => c.Item1)
            .ToList();
    }

    /// <summary>Resolves resume_from_checkpoint: "latest" is the newest complete checkpoint of the run; anything else
    /// is a folder.</summary>
    public static string Resolve(string spec, string outputDir)
    {
        if (spec == "latest")
        {
            var all = List(outputDir);
            if (all.Count == 0) throw new ReasonSharpException($"resume_from_checkpoint is 'latest' but " +
                $"{outputDir} holds no complete {Prefix}N folder");
            return all[^1].Path;
        }
        if (!Directory.Exists(spec)) throw new ReasonSharpException($"resume_from_checkpoint: folder '{spec}' not " +
            $"found");
        if (!File.Exists(System.IO.Path.Combine(spec, TrainerStateFile)))
            throw new ReasonSharpException($"resume_from_checkpoint: '{spec}' has no {TrainerStateFile}; it is not " +
                $"a complete checkpoint");
        return spec;
    }

    /// <summary>Writes checkpoint-{step} atomically: <paramref name="writeContents"/> fills a temporary folder that is
    /// then renamed.</summary>
    public static string Write(string outputDir, long step, Action<string> writeContents)
    {
        var final = System.IO.Path.Combine(outputDir, $"{Prefix}{step}");
        var temp = $"{final}.tmp-{Guid.NewGuid():N}";
        Directory.CreateDirectory(temp);
        try { writeContents(temp); }
        catch (DiskFullException e)
        {
            // The partial folder is deleted to give the space back; the older checkpoints are whole.
            Directory.Delete(temp, recursive: true);
            var previous = List(outputDir).LastOrDefault().Path;
            throw new DiskFullException($"{e.Message}. {Prefix}{step} was not saved; " +
                (previous is null ? "the run has no earlier checkpoint" : $"the newest whole checkpoint is {previous}"),
                e);
        }
        if (Directory.Exists(final))
        {
            // Re-saving a step (a run resumed from an older checkpoint): move the old one aside first.
            var old = $"{final}.old-{Guid.NewGuid():N}";
            Directory.Move(final, old);
            Directory.Move(temp, final);
            Directory.Delete(old, recursive: true);
        }
        else Directory.Move(temp, final);
        return final;
    }

    /// <summary>Deletes all but the newest <paramref name="keep"/> complete checkpoints.</summary>
    public static void Rotate(string outputDir, int? keep)
    {
        if (keep is not { } limit) return;
        var all = List(outputDir);
        foreach (var (_, path) in all.Take(Math.Max(0, all.Count - limit)))
            Directory.Delete(path, recursive: true);
    }

    /// <summary>
    /// Cleans up after interrupted writes: deletes checkpoint-N.tmp-* folders, and puts a checkpoint-N.old-* back in
    /// place when the kill came between moving it aside and renaming its replacement (else deletes it).
    /// </summary>
    public static void RemoveIncomplete(string outputDir)
    {
        if (!Directory.Exists(outputDir)) return;
        foreach (var path in Directory.EnumerateDirectories(outputDir, $"{Prefix}*").ToList())
        {
            var name = System.IO.Path.GetFileName(path);
            if (name.Contains(".tmp-")) Directory.Delete(path, recursive: true);
            else if (name.Contains(".old-"))
            {
                var final = path[..path.LastIndexOf(".old-", StringComparison.Ordinal)];
                if (Directory.Exists(final)) Directory.Delete(path, recursive: true);
                else Directory.Move(path, final);
            }
        }
    }
}
