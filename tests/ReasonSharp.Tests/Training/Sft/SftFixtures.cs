using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Training;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Tests.Training.Sft;

/// <summary>Shared helpers of the SFT tests: quiet configs, one-batch losses and gradients, conversations.</summary>
public static class SftFixtures
{
    /// <summary>A quiet config for short runs in a temp folder.</summary>
    public static SftConfig Config(string outputDir) => new()
    {
        OutputDir = outputDir,
        LearningRate = 3e-3,
        MaxSteps = 4,
        PerDeviceTrainBatchSize = 4,
        LoggingSteps = 1,
        SaveStrategy = "no",
        GradientCheckpointing = false,
        DisableTqdm = true,
        WriteReport = false,
        Device = "cpu",
    };

    public static SftExamples Arithmetic(int count, int seed, int difficulty = 1) =>
        new(TinyLanguageModels.ArithmeticExamples(count, seed, difficulty), PromptCompletion: true, "synthetic");

    /// <summary>
    /// The token-mean loss, the loss weight and the gradients of one micro-batch holding all <paramref name="rows"/>,
    /// through <see cref="LanguageModelingTask"/> exactly as the loop computes them.
    /// </summary>
    public static (double Loss, double Weight,
        Dictionary<string, TorchSharp.torch.Tensor> Gradients) OneBatch(CausalLM model,
        IReadOnlyList<TokenSequence> rows)
    {
        var task = new LanguageModelingTask(rows, shuffle: false);
        var options = new TrainingOptions { PerDeviceTrainBatchSize = rows.Count, GradientAccumulationSteps = 1 };
        var context = new TrainingContext { Model = model, Options = options, Random = new TrainingRandom(0) };
        task.Initialize(context);
        using var batch = Assert.Single(task.NextStep(context).MicroBatches);
        model.zero_grad();
        using var scope = TorchSharp.torch.NewDisposeScope();
        var result = task.ComputeLoss(context, batch);
        result.Loss.backward();
        var gradients = model.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone().MoveToOuterDisposeScope());
        model.zero_grad();
        return (result.Loss.item<float>(), batch.Weight, gradients);
    }

    /// <summary>A two-turn conversation with a system prompt; user turns mention "assistant" to tempt a sloppy
    /// mask.</summary>
    public static IReadOnlyList<ChatMessage> TwoTurns() =>
    [
        ChatMessage.FromSystem("You are a careful solver. Show your work."),
        ChatMessage.FromUser("Compute 12+34. The assistant must think first."),
        new(ChatMessage.Assistant, "<think>\n2+4=6, 1+3=4, so 46.\n</think>\n<answer>\n46\n</answer>"),
        ChatMessage.FromUser("Now compute 5+6, assistant."),
        new(ChatMessage.Assistant, "<think>\n5+6=11.\n</think>\n<answer>\n11\n</answer>"),
    ];

    public static Example ExampleOf(IReadOnlyList<ChatMessage> messages, string source = "test line 1") =>
        new(messages, null, new Dictionary<string, System.Text.Json.JsonElement>(), source);
}
