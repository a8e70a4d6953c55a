using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Steps;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Rewards;

/// <summary>A chain of additions: "Add 37, 45 and 12." then "37+45=82", "82+12=94"; each step labelled by re-computing it.</summary>
public sealed record AdditionChain(string Question, string[] Steps)
{
    public bool[] Correct { get; } = Steps.Select(ArithmeticStepScorer.StepIsCorrect).ToArray();
    public RewardPrompt Prompt => RewardPrompt.FromText(Question);
    public string Completion => string.Join("\n\n", Steps);

    /// <summary>Two-digit operands; with <paramref name="wrongStep"/> that step's result is off by 1–10 (later steps build on it correctly).</summary>
    public static AdditionChain Generate(Random random, int operands = 3, int wrongStep = -1)
    {
        var numbers = Enumerable.Range(0, operands).Select(_ => random.Next(10, 100)).ToArray();
        var steps = new string[operands - 1];
        var total = numbers[0];
        for (var k = 0; k < steps.Length; k++)
        {
            var written = total + numbers[k + 1];
            if (k == wrongStep) written += (random.Next(2) == 0 ? -1 : 1) * random.Next(1, 11);
            steps[k] = $"{total}+{numbers[k + 1]}={written}";
            total = written;
        }
        return new AdditionChain($"Add {string.Join(", ", numbers[..^1])} and {numbers[^1]}.", steps);
    }

    /// <summary>The text the judge reads (Math-Shepherd's layout), for training the tokenizer.</summary>
    public string JudgeText(string tag) => Question + " " + string.Join("\n", Steps.Select(s => s + tag));
}

/// <summary>A BPE tokenizer trained on addition chains with the " ки" tag (which becomes one token) and a random "nano" judge saved to a folder.</summary>
public sealed class JudgeFixture : IDisposable
{
    readonly TempDir _dir = TestEnvironment.NewTempDir();

    public string TokenizerFolder { get; }
    public string RandomJudgeFolder { get; }

    public JudgeFixture()
    {
        var random = new Random(5);
        var corpus = Enumerable.Range(0, 2000).Select(i => AdditionChain.Generate(random, 2 + i % 3, random.Next(-1, 3)).JudgeText(" ки"));
        TokenizerFolder = _dir.File("tokenizer");
        BpeTrainer.TrainToFolder(corpus, new BpeTrainerOptions { VocabSize = 320 }, TokenizerFolder);
        RandomJudgeFolder = _dir.File("random-judge");
        using var judge = NewJudge(seed: 3);
        judge.Save(RandomJudgeFolder);
    }

    /// <summary>A randomly initialised judge: 64 hidden, 2 layers, 4 heads.</summary>
    public LanguageModel NewJudge(long seed) =>
        LanguageModel.Initialize("qwen2", ModelPresets.Get("nano"), TokenizerFolder, seed, maxPositions: 128, device: "cpu");

    public string NewFolder(string name) => _dir.File(name);

    public void Dispose() => _dir.Dispose();
}
