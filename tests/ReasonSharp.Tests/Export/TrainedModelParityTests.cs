using ReasonSharp.Export;
using ReasonSharp.Modeling;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Export;

/// <summary>
/// A tiny qwen2 model trained in-process (plain AdamW loop) on a repeating 24-token cycle whose next token depends on the
/// previous two, so that its logits are peaked; exported once per type.
/// </summary>
public sealed class TrainedModelFixture : IDisposable
{
    public const int CycleLength = 24;
    public int[] Cycle { get; }
    public CausalLM Model { get; }
    public float FinalLoss { get; }
    readonly TempDir _dir = TestEnvironment.NewTempDir();
    readonly Dictionary<GgufFileType, string> _exports = [];

    public TrainedModelFixture()
    {
        Cycle = MakeCycle(seed: 3);
        var config = ExportModels.Config("qwen2", tied: true, initializerRange: 0.02);
        Model = new CausalLM(config, seed: 21);
        FinalLoss = Train(Model, Cycle, steps: 300);
        Model.eval();
    }

    /// <summary>A cycle over 16 tokens in which every pair of consecutive tokens determines the next one.</summary>
    static int[] MakeCycle(int seed)
    {
        var random = new Random(seed);
        var alphabet = Enumerable.Range(0, 256).OrderBy(_ => random.Next()).Take(16).ToArray();
        while (true)
        {
            var cycle = Enumerable.Range(0, CycleLength).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray();
            var next = new Dictionary<(int, int), int>();
            bool deterministic = true;
            for (int i = 0; i < CycleLength && deterministic; i++)
            {
                var key = (cycle[i], cycle[(i + 1) % CycleLength]);
                int value = cycle[(i + 2) % CycleLength];
                deterministic = !next.TryGetValue(key, out var seen) || seen == value;
                next[key] = value;
            }
            bool needsTwo = Enumerable.Range(0, CycleLength).GroupBy(i => cycle[i]).Any(g => g.Select(i => cycle[(i + 1) % CycleLength]).Distinct().Count() > 1);
            if (deterministic && needsTwo) return cycle;
        }
    }

    public int[] CycleFrom(int start, int count) => Enumerable.Range(start, count).Select(i => Cycle[i % CycleLength]).ToArray();

    static float Train(CausalLM model, int[] cycle, int steps)
    {
        const int batch = 16, length = 48;
        var random = new Random(7);
        model.train();
        using var optimizer = optim.AdamW(model.parameters(), lr: 3e-3, weight_decay: 0.0);
        float loss = float.NaN;
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var rows = Enumerable.Range(0, batch).SelectMany(_ =>
            {
                int start = random.Next(CycleLength);
                return Enumerable.Range(start, length).Select(i => (long)cycle[i % CycleLength]);
            }).ToArray();
            var ids = tensor(rows, [batch, length]);
            var logits = model.Forward(ids);
            var value = nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, logits.shape[2]), ids[.., 1..].reshape(-1));
            optimizer.zero_grad();
            value.backward();
            optimizer.step();
            loss = value.item<float>();
        }
        return loss;
    }

    public string Export(GgufFileType type)
    {
        lock (_exports)
        {
            if (!_exports.TryGetValue(type, out var path)) _exports[type] = path = ExportModels.Export(Model, _dir, type, "trained");
            return path;
        }
    }

    public void Dispose()
    {
        Model.Dispose();
        _dir.Dispose();
    }
}

public class TrainedModelParityTests(TrainedModelFixture trained, ITestOutputHelper output) : IClassFixture<TrainedModelFixture>
{
    const int NewTokens = 64;

    int[] Prompt => trained.CycleFrom(5, 8);

    [Fact]
    public void TrainingMadeTheModelFollowTheCycle()
    {
        output.WriteLine($"final training loss {trained.FinalLoss:F4}");
        Assert.True(trained.FinalLoss < 0.05, $"loss {trained.FinalLoss}");
        Assert.Equal(trained.CycleFrom(13, NewTokens), ExportModels.Greedy(trained.Model, Prompt, NewTokens));
    }

    [Theory]
    [InlineData(GgufFileType.F32)]
    [InlineData(GgufFileType.F16)]
    [InlineData(GgufFileType.Q8_0)]
    public void GreedyContinuationIsIdenticalInLlamaCpp(GgufFileType type)
    {
        var ours = ExportModels.Greedy(trained.Model, Prompt, NewTokens);
        using var llama = LlamaCppReference.Load(trained.Export(type), ExportModels.Threads, contextSize: 128);
        var theirs = llama.GreedyBatch([Prompt], NewTokens).Tokens[0];
        int agree = ours.Zip(theirs).TakeWhile(p => p.First == p.Second).Count();
        output.WriteLine($"{type}: {agree}/{NewTokens} greedy tokens agree");
        Assert.Equal(ours, theirs);
    }

    [Theory]
    [InlineData(GgufFileType.F16, 2e-3)]
    [InlineData(GgufFileType.Q8_0, 5e-2)]
    public void QuantizedLogitsStayWithinTolerance(GgufFileType type, double tolerance)
    {
        using var llama = LlamaCppReference.Load(trained.Export(type), ExportModels.Threads, contextSize: 64);
        foreach (var (label, tokens) in new[] { ("cycle", trained.CycleFrom(3, 32)), ("random", ExportModels.RandomTokens(32, 9)) })
        {
            var error = ExportModels.WorstRelativeError(ExportModels.Logits(trained.Model, tokens), llama.Logits(tokens));
            output.WriteLine($"{type} on {label} tokens: worst max|Δlogit|/max|logit| = {error:E2}");
            Assert.InRange(error, 0, tolerance);
        }
    }

    [Fact]
    public void BatchedGreedyDecodingGivesEachPromptItsOwnContinuation()
    {
        // Prompts of different lengths and cycle phases in one llama_batch per step, as the decode benchmark runs them.
        int[][] prompts = [trained.CycleFrom(0, 6), trained.CycleFrom(9, 11), trained.CycleFrom(17, 4)];
        using var llama = LlamaCppReference.Load(trained.Export(GgufFileType.F32), ExportModels.Threads, contextSize: 256, maxSequences: 3);
        var result = llama.GreedyBatch(prompts, 32);
        output.WriteLine($"prefill {result.Prefill.TotalMilliseconds:F1} ms, decode {result.Decode.TotalMilliseconds:F1} ms ({result.DecodeTokensPerSecond:F0} tokens/s)");
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(ExportModels.Greedy(trained.Model, prompts[i], 32), result.Tokens[i]);
        Assert.True(result.Prefill > TimeSpan.Zero && result.Decode > TimeSpan.Zero);
    }
}
