using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Tests.Modeling;
using ReasonSharp.Training;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training;

/// <summary>Tiny models, random token data and quiet trainers for the training tests.</summary>
public static class TrainingFixtures
{
    public const int Vocab = 97;

    /// <summary><paramref name="count"/> random sequences of random length in [minLength, maxLength], from a fixed
    /// seed.</summary>
    public static List<TokenSequence> RandomSequences(int count, int minLength, int maxLength, int seed = 7)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ =>
                new TokenSequence(Enumerable.Range(0,
                random.Next(minLength, maxLength + 1)).Select(_ => (long)random.Next(2, Vocab)).ToArray()))
            .ToList();
    }

    public static CausalLM Model(string arch = "qwen2", long seed = 1)
    {
        var model = new CausalLM(TinyModels.Config(arch, tied: true), seed: seed);
        return model;
    }

    public static TrainingOptions Options(string outputDir) => new()
    {
        OutputDir = outputDir,
        LearningRate = 3e-3,
        LrSchedulerType = "linear",
        WarmupSteps = 2,
        MaxSteps = 8,
        PerDeviceTrainBatchSize = 2,
        GradientAccumulationSteps = 2,
        LoggingSteps = 1,
        SaveSteps = 4,
        Seed = 123,
        WriteReport = false,
        DisableTqdm = true,
    };

    public static ProgressDisplay Quiet => new(TextWriter.Null, interactive: false);

    public static Trainer NewTrainer(CausalLM model, ITrainingTask task, TrainingOptions options,
        ReasonSharp.Training.Lora.LoraAdapters? adapters = null) =>
        new(model, task, options, adapters) { Progress = Quiet };

    /// <summary>A copy of every parameter and buffer, detached.</summary>
    public static Dictionary<string, Tensor> Snapshot(nn.Module module) =>
        module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    public static bool BitIdentical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
