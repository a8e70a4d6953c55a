using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests;

/// <summary>Tiny language models with a small trained BPE tokenizer, built in a temp folder, for tests of generation
/// and training.</summary>
public static class TinyLanguageModels
{
    /// <summary>A tokenizer trained on arithmetic problems and their teacher traces (the ChatML template, reasoning
    /// tokens).</summary>
    public static string Tokenizer(TempDir dir, int vocabSize = 600)
    {
        var folder = dir.File("tokenizer");
        if (File.Exists(Path.Combine(folder, ReasonSharp.Tokenization.Tokenizer.FileName))) return folder;
        var problems = SyntheticDataset.Generate(new ArithmeticTask(), 400, 1, seed: 1);
        BpeTrainer.TrainToFolder(problems.SelectMany(p => new[] { p.Prompt, p.Completion }),
            new BpeTrainerOptions { VocabSize = vocabSize }, folder);
        return folder;
    }

    /// <summary>A randomly initialised model sized to <see cref="Tokenizer"/>.</summary>
    public static LanguageModel Create(TempDir dir, string arch = "qwen2", string size = "nano", long seed = 1) =>
        LanguageModel.Initialize(arch, ModelPresets.Get(size), Tokenizer(dir), seed, maxPositions: 1024, device: "cpu");

    /// <summary>Arithmetic examples (prompt, teacher completion, gold answer) in the standard schema.</summary>
    public static IReadOnlyList<Example> ArithmeticExamples(int count, int seed, int difficulty = 1) =>
        SyntheticDataset.Generate(new ArithmeticTask(), count, difficulty, seed)
            .Select((p, i) => new ExampleConverter().Convert(new DataRow(System.Text.Json.JsonSerializer.SerializeToElement(p.ToRow()), RowOrigin.Line("synthetic", i + 1))))
            .ToList();
}
