using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Steps;
using ReasonSharp.Tokenization;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Rewards;

/// <summary>"Check each sum." answered by steps such as "12+7=19"; each step labelled by re-computing it
/// (<see cref="ArithmeticStepScorer"/>).</summary>
public sealed record SumSteps(string[] Steps)
{
    public const string Question = "Check each sum.";
    public const int MaxOperand = 19;

    /// <summary>Every operand pair (a, b), 1 ≤ a, b ≤ <see cref="MaxOperand"/>.</summary>
    public static IReadOnlyList<(int A, int B)> AllPairs { get; } =
        Enumerable.Range(1, MaxOperand).SelectMany(a => Enumerable.Range(1, MaxOperand).Select(b => (a, b))).ToList();

    public bool[] Correct { get; } = Steps.Select(ArithmeticStepScorer.StepIsCorrect).ToArray();
    public static RewardPrompt Prompt { get; } = RewardPrompt.FromText(Question);
    public string Completion => string.Join("\n\n", Steps);

    /// <summary>Steps over random pairs (drawn first, so a seed gives the same sums for any
    /// <paramref name="wrongStep"/>); that step's result is off by 1 to 5.</summary>
    public static SumSteps Generate(Random random, IReadOnlyList<(int A, int B)> pairs, int count, int wrongStep = -1)
    {
        var chosen = Enumerable.Range(0, count).Select(_ => pairs[random.Next(pairs.Count)]).ToArray();
        return new(chosen.Select((p, k) => $"{p.A}+{p.B}={p.A + p.B + (k == wrongStep ? (random.Next(2) == 0 ? -1 : 1) * random.Next(1, 6) : 0)}").ToArray());
    }

    /// <summary>The text the judge reads (Math-Shepherd's layout), for training the tokenizer.</summary>
    public string JudgeText(string tag) => Question + " " + string.Join("\n", Steps.Select(s => s + tag));
}

/// <summary>A BPE tokenizer trained on judge inputs with the " ки" tag (which becomes one token) and a random "nano"
/// judge saved to a folder.</summary>
public sealed class JudgeFixture : IDisposable
{
    readonly TempDir _dir = TestEnvironment.NewTempDir();

    public string TokenizerFolder { get; }
    public string RandomJudgeFolder { get; }

    public JudgeFixture()
    {
        var random = new Random(5);
        var corpus =
            Enumerable.Range(0,
            2000).Select(i =>
            SumSteps.Generate(random, SumSteps.AllPairs, 1 + i % 4, random.Next(-1, 4)).JudgeText(" ки"));
        TokenizerFolder = _dir.File("tokenizer");
        BpeTrainer.TrainToFolder(corpus, new BpeTrainerOptions { VocabSize = 320 }, TokenizerFolder);
        RandomJudgeFolder = _dir.File("random-judge");
        using var judge = NewJudge(seed: 3);
        judge.Save(RandomJudgeFolder);
    }

    /// <summary>A randomly initialised qwen2 judge of the "nano" shape (64 hidden, 2 layers, 4 heads).</summary>
    public LanguageModel NewJudge(long seed, double initializerRange = 0.02)
    {
        var tokenizer = Tokenizer.Load(TokenizerFolder);
        var shape = ModelPresets.Get("nano");
        var config = ModelConfig.Create("qwen2", tokenizer.VocabSize, shape.HiddenSize, shape.IntermediateSize,
            shape.Layers, shape.Heads, shape.KvHeads, maxPositions: 128) with
        {
            InitializerRange = initializerRange
        };
        return new LanguageModel(new CausalLM(config, CPU, seed), tokenizer);
    }

    public string NewFolder(string name) => _dir.File(name);

    public void Dispose() => _dir.Dispose();
}
