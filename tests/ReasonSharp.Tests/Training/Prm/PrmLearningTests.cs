using System.Diagnostics;
using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Steps;
using ReasonSharp.Training.Prm;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Training.Prm;

/// <summary>
/// The policy the PRM learning test labels with, trained once: a nano model briefly fine-tuned on two-operand sums
/// whose teacher always shows its column working, so that it often works a column wrongly.
/// </summary>
public sealed class PrmPolicyFixture : SftPolicyFixture
{
    public PrmPolicyFixture() : base("policy")
    {
        using var oneThread = LearningTasks.OneTorchThread();
        var clock = Stopwatch.StartNew();
        var split = LearningTasks.DistinctProblems(6_000, seed: 1).SplitTrainTest(0.1, seed: 1);
        Train = split.Train;
        Test = split.Test;
        using var lm = NanoModel(Train, seed: 1);
        FineTune(lm, Config(SftSteps) with { Seed = 1 }, LearningTasks.Examples(Train));
        Seconds = clock.Elapsed.TotalSeconds;
    }

    public const int SftSteps = 1200;
    public IReadOnlyList<SyntheticProblem> Train { get; }
    public IReadOnlyList<SyntheticProblem> Test { get; }
}

/// <summary>
/// A process reward model trained on labels made by <see cref="PrmLabeler"/> from a tiny policy's own solutions ranks
/// held-out steps (problems never labelled) by their exact correctness; as process_lm it picks among 8 samples in
/// eval (best-of-8, weighted maj@8 beside maj@8). The judge reads the policy's own text (step_join) with its least
/// likely token's log-probability (likelihood_feature); Math-Shepherd's judge is trained on the same labels for
/// comparison. Measured (seeds 0, 1, 2; BENCHMARKS.md): AUC 0.937, 0.932, 0.955 against 0.657, 0.618, 0.647.
/// </summary>
[Collection("Serial")]
public class PrmLearningTests(PrmPolicyFixture policy, ITestOutputHelper output) : IClassFixture<PrmPolicyFixture>
{
    /// <summary>Steps are the columns of the working: "…: 4+8=12 carry 1", "3+5+1=9", "so 92. … answer".</summary>
    const string Separator = ", ";
    const string StepTag = "#";

    static StepSplitter Splitter =>
        new(new StepSplitterOptions { Mode = StepSplitMode.Separator, Separator = Separator });

    /// <summary>A step is exactly correct when the solution up to it is the teacher's working up to it (the
    /// teacher's steps, whitespace normalised): every column and the final answer are checked against the
    /// truth.</summary>
    static bool[] ExactCorrectness(IReadOnlyList<string> steps, SyntheticProblem problem)
    {
        static string Normal(string s) =>
            string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        var teacher = Splitter.Split(problem.Completion);
        var correct = new bool[steps.Count];
        var onTrack = true;
        for (int k = 0; k < steps.Count; k++)
        {
            onTrack = onTrack && k < teacher.Count && Normal(steps[k]) == Normal(teacher[k]);
            correct[k] = onTrack;
        }
        return correct;
    }

    [Fact]
    public void An_auto_labelled_prm_ranks_held_out_steps_and_selects_among_samples() => Run(seed: 0);

