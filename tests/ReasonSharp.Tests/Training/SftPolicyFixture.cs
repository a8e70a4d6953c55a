using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Tests.Training;

/// <summary>
/// A learning test's starting policy, trained once per test class: a nano model (<see cref="LearningTasks.NanoModel"/>)
/// fine-tuned by SFT on arithmetic prompt/completion traces and saved in a temporary folder, from which each test loads
/// a fresh copy. The subclass's constructor picks the problems and the SFT run (<see cref="Config"/> and
/// <see cref="FineTune"/>).
/// </summary>
public abstract class SftPolicyFixture(string modelFolderName) : IDisposable
{
    readonly TempDir _dir = TestEnvironment.NewTempDir();

    /// <summary>The SFT settings the policies share (cpu, max_length 128, lr 3e-3 cosine with 20 warm-up steps,
    /// batches of 16, no checkpoints or report); the subclass adds its seed and evaluation.</summary>
    protected SftConfig Config(int maxSteps) => new()
    {
        OutputDir = File("sft"), Device = "cpu", MaxLength = 128, LearningRate = 3e-3, LrSchedulerType = "cosine",
        WarmupSteps = 20, MaxSteps = maxSteps, PerDeviceTrainBatchSize = 16, GradientCheckpointing = false,
        LoggingSteps = 500, SaveStrategy = "no", WriteReport = false, DisableTqdm = true,
    };

    /// <summary>A nano model whose tokenizer is trained on <paramref name="problems"/> (in the fixture's
    /// folder).</summary>
    protected LanguageModel NanoModel(IEnumerable<SyntheticProblem> problems, long seed = 0) =>
        LearningTasks.NanoModel(_dir, problems, seed);

    /// <summary>Trains <paramref name="lm"/> on <paramref name="train"/> (held out: <paramref name="test"/>) and saves
    /// it as the policy.</summary>
    protected SftResult FineTune(LanguageModel lm, SftConfig config, List<Example> train, List<Example>? test = null)
    {
        var result = new SftTrainer(lm, config, new SftExamples(train, PromptCompletion: true, "arithmetic"),
            test is null ? null : new SftExamples(test, PromptCompletion: true, "arithmetic"))
        {
            Progress = TrainingFixtures.Quiet,
        }.Train();
        lm.Save(ModelFolder);
        return result;
    }

    public double Seconds { get; protected set; }
    public string ModelFolder => _dir.File(modelFolderName);
    public string File(string name) => _dir.File(name);

    /// <summary>A fresh copy of the policy (float32 safetensors: bit for bit the trained weights).</summary>
    public LanguageModel Load() => LanguageModel.Load(ModelFolder, "cpu");

    public void Dispose()
    {
        _dir.Dispose();
        GC.SuppressFinalize(this);
    }
}
