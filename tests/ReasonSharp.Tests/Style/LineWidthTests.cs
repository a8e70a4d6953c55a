using System.Text;

namespace ReasonSharp.Tests.Style;

/// <summary>
/// Lines of C# are at most 120 characters (.editorconfig's max_line_length, docs/CONVENTIONS.md). Roslyn and
/// dotnet format do not enforce max_line_length, so this test does, over every .cs file in src, tests and bench.
/// </summary>
public class LineWidthTests
{
    public const int MaxLineLength = 120;

    /// <summary>
    /// Files still holding wider lines (issue 18 part 6). They were being edited on other branches when the rest of
    /// the code was wrapped, so wrapping them here would have collided; wrap a file, then delete its line here.
    /// </summary>
    static readonly HashSet<string> NotYetWrapped =
    [
        "bench/ReasonSharp.Bench/BenchRunner.cs",
        "bench/ReasonSharp.Bench/DecodeBench.cs",
        "bench/ReasonSharp.Bench/QuickstartSeedsBench.cs",
        "bench/ReasonSharp.Bench/SftBench.cs",
        "bench/ReasonSharp.Bench/TrainBench.cs",
        "src/ReasonSharp.Cli/CliRunner.cs",
        "src/ReasonSharp.Cli/Commands/ChatCommand.cs",
        "src/ReasonSharp.Cli/Commands/DataCommand.cs",
        "src/ReasonSharp.Cli/Commands/EvalCommand.cs",
        "src/ReasonSharp.Cli/Commands/ExportCommand.cs",
        "src/ReasonSharp.Cli/Commands/GenerateCommand.cs",
        "src/ReasonSharp.Cli/Commands/GrpoCommand.cs",
        "src/ReasonSharp.Cli/Commands/InfoCommand.cs",
        "src/ReasonSharp.Cli/Commands/InitModelCommand.cs",
        "src/ReasonSharp.Cli/Commands/MergeCommand.cs",
        "src/ReasonSharp.Cli/Commands/PipelineCommand.cs",
        "src/ReasonSharp.Cli/Commands/QuickstartCommand.cs",
        "src/ReasonSharp.Cli/Commands/RewardCommand.cs",
        "src/ReasonSharp.Cli/Commands/SampleCommand.cs",
        "src/ReasonSharp.Cli/Commands/SftCommand.cs",
        "src/ReasonSharp.Cli/Commands/StarCommand.cs",
        "src/ReasonSharp.Cli/Commands/TokenizeCommand.cs",
        "src/ReasonSharp.Cli/Commands/TokenizerCommand.cs",
        "src/ReasonSharp.Cli/Commands/VerifyCommand.cs",
        "src/ReasonSharp.Cli/CommonOptions.cs",
        "src/ReasonSharp.Cli/JobCli.cs",
        "src/ReasonSharp/Configuration/OptionsBinder.cs",
        "src/ReasonSharp/Data/HfDatasetFolder.cs",
        "src/ReasonSharp/Data/ReasoningTrace.cs",
        "src/ReasonSharp/Data/Synthetic/ColumnArithmetic.cs",
        "src/ReasonSharp/Evaluation/SamplingCheckpoint.cs",
        "src/ReasonSharp/Export/Gguf.cs",
        "src/ReasonSharp/Export/GgufExporter.cs",
        "src/ReasonSharp/Export/GgufReader.cs",
        "src/ReasonSharp/Export/GgufTokenizerMetadata.cs",
        "src/ReasonSharp/Export/GgufWriter.cs",
        "src/ReasonSharp/Generation/GenerationEngine.cs",
        "src/ReasonSharp/Generation/Rollouts.cs",
        "src/ReasonSharp/Generation/Sampler.cs",
        "src/ReasonSharp/Generation/SamplingOptions.cs",
        "src/ReasonSharp/Generation/StopStrings.cs",
        "src/ReasonSharp/Generation/ThinkingMode.cs",
        "src/ReasonSharp/Jobs/EvalJob.cs",
        "src/ReasonSharp/Jobs/InitJob.cs",
        "src/ReasonSharp/Jobs/Job.cs",
        "src/ReasonSharp/Jobs/JobRegistry.cs",
        "src/ReasonSharp/Jobs/MergeJob.cs",
        "src/ReasonSharp/Jobs/TrainingJobs.cs",
        "src/ReasonSharp/Modeling/Attention.cs",
        "src/ReasonSharp/Modeling/AttentionMask.cs",
        "src/ReasonSharp/Modeling/CausalLM.cs",
        "src/ReasonSharp/Modeling/DecodeKernels.cs",
        "src/ReasonSharp/Modeling/DecoderModel.cs",
        "src/ReasonSharp/Modeling/Devices.cs",
        "src/ReasonSharp/Modeling/ExplicitModule.cs",
        "src/ReasonSharp/Modeling/KvCache.cs",
        "src/ReasonSharp/Modeling/LanguageModel.cs",
        "src/ReasonSharp/Modeling/ModelConfig.cs",
        "src/ReasonSharp/Modeling/ModelFolder.cs",
        "src/ReasonSharp/Modeling/ModelPresets.cs",
        "src/ReasonSharp/Modeling/RotaryEmbedding.cs",
        "src/ReasonSharp/Modeling/Safetensors.cs",
        "src/ReasonSharp/Native/ThreadPolicy.cs",
        "src/ReasonSharp/Native/TorchNative.cs",
        "src/ReasonSharp/Recipes/Pipeline.cs",
        "src/ReasonSharp/Reporting/MetricsLog.cs",
        "src/ReasonSharp/Reporting/RunReport.cs",
        "src/ReasonSharp/Rewards/CompositeReward.cs",
        "src/ReasonSharp/Rewards/RewardSpecs.cs",
        "src/ReasonSharp/Rewards/Steps/ProcessReward.cs",
        "src/ReasonSharp/Rewards/Verification/AnswerExtractor.cs",
        "src/ReasonSharp/Rewards/Verification/LatexNormalizer.cs",
        "src/ReasonSharp/Rewards/Verification/MathEvaluator.cs",
        "src/ReasonSharp/Rewards/Verification/MathParser.cs",
        "src/ReasonSharp/Rewards/Verification/MathVerifyOptions.cs",
        "src/ReasonSharp/Tokenization/BpeTokenizerWriter.cs",
        "src/ReasonSharp/Tokenization/BpeTrainer.cs",
        "src/ReasonSharp/Tokenization/ByteLevel.cs",
        "src/ReasonSharp/Tokenization/Tokenizer.cs",
        "src/ReasonSharp/Tokenization/TokenizerConfig.cs",
        "src/ReasonSharp/Tokenization/TokenizerJson.cs",
        "src/ReasonSharp/Tokenization/TrainingCorpus.cs",
        "src/ReasonSharp/Training/LanguageModelingTask.cs",
        "src/ReasonSharp/Training/Lora/LoraAdapters.cs",
        "src/ReasonSharp/Training/Lora/LoraConfig.cs",
        "src/ReasonSharp/Training/Lora/LoraLinear.cs",
        "src/ReasonSharp/Training/MetricsLogger.cs",
        "src/ReasonSharp/Training/Sft/SftDataset.cs",
        "src/ReasonSharp/Training/Star/StarTrainer.cs",
        "src/ReasonSharp/Training/TensorBoardWriter.cs",
        "src/ReasonSharp/Training/Trainer.cs",
        "src/ReasonSharp/Training/TrainingReport.cs",
        "tests/ReasonSharp.Tests/Cli/FreshProcessTests.cs",
        "tests/ReasonSharp.Tests/Cli/ModelCliTests.cs",
        "tests/ReasonSharp.Tests/CliHarness.cs",
        "tests/ReasonSharp.Tests/Data/BadInputTests.cs",
        "tests/ReasonSharp.Tests/Data/DataCommandTests.cs",
        "tests/ReasonSharp.Tests/Data/HygieneTests.cs",
        "tests/ReasonSharp.Tests/Data/SchemaTests.cs",
        "tests/ReasonSharp.Tests/Evaluation/EvalSampleCliTests.cs",
        "tests/ReasonSharp.Tests/Evaluation/EvaluatorTests.cs",
        "tests/ReasonSharp.Tests/Evaluation/RejectionSamplerTests.cs",
        "tests/ReasonSharp.Tests/Evaluation/RejectionSelectionTests.cs",
        "tests/ReasonSharp.Tests/Export/ExportCommandTests.cs",
        "tests/ReasonSharp.Tests/Export/ExportFixtures.cs",
        "tests/ReasonSharp.Tests/Export/GgufFormatTests.cs",
        "tests/ReasonSharp.Tests/Export/LlamaCppParityTests.cs",
        "tests/ReasonSharp.Tests/Export/QuantizedExportTests.cs",
        "tests/ReasonSharp.Tests/Export/TokenizerExportTests.cs",
        "tests/ReasonSharp.Tests/Export/TrainedModelParityTests.cs",
        "tests/ReasonSharp.Tests/Generation/GenerationEngineTests.cs",
        "tests/ReasonSharp.Tests/Layering/NamespaceCycleTests.cs",
        "tests/ReasonSharp.Tests/Modeling/ConfigErrorTests.cs",
        "tests/ReasonSharp.Tests/Modeling/DecodeKernelTests.cs",
        "tests/ReasonSharp.Tests/Modeling/ModelTests.cs",
        "tests/ReasonSharp.Tests/Modeling/TinyModels.cs",
        "tests/ReasonSharp.Tests/Recipes/OptionsBinderTests.cs",
        "tests/ReasonSharp.Tests/Rewards/JudgeFixtures.cs",
        "tests/ReasonSharp.Tests/Rewards/LmStepScorerTests.cs",
        "tests/ReasonSharp.Tests/Rewards/MathVerifyTests.cs",
        "tests/ReasonSharp.Tests/Rewards/ProcessRewardTests.cs",
        "tests/ReasonSharp.Tests/Rewards/RewardApiTests.cs",
        "tests/ReasonSharp.Tests/Rewards/RewardCliTests.cs",
        "tests/ReasonSharp.Tests/TinyLanguageModels.cs",
        "tests/ReasonSharp.Tests/Tokenization/BpeTrainerTests.cs",
        "tests/ReasonSharp.Tests/Tokenization/ChatFormatTests.cs",
        "tests/ReasonSharp.Tests/Tokenization/Qwen3TokenizerTests.cs",
        "tests/ReasonSharp.Tests/Tokenization/TokenizationTestData.cs",
        "tests/ReasonSharp.Tests/Tokenization/TokenizerCliTests.cs",
        "tests/ReasonSharp.Tests/Tokenization/TokenizerLoadErrorTests.cs",
        "tests/ReasonSharp.Tests/Training/Grpo/GrpoTrainerTests.cs",
        "tests/ReasonSharp.Tests/Training/LanguageModelingTaskTests.cs",
        "tests/ReasonSharp.Tests/Training/LoraTests.cs",
        "tests/ReasonSharp.Tests/Training/Sft/LossMaskTests.cs",
        "tests/ReasonSharp.Tests/Training/Sft/PackingTests.cs",
        "tests/ReasonSharp.Tests/Training/Sft/SftCommandTests.cs",
        "tests/ReasonSharp.Tests/Training/Sft/SftLearningTests.cs",
        "tests/ReasonSharp.Tests/Training/Sft/SftTrainerTests.cs",
        "tests/ReasonSharp.Tests/Training/TensorBoardTests.cs",
        "tests/ReasonSharp.Tests/Training/TrainerTests.cs",
    ];