    void Run(int seed)
    {
        using var oneThread = LearningTasks.OneTorchThread();
        var clock = Stopwatch.StartNew();
        var labelProblems = policy.Train.Take(LabelledProblems).ToList();
        var labels = policy.File($"labels-{seed}.jsonl");
        PrmLabelSummary summary;
        using (var lm = policy.Load())
        {
            var labeler = new PrmLabeler(new PrmLabelOptions
            {
                NumGenerations = 4, NumContinuations = 4, Split = StepSplitMode.Separator, Separator = Separator,
                MaxNewTokens = 64, Sampling = new() { Temperature = 1.0, TopP = 1.0 }, GenerationBatchSize = 256,
                ChunkSize = 100, Seed = seed, Overwrite = true,
            });
            summary = labeler.RunAsync(lm, LearningTasks.Examples(labelProblems), labels).GetAwaiter().GetResult();
        }
        var labelSeconds = clock.Elapsed.TotalSeconds;
        var rows = StepwiseData.Load(labels, "train", null, "dataset_name");
        // How well the automatic (HE) labels agree with the exact step correctness.
        var labelIndex = System.IO.File.ReadLines(labels).Select(l => JsonNode.Parse(l)!["prompt_index"]!
            .GetValue<int>()).ToList();
        var labelAgreement = rows.SelectMany((r, i) => r.Labels.Zip(ExactCorrectness(r.Completions,
            labelProblems[labelIndex[i]]), (label, exact) => label == exact)).Average(a => a ? 1.0 : 0.0);

        // Math-Shepherd's judge (the question, each step followed by the tag, read by the head alone), and the judge
        // that reads the policy's own text and adds its least likely token's log-probability to the good logit.
        var shepherdFolder = policy.File($"prm-shepherd-{seed}");
        var prmFolder = policy.File($"prm-{seed}");
        var shepherdConfig = new PrmConfig
        {
            OutputDir = shepherdFolder, ModelNameOrPath = "in-memory", DatasetName = "in-memory", Device = "cpu",
            StepSeparator = StepTag, LearningRate = 2e-3, LrSchedulerType = "cosine", WarmupSteps = 10,
            NumTrainEpochs = 6, PerDeviceTrainBatchSize = 32, GradientCheckpointing = false, LoggingSteps = 20,
            SaveStrategy = "no", WriteReport = false, DisableTqdm = true, Seed = 1 + seed,
        };
        var likelihoodConfig = shepherdConfig with
        {
            OutputDir = prmFolder,
            StepJoin = Separator,
            LikelihoodFeature = true,
            LearningRate = 1e-4,
        };
        PrmResult trained;
        using (var judge = policy.Load())
            new PrmTrainer(judge, shepherdConfig, rows) { Progress = TrainingFixtures.Quiet }.Train();
        var shepherdSeconds = clock.Elapsed.TotalSeconds - labelSeconds;
        using (var judge = policy.Load())
            trained = new PrmTrainer(judge, likelihoodConfig, rows) { Progress = TrainingFixtures.Quiet }.Train();
        var trainSeconds = clock.Elapsed.TotalSeconds - labelSeconds - shepherdSeconds;

        // Held-out: the policy's own samples on problems never labelled, each step judged against the truth.
        var heldOut = policy.Test.Take(HeldOutProblems).ToList();
        var examples = LearningTasks.Examples(heldOut);
        List<Rollout> samples;
        using (var lm = policy.Load())
        {
            var runner = new RolloutRunner(lm, new CompositeReward(RewardRegistry.CreateDefault().Create("accuracy")));
            samples = runner.RunAsync(examples, new RolloutOptions
            {
                NumSamples = 8, GenerationBatchSize = 256,
                Sampling = new SamplingOptions { MaxNewTokens = 64, Temperature = 1.0, Seed = 100 + seed },
            }).GetAwaiter().GetResult().ToList();
        }
        var items = samples.Select(s => (s, Steps: Splitter.Split(s.Generation.CompletionText))).Where(x =>
            x.Steps.Count > 0).ToList();
        var exact = items.Select(x => ExactCorrectness(x.Steps, heldOut[x.s.ExampleIndex])).ToList();
        List<IReadOnlyList<float>> Scores(string folder)
        {
            using var scorer = LmStepScorer.Load(folder, device: "cpu");
            return scorer.ScoreBatchAsync(items.Select(x => (RewardPrompt.FromMessages(x.s.Example.Prompt),
                x.Steps)).ToList()).GetAwaiter().GetResult().ToList();
        }
        var scores = Scores(prmFolder);
        var scored = scores.SelectMany((s, i) => s.Zip(exact[i], (score, ok) => (score, ok))).ToList();
        var auc = PrmTask.StepAuc(scored) ?? double.NaN;
        var shepherdAuc = PrmTask.StepAuc(Scores(shepherdFolder).SelectMany((s, i) => s.Zip(exact[i],
            (score, ok) => (score, ok))).ToList()) ?? double.NaN;

        var byPosition = string.Join(", ", Enumerable.Range(0, 3).Select(p =>
        {
            var at = items.SelectMany((x, i) => scores[i].Zip(exact[i], (score, ok) => (score, ok))
                .Where((_, k) => k == p || (p == 2 && k == x.Steps.Count - 1))).ToList();
            return $"{(p == 2 ? "last" : $"step {p + 1}")} {PrmTask.StepAuc(at) ?? double.NaN:F3} " +
                $"({at.Count(a => !a.ok)}/{at.Count} wrong)";
        }));
        output.WriteLine($"AUC by position: {byPosition}");

        // Best-of-8 and weighted majority by the PRM (process_lm, min over steps) against maj@8, through eval.
        var evalOptions = new EvalOptions
        {
            K = 8, MaxNewTokens = 64, Sampling = new() { Temperature = 1.0, TopP = 1.0 }, GenerationBatchSize = 256,
            Seed = 200 + seed,
            SelectionReward = $"process_lm(model={prmFolder},aggregation=min,split=separator," +
                "separator=\\x2C\\s,device=cpu)",
        };
        EvalMetrics selection;
        using (var lm = policy.Load())
            selection = new Evaluator(evalOptions).EvaluateAsync(lm, "policy", examples).GetAwaiter().GetResult()[0]
                .Metrics;
        output.WriteLine($"held-out best-of-8: pass@1 {selection.PassAt1:P1}, maj@8 {selection.MajAtK:P1}, PRM " +
            $"best-of-8 {selection.BestOfK:P1}, PRM-weighted maj@8 {selection.WeightedMajAtK:P1}, pass@8 " +
            $"{selection.PassAtK:P1}");

        output.WriteLine($"seed {seed}: policy ({PrmPolicyFixture.SftSteps} SFT steps, {policy.Seconds:F0} s); " +
            $"labels: {summary.Problems} problems, {summary.Rows} solutions ({summary.CorrectSolutions} correct), " +
            $"{summary.Steps} steps, {summary.GoodStepRate:P1} good (HE), {summary.Continuations} continuations, " +
            $"agreeing with exact correctness on {labelAgreement:P1} of steps, " +
            $"{labelSeconds:F0} s; PRM: {trained.TrainData.Describe()}, {trained.Training.GlobalStep} steps, final " +
            $"loss {trained.Training.Losses[^1]:F3}, {trainSeconds:F0} s (Math-Shepherd judge {shepherdSeconds:F0} " +
            $"s); held-out: {scored.Count} steps ({scored.Count(s => !s.ok)} wrong) of {samples.Count} samples on " +
            $"{heldOut.Count} problems, AUC {auc:F3} (Math-Shepherd judge {shepherdAuc:F3}); total " +
            $"{clock.Elapsed.TotalSeconds:F0} s; load " +
            System.IO.File.ReadAllText("/proc/loadavg").Trim());
        Assert.True(scored.Count(s => !s.ok) >= 50, "the policy makes too few wrong steps to measure");
        Assert.True(labelAgreement >= 0.95, $"automatic labels agree with the exact ones on only {labelAgreement:P1}");
        Assert.True(auc >= 0.8, $"held-out step AUC {auc:F3} < 0.8");
        // Math-Shepherd's judge: 0.645–0.757 by host (BENCHMARKS.md); asserted is only that it is above chance.
        Assert.True(shepherdAuc >= 0.55, $"the Math-Shepherd judge's held-out step AUC {shepherdAuc:F3} < 0.55");
        Assert.True(auc > shepherdAuc + 0.1, $"the likelihood feature adds too little: {auc:F3} against " +
            $"{shepherdAuc:F3}");
        Assert.NotNull(selection.BestOfK);
        Assert.NotNull(selection.WeightedMajAtK);
    }

    const int LabelledProblems = 400;
    const int HeldOutProblems = 100;
}
