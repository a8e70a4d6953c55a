using System.Diagnostics;
using ReasonSharp.Data;
using ReasonSharp.Distillation;
using ReasonSharp.Evaluation;
using ReasonSharp.Jobs;
using ReasonSharp.Modeling;
using ReasonSharp.Serving;
using ReasonSharp.Tests.Serving;
using ReasonSharp.Tests.Training;
using ReasonSharp.Training.Sft;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Distillation;

/// <summary>
/// Distillation end to end: a teacher trained in the test is served by `reason serve` on loopback; distill collects
/// its verified traces, is cancelled midway and rerun without repeating a finished request (requests counted on the
/// wire and through the cache); a fresh student SFT'd on the traces reaches a stated share of the teacher's held-out
/// accuracy. Two-operand addition and subtraction (LearningTasks), 2000 steps each (about two minutes).
/// </summary>
[Collection("Serial")]
public class DistillEndToEndTests(ITestOutputHelper output)
{
    /// <summary>The student must reach this share of the teacher's held-out accuracy.</summary>
    const double StudentShare = 0.7;
    const int Steps = 2000, DistilledPrompts = 1200;

    /// <summary>Counts the chat requests that go over the wire (POST bodies).</summary>
    sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
    {
        public List<string> Bodies { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request,
            CancellationToken token)
        {
            if (request.Content is not null)
            {
                var body = await request.Content.ReadAsStringAsync(token);
                lock (Bodies) Bodies.Add(body);
            }
            return await base.SendAsync(request, token);
        }
    }

    static SftResult Train(LanguageModel lm, IReadOnlyList<Example> train, IReadOnlyList<Example> test, string dir,
        int steps) =>
        new SftTrainer(lm, new SftConfig
        {
            OutputDir = dir, Device = "cpu", MaxLength = 128, LearningRate = 3e-3, LrSchedulerType = "cosine",
            WarmupSteps = 10, MaxSteps = steps, PerDeviceTrainBatchSize = 8, GradientCheckpointing = false,
            LoggingSteps = 100, SaveStrategy = "no", WriteReport = false, DisableTqdm = true,
            EvalStrategy = "steps", EvalSteps = steps, EvalReward = "accuracy", EvalAccuracySamples = test.Count,
            PerDeviceEvalBatchSize = test.Count, EvalMaxNewTokens = 64,
        }, new SftExamples(train, PromptCompletion: true, "train"),
            new SftExamples(test, PromptCompletion: true, "test"))
        {
            Progress = TrainingFixtures.Quiet,
        }.Train();

    [Fact]
    public async Task AStudentDistilledFromAServedTeacherReachesAShareOfItsAccuracyAndAKilledRunResumes()
    {
        using var oneThread = LearningTasks.OneTorchThread();
        var clock = Stopwatch.StartNew();
        using var dir = TestEnvironment.NewTempDir();
        var split = LearningTasks.DistinctProblems(3000, seed: 0).SplitTrainTest(64.0 / 3000, seed: 0);
        var train = LearningTasks.Examples(split.Train);
        var test = LearningTasks.Examples(split.Test);
        using var teacher = LearningTasks.NanoModel(dir, split.Train);
        var teacherAccuracy = Train(teacher, train, test, dir.File("teacher"), Steps).Accuracy[^1].Accuracy;
        var teacherSeconds = clock.Elapsed.TotalSeconds;

        await using var server = await ServerFixture.Start(teacher, "teacher", new ServeOptions { MaxBatch = 16 });
        var prompts = dir.File("prompts.jsonl");
        SyntheticDataset.WriteJsonl(prompts, split.Train.Take(DistilledPrompts));
        var options = new DistillOptions
        {
            Teacher = server.Address.ToString(), Dataset = prompts, OutputFile = dir.File("out/traces.jsonl"),
            N = 2, Keep = 1, Concurrency = 8, MaxTokens = 64, Temperature = 0.6, Seed = 1,
        };
        new DistillJob().Validate(options);
        using var handler = new CountingHandler();
        using var kill = new CancellationTokenSource();
        var context = new RunContext { Name = "distill", Log = _ => { }, Cancellation = kill.Token };
        int finishedBeforeKill = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => DistillJob.RunAsync(options, context, handler,
            _ => { if (Interlocked.Increment(ref finishedBeforeKill) == DistilledPrompts / 3) kill.Cancel(); }));
        var cache = new RequestCache(dir.File("out/traces.cache"));
        var cachedKeys = Directory.EnumerateFiles(cache.Folder, "*.json", SearchOption.AllDirectories)
            .Select(Path.GetFileNameWithoutExtension).ToHashSet();
        int sentBeforeKill = handler.Bodies.Count;
        var rowsAfterKill = File.ReadAllLines(options.OutputFile!).Length;

        var result = await DistillJob.RunAsync(options, context with { Cancellation = default }, handler);
        var summary = (DistillSummary)result.Details!;
        var resent = handler.Bodies.Skip(sentBeforeKill)
            .Count(b => cachedKeys.Contains(RequestCache.Key(new Uri(server.Address, "/v1/"), b)));
        var traces = File.ReadAllLines(options.OutputFile!);
        var distillSeconds = clock.Elapsed.TotalSeconds - teacherSeconds;

        var studentTrain = DatasetLoading.Load(options.OutputFile!, null, null, null);
        using var student = LanguageModel.Initialize("qwen2", ModelPresets.Get("nano"), dir.File("tokenizer"), seed: 7,
            maxPositions: 256, device: "cpu");
        var studentAccuracy = Train(student, studentTrain, test, dir.File("student"), Steps).Accuracy[^1].Accuracy;

        output.WriteLine($"{DistilledPrompts} of {train.Count} training prompts distilled, {test.Count} held out; " +
            $"teacher {teacherAccuracy:P1} " +
            $"held-out accuracy ({teacherSeconds:F0} s); killed after {finishedBeforeKill} prompts with " +
            $"{cachedKeys.Count} requests cached and {rowsAfterKill} rows written; rerun sent {summary.RequestsSent} " +
            $"requests ({resent} of them finished before), replayed {summary.CacheHits}; {summary.KeptRows} traces " +
            $"from {summary.Completions} completions (mean pass rate {summary.MeanPassRate:F3}), tokens " +
            $"{summary.Usage.PromptTokens}+{summary.Usage.CompletionTokens}; distill {distillSeconds:F0} s; student " +
            $"{studentAccuracy:P1} ({studentAccuracy / Math.Max(teacherAccuracy, 1e-9):P0} of the teacher); total " +
            $"{clock.Elapsed.TotalSeconds:F0} s");

        Assert.True(teacherAccuracy >= 0.7, $"the teacher only reached {teacherAccuracy:P1}");
        Assert.True(cachedKeys.Count > 0 && rowsAfterKill > 0 && rowsAfterKill < traces.Length);
        Assert.Equal(0, resent);
        Assert.Equal(cachedKeys.Count, summary.CacheHits);
        Assert.Equal(summary.Completions, summary.CacheHits + summary.RequestsSent);
        Assert.Equal(traces.Length, traces.Distinct().Count());
        Assert.Equal(summary.KeptRows, traces.Length);
        Assert.True(traces.Length >= DistilledPrompts / 4, $"only {traces.Length} verified traces");
        Assert.True(studentAccuracy >= StudentShare * teacherAccuracy,
            $"the student reached {studentAccuracy:P1}, under {StudentShare:P0} of the teacher's {teacherAccuracy:P1}");
    }
}