    static IEnumerable<string> CSharpFiles() =>
        new[] { "src", "tests", "bench" }
            .Select(folder => Path.Combine(TestEnvironment.RepoRoot, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories))
            .Select(path => Path.GetRelativePath(TestEnvironment.RepoRoot, path).Replace('\\', '/'))
            .Where(path => !path.Split('/').Any(part => part is "bin" or "obj"))
            .Order(StringComparer.Ordinal);

    /// <summary>Each line over the limit, as "file:line: N characters" (counting Unicode scalar values).</summary>
    static List<string> WideLines(string relativePath)
    {
        var wide = new List<string>();
        var lines = File.ReadAllLines(Path.Combine(TestEnvironment.RepoRoot, relativePath), Encoding.UTF8);
        for (var i = 0; i < lines.Length; i++)
        {
            var length = lines[i].EnumerateRunes().Count();
            if (length > MaxLineLength) wide.Add($"{relativePath}:{i + 1}: {length} characters");
        }
        return wide;
    }

    [Fact]
    public void NoLineIsWiderThan120Characters()
    {
        var files = CSharpFiles().ToList();
        Assert.NotEmpty(files);
        var wide = files.Where(file => !NotYetWrapped.Contains(file)).SelectMany(WideLines).ToList();
        Assert.True(wide.Count == 0,
            $"{wide.Count} lines are wider than {MaxLineLength} characters; wrap them:\n" + string.Join("\n", wide));
    }

    [Fact]
    public void EveryFileNotYetWrappedStillNeedsIt()
    {
        var files = CSharpFiles().ToHashSet();
        var stale = NotYetWrapped.Where(file => !files.Contains(file) || WideLines(file).Count == 0).Order().ToList();
        Assert.True(stale.Count == 0,
            "these files have no line over the limit (or are gone); delete them from NotYetWrapped:\n" +
            string.Join("\n", stale));
    }
}
