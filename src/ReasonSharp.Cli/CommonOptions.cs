using System.CommandLine;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Cli;

/// <summary>Options shared by several commands, so each is spelled and explained once.</summary>
public static class CommonOptions
{
    public static Option<string> Device() => new("--device") { Description = "cpu, cuda, cuda:N or auto (cuda when available).", DefaultValueFactory = _ => "auto" };

    public static Option<string?> ChatTemplateKwargsOption() => new("--chat-template-kwargs")
    {
        Description = "Variables for the chat template, a YAML or JSON mapping: '{enable_thinking: false}'.",
    };

    /// <summary>--chat-template-kwargs as a mapping, or null when not given.</summary>
    public static IReadOnlyDictionary<string, object?>? ChatTemplateKwargs(ParseResult parse, Option<string?> option) =>
        parse.GetValue(option) is { } text
            ? ReasonSharp.Configuration.OptionsBinder.ParseMapping(text, "--chat-template-kwargs")
            : null;

    public static Option<string?> ChatFormatOption() => new("--format")
    {
        Description = "Chat template instead of the tokenizer's own: " + string.Join(", ",
            ChatTemplates.BuiltIn.Select(b => b.Name))
            + ", a .jinja file or a model folder; default: the tokenizer's chat_template.",
    };

    /// <summary>The sampling flags of `generate` and `chat`, with Open-R1's evaluation defaults (temperature 0.6, top-p 0.95).</summary>
    public sealed class Sampling
    {
        public Option<int> MaxNewTokens { get; } = new("--max-new-tokens") { Description = "Most tokens to generate per completion.", DefaultValueFactory = _ => 512 };
        public Option<double> Temperature { get; } = new("--temperature") { Description = "Sampling temperature; 0 means greedy.", DefaultValueFactory = _ => 0.6 };
        public Option<double> TopP { get; } = new("--top-p") { Description = "Nucleus sampling threshold (1 = off).", DefaultValueFactory = _ => 0.95 };
        public Option<int> TopK { get; } = new("--top-k") { Description = "Keep the k most likely tokens (0 = off).", DefaultValueFactory = _ => 0 };
        public Option<double> MinP { get; } = new("--min-p") { Description = "Drop tokens below min_p × the top probability (0 = off).", DefaultValueFactory = _ => 0 };
        public Option<double> RepetitionPenalty { get; } = new("--repetition-penalty") { Description = "Penalty for tokens already present (1 = off).", DefaultValueFactory = _ => 1.0 };
        public Option<long> Seed { get; } = new("--seed") { Description = "Random seed for sampling.", DefaultValueFactory = _ => 0 };

        public IEnumerable<Option> All => [MaxNewTokens, Temperature, TopP, TopK, MinP, RepetitionPenalty, Seed];

        /// <summary>--temperature, --top-p, --top-k, --min-p and --repetition-penalty.</summary>
        public SamplingSettings Settings(ParseResult parse) => new()
        {
            Temperature = parse.GetValue(Temperature),
            TopP = parse.GetValue(TopP),
            TopK = parse.GetValue(TopK),
            MinP = parse.GetValue(MinP),
            RepetitionPenalty = parse.GetValue(RepetitionPenalty),
        };

        public SamplingOptions Read(ParseResult parse, IReadOnlyList<int> eos) =>
            Settings(parse).ToSampling(parse.GetValue(MaxNewTokens), parse.GetValue(Seed)) with { EosTokenIds = eos };
    }

    /// <summary>
    /// The flags of `eval` and `sample` that fill a <see cref="VerifiedGenerationOptions"/>: the dataset slice, reward,
    /// threshold, batch size and <see cref="Sampling"/>. Each command lists them among its own, in its help's order.
    /// </summary>
    public sealed class VerifiedGeneration(string defaultSplit, string reward, string threshold, string limit)
    {
        public Option<string> Split { get; } = new("--split") { Description = "Split of a dataset folder.", DefaultValueFactory = _ => defaultSplit };
        public Option<string?> Config { get; } = new("--config") { Description = "Configuration of a dataset folder with several (e.g. main)." };
        public Option<string> Reward { get; } = new("--reward") { Description = reward, DefaultValueFactory = _ => "accuracy" };
        public Option<double> Threshold { get; } = new("--threshold") { Description = threshold, DefaultValueFactory = _ => 1.0 };
        public Option<int?> Limit { get; } = new("--limit") { Description = limit };
        public Option<int> BatchSize { get; } = new("--batch-size") { Description = "Rows per generation call.", DefaultValueFactory = _ => 64 };
        public Sampling Sampling { get; } = new();

        /// <summary>The parsed flags onto <paramref name="options"/>.</summary>
        public T Read<T>(ParseResult parse, T options) where T : VerifiedGenerationOptions => (T)(options with
        {
            Reward = parse.GetValue(Reward)!,
            Threshold = parse.GetValue(Threshold),
            Limit = parse.GetValue(Limit),
            DatasetSplit = parse.GetValue(Split),
            DatasetConfig = parse.GetValue(Config),
            GenerationBatchSize = parse.GetValue(BatchSize),
            MaxNewTokens = parse.GetValue(Sampling.MaxNewTokens),
            Sampling = Sampling.Settings(parse),
            Seed = parse.GetValue(Sampling.Seed),
        });
    }
}
