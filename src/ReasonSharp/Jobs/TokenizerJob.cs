using ReasonSharp.Tokenization;

namespace ReasonSharp.Jobs;

/// <summary>Options of the tokenizer job: a byte-level BPE tokenizer with the reasoning special tokens.</summary>
public sealed record TokenizerJobOptions
{
    /// <summary>Training text: .txt files (read whole) or .jsonl files (string fields of each row).</summary>
    public IReadOnlyList<string> Input { get; init; } = [];
    /// <summary>JSONL fields to read; empty: every string in each row.</summary>
    public IReadOnlyList<string> Field { get; init; } = [];
    public int VocabSize { get; init; } = 1024;
    public int MinFrequency { get; init; } = new BpeTrainerOptions().MinFrequency;
    public int ModelMaxLength { get; init; } = new BpeTrainerOptions().ModelMaxLength;
    /// <summary>chatml, or dual-mode for models that switch thinking with /think and /no_think.</summary>
    public string ChatFormat { get; init; } = "chatml";
    /// <summary>Folder for tokenizer.json and tokenizer_config.json; null: the stage's folder.</summary>
    public string? OutputDir { get; init; }
}

/// <summary>`tokenizer`: trains a byte-level BPE tokenizer into a Hugging Face tokenizer folder.</summary>
public sealed class TokenizerJob : Job<TokenizerJobOptions>
{
    public override string Name => "tokenizer";
    public override string Description => "Train a byte-level BPE tokenizer with the reasoning special tokens.";
    public override TokenizerJobOptions Defaults(RunContext context) => new();

    public override void Validate(TokenizerJobOptions o)
    {
        if (o.Input.Count == 0)
            throw new ReasonSharpException("tokenizer: input: no files; expected at least one text or JSONL file");
    }

    public override JobResult Run(TokenizerJobOptions o, RunContext context)
    {
        var folder = context.RequireOutputDir(o.OutputDir, "output_dir");
        var options = new BpeTrainerOptions
        {
            VocabSize = o.VocabSize,
            MinFrequency = o.MinFrequency,
            ModelMaxLength = o.ModelMaxLength,
            ChatTemplate = BpeTrainerOptions.TemplateFor(o.ChatFormat),
        };
        var texts = o.Input.SelectMany(path => TrainingCorpus.Read(path, o.Field));
        var model = BpeTrainer.TrainToFolder(texts, options, folder);
        context.Progress.WriteLine($"byte-level BPE tokenizer: {model.VocabSize} tokens");
        return Result(new Dictionary<string, string> { ["folder"] = folder },
            new Dictionary<string, double> { ["vocab_size"] = model.VocabSize }, model);
    }
}
