using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training;

/// <summary>The task the learning tests train on: two-operand addition and subtraction of 1–2 digit numbers, worked
/// digit by digit by ArithmeticTask's teacher.</summary>
public static class LearningTasks
{
    public static readonly ArithmeticOptions TwoOperands =
        new(Operands: 2, MinDigits: 1, MaxDigits: 2, Multiply: false, Divide: false, MaxMultiplierDigits: 1);

    public static List<SyntheticProblem> DistinctProblems(int count, int seed)
    {
        var task = new ArithmeticTask();
        var random = new Random(seed);
        var keys = new HashSet<string>();
        var problems = new List<SyntheticProblem>();
        while (problems.Count < count)
        {
            var problem = task.Generate(random, TwoOperands, difficulty: 1);
            if (keys.Add(problem.Key)) problems.Add(problem);
        }
        return problems;
    }

    public static List<Example> Examples(IEnumerable<SyntheticProblem> problems) =>
        problems.Select((p, i) =>
            new ExampleConverter().Convert(new DataRow(JsonSerializer.SerializeToElement(p.ToRow()),
            RowOrigin.Line("arithmetic", i + 1)))).ToList();

    /// <summary>A 400-token BPE tokenizer trained on the first 3,000 problems, and a randomly initialised "nano" qwen2
    /// model on it (64 hidden, 2 layers, 4 heads / 2 KV, 192 MLP: 0.12M parameters).</summary>
    public static LanguageModel NanoModel(TempDir dir, IEnumerable<SyntheticProblem> problems, long seed = 0)
    {
        var tokenizer = dir.File("tokenizer");
        BpeTrainer.TrainToFolder(problems.Take(3000).SelectMany(p => new[] { p.Prompt, p.Completion }),
            new BpeTrainerOptions { VocabSize = 400 }, tokenizer);
        return LanguageModel.Initialize("qwen2", ModelPresets.Get("nano"), tokenizer, seed, maxPositions: 256,
            device: "cpu");
    }

    /// <summary>One torch thread until disposed: the fastest setting for a model this small on a shared 2-core
    /// machine.</summary>
    public static IDisposable OneTorchThread()
    {
        int threads = get_num_threads();
        set_num_threads(1);
        return new Restore(() => set_num_threads(threads));
    }

    sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
