using ReasonSharp.Configuration;
using YamlDotNet.RepresentationModel;

namespace ReasonSharp.Jobs;

/// <summary>
/// Every job, by name: the one list the CLI builds `reason NAME` from and the pipeline looks stage types up in.
/// A new verb is its job file, its options record and one line here.
/// </summary>
public static class JobRegistry
{
    public static IReadOnlyList<IJob> All { get; } =
    [
        new DataJob(),
        new TokenizerJob(),
        new InitJob(),
        new SftJob(),
        new GrpoJob(),
        new DpoJob(),
        new RewardModelJob(),
        new SampleJob(),
        new StarJob(),
        new EvalJob(),
        new MergeJob(),
        new MergeModelsJob(),
        new ExportJob(),
        new DownloadJob(),
        new UploadJob(),
        new ServeJob(),
        new DistillJob(),
        new PrmLabelJob(),
        new PrmTrainJob(),
    ];

    public static IReadOnlyList<string> Names { get; } = All.Select(j => j.Name).ToList();

    public static IJob? Find(string name) => All.FirstOrDefault(j => j.Name == name);

    /// <summary>The job named <paramref name="name"/>, or an error naming <paramref name="source"/> and every job.</summary>
    public static IJob Get(string name, string source) =>
        Find(name) ?? throw new ReasonSharpException(
            $"{source}: type '{name}' is unknown; expected one of {string.Join(", ", Names)}");

    /// <summary>
    /// A job's options: its defaults for <paramref name="context"/>, then the YAML mapping (every unknown key or bad
    /// value is an error naming <paramref name="source"/> and the line), then validated once.
    /// </summary>
    public static object Bind(IJob job, YamlNode? options, RunContext context, string source)
    {
        var bound = OptionsBinder.Apply(job.Defaults(context), options, source);
        job.Validate(bound);
        return bound;
    }
}
