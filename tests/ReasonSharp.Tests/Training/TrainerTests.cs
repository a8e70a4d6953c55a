using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using ReasonSharp.Training;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training;

public class TrainerTests
{
    static readonly List<TokenSequence> Data = TrainingFixtures.RandomSequences(10, 6, 14);

    static TrainingResult Run(TrainingOptions options, Action<Trainer>? configure = null, Func<Trainer>? make = null)
    {
        using var model = TrainingFixtures.Model();
        var trainer = TrainingFixtures.NewTrainer(model, new LanguageModelingTask(Data), options);
        configure?.Invoke(trainer);
        return trainer.Train();
    }

    [Fact]
    public void ResumingFromAMidRunCheckpointReproducesTheUninterruptedLosses()
    {
        using var full = TestEnvironment.NewTempDir();
        using var split = TestEnvironment.NewTempDir();
        var reference = Run(TrainingFixtures.Options(full.Path));
        Assert.Equal(8, reference.Steps.Count);

        // The interrupted run dies at step 6, after checkpoint-4 was written.
        var options = TrainingFixtures.Options(split.Path);
        using (var model = TrainingFixtures.Model())
        {
            var trainer = TrainingFixtures.NewTrainer(model, new LanguageModelingTask(Data), options);
            trainer.Logged += line =>
                { if (line["step"]!.GetValue<long>() == 6) throw new OperationCanceledException("simulated kill"); };
            Assert.Throws<OperationCanceledException>(() => trainer.Train());
        }
        Assert.True(Directory.Exists(Path.Combine(split.Path, "checkpoint-4")));

        var resumed = Run(options with { ResumeFromCheckpoint = "latest" });
        Assert.Equal(8, resumed.GlobalStep);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(reference.Steps[i].Step, resumed.Steps[i].Step);
            Assert.True(Math.Abs(reference.Steps[i].Loss - resumed.Steps[i].Loss) <= 1e-6,
                $"step {i + 1}: loss {resumed.Steps[i].Loss} after resume vs {reference.Steps[i].Loss} uninterrupted");
            Assert.True(Math.Abs(reference.Steps[i].GradNorm - resumed.Steps[i].GradNorm) <= 1e-5 * reference.Steps[i].GradNorm);
        }
        // metrics.jsonl holds each step once: the lines the killed run wrote after step 4 were replaced.
        var steps =
            File.ReadLines(Path.Combine(split.Path, MetricsLogger.MetricsFile)).Select(l =>
            JsonNode.Parse(l)!["step"]!.GetValue<long>()).ToList();
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), steps);
        // The final model is saved in the run folder and equals the uninterrupted one.
        using var a = ModelFolder.Load(full.Path);
        using var b = ModelFolder.Load(split.Path);
        foreach (var (name, tensor) in a.state_dict())
            Assert.True((tensor - b.state_dict()[name]).abs().max().item<float>() < 1e-6, name);
    }

    [Fact]
    public void AKillDuringACheckpointWriteLeavesThePreviousCheckpointAndResumeUsesIt()
    {
        using var full = TestEnvironment.NewTempDir();
        using var dir = TestEnvironment.NewTempDir();
        var baseOptions = TrainingFixtures.Options(dir.Path) with { MaxSteps = 6, SaveSteps = 2, SaveTotalLimit = 2 };
        var reference = Run(baseOptions with { OutputDir = full.Path });

        using (var model = TrainingFixtures.Model())
        {
            int files = 0;
            var trainer = new Trainer(model, new LanguageModelingTask(Data), baseOptions)
            {
                Progress = TrainingFixtures.Quiet,
                CheckpointFileWritten = folder =>
                {
                    if (Path.GetFileName(folder).StartsWith("checkpoint-4.tmp-")
                        && ++files == 2) throw new IOException("simulated kill during the checkpoint write");
                },
            };
            Assert.Throws<IOException>(() => trainer.Train());
        }
        var names = Directory.GetDirectories(dir.Path).Select(Path.GetFileName).ToList();
        Assert.Contains("checkpoint-2", names);
        Assert.DoesNotContain("checkpoint-4", names);
        Assert.Contains(names, n => n!.StartsWith("checkpoint-4.tmp-"));
        Assert.Equal(2, Checkpoints.List(dir.Path).Single().Step);
        using (var loadable =
            ModelFolder.Load(Path.Combine(dir.Path, "checkpoint-2"))) Assert.True(loadable.ParameterCount() > 0);

        var resumed = Run(baseOptions with { ResumeFromCheckpoint = "latest" });
        Assert.DoesNotContain(Directory.GetDirectories(dir.Path), d => d.Contains(".tmp-"));
        for (int i = 0; i < 6; i++) Assert.True(Math.Abs(reference.Steps[i].Loss - resumed.Steps[i].Loss) <= 1e-6,
            $"step {i + 1}");
        // save_total_limit 2 keeps checkpoints 4 and 6.
        Assert.Equal([4L, 6L], Checkpoints.List(dir.Path).Select(c => c.Step));
        var checkpoint = Path.Combine(dir.Path, "checkpoint-6");
        foreach (var file in new[] { "config.json", "model.safetensors", Trainer.OptimizerFile, Trainer.SchedulerFile, Trainer.RngFile, Trainer.TaskStateFile, Checkpoints.TrainerStateFile })
            Assert.True(File.Exists(Path.Combine(checkpoint, file)), file);
    }

    [Fact]
    public void LossGoesDownOnAMemorisableTask()
    {
        using var dir = TestEnvironment.NewTempDir();
        var data = TrainingFixtures.RandomSequences(8, 12, 12, seed: 3);
        var options = TrainingFixtures.Options(dir.Path) with
        {
            MaxSteps = 60,
            PerDeviceTrainBatchSize = 8,
            GradientAccumulationSteps = 1,
            LearningRate = 1e-2,
            WarmupSteps = 5,
            LoggingSteps = 10,
            SaveStrategy = "no",
            EvalStrategy = "steps",
            EvalSteps = 30,
        };
        using var model = TrainingFixtures.Model("llama");
        var result = TrainingFixtures.NewTrainer(model, new LanguageModelingTask(data, eval: data), options).Train();
        double first = result.Losses[0], last = result.Losses[^1];
        Assert.True(first > 4.0, $"initial loss {first} should be near ln(97) = 4.57");
        Assert.True(last < 1.0, $"loss went from {first:F3} to only {last:F3} after 60 steps on 8 memorisable " +
            $"sequences");
        var eval = result.LogHistory.Where(l => l.ContainsKey("eval_loss")).ToList();
        Assert.Equal([30L, 60L], eval.Select(l => l["step"]!.GetValue<long>()));
        Assert.True(eval[^1]["eval_mean_token_accuracy"]!.GetValue<double>() > 0.7);
    }

    /// <summary>Wraps the language-modelling task and makes the loss NaN on chosen steps.</summary>
    sealed class PoisonedTask(ITrainingTask inner, Func<long, bool> poisoned) : ITrainingTask
    {
        public void Initialize(TrainingContext context) => inner.Initialize(context);
        public long? StepsPerEpoch => inner.StepsPerEpoch;
        public TrainingStep NextStep(TrainingContext context) => inner.NextStep(context);
        public LossResult ComputeLoss(TrainingContext context, MicroBatch batch)
        {
            var result = inner.ComputeLoss(context, batch);
            return poisoned(context.GlobalStep + 1) ? result with { Loss = result.Loss * double.NaN } : result;
        }
        public JsonNode SaveState() => inner.SaveState();
        public void LoadState(JsonNode state) => inner.LoadState(state);
    }

    [Fact]
    public void TheNanGuardSkipsStepsAndThenStops()
    {
        using var dir = TestEnvironment.NewTempDir();
        var options = TrainingFixtures.Options(dir.Path) with { MaxSteps = 10, MaxNanSteps = 3, SaveStrategy = "no" };
        using var model = TrainingFixtures.Model();
        var snapshots = new Dictionary<long, Dictionary<string, Tensor>>();
        var trainer =
            TrainingFixtures.NewTrainer(model,
            new PoisonedTask(new LanguageModelingTask(Data), step => step is 3 or >= 5), options);
        trainer.Logged += line => snapshots[line["step"]!.GetValue<long>()] = TrainingFixtures.Snapshot(model);
        var error = Assert.Throws<ReasonSharpException>(() => trainer.Train());
        Assert.Contains("max_nan_steps=3", error.Message);
        Assert.Contains("step 6", error.Message);
        // Step 3 was skipped: the weights after it equal those after step 2; step 4 trained normally.
        foreach (var (name, tensor) in snapshots[2]) Assert.True(TrainingFixtures.BitIdentical(tensor,
            snapshots[3][name]), name);
        Assert.Contains(snapshots[4], kv => !TrainingFixtures.BitIdentical(kv.Value, snapshots[3][kv.Key]));
        var log =
            File.ReadLines(Path.Combine(dir.Path, MetricsLogger.MetricsFile)).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(1, log.Single(l => l["step"]!.GetValue<long>() == 3)["skipped_steps"]!.GetValue<int>());
        Assert.Null(log.Single(l => l["step"]!.GetValue<long>() == 3)["loss"]);
    }

    [Fact]
    public void GradientClippingReportsThePreClipNormAndClips()
    {
        using var model = TrainingFixtures.Model();
        var p1 = model.parameters().First();
        var p2 = model.parameters().Skip(1).First();
        using (no_grad())
        {
            p1.grad = zeros_like(p1);
            p2.grad = zeros_like(p2);
            p1.grad.view(-1)[0] = tensor(3f);
            p1.grad.view(-1)[1] = tensor(4f);
            p2.grad.view(-1)[0] = tensor(12f);
        }
        var parameters = new[] { p1, p2 };
        Assert.Equal(13.0, Trainer.GradientNorm(parameters), 5);
        Trainer.ClipGradients(parameters, 13.0, 1.0);
        Assert.Equal(1.0, Trainer.GradientNorm(parameters), 5);
        Assert.Equal(12.0 / 13.0, p2.grad!.view(-1)[0].item<float>(), 5);
        Trainer.ClipGradients(parameters, 1.0, 5.0);
        Assert.Equal(1.0, Trainer.GradientNorm(parameters), 5);

        // In a run with a tiny max_grad_norm the reported norm is the pre-clip one: the norm of the first step's
        // gradient computed independently on the same batch and weights.
        using var dir = TestEnvironment.NewTempDir();
        var options = TrainingFixtures.Options(dir.Path) with { MaxSteps = 1, MaxGradNorm = 1e-3, GradientAccumulationSteps = 1, SaveStrategy = "no" };
        using var fresh = TrainingFixtures.Model();
        var task = new LanguageModelingTask(Data);
        var context = new TrainingContext { Model = fresh, Options = options, Random = new TrainingRandom(1) };
        task.Initialize(context);
        var step = task.NextStep(context);
        task.ComputeLoss(context, step.MicroBatches[0]).Loss.backward();
        double expected = Trainer.GradientNorm(fresh.parameters());
        var result = Run(options);
        Assert.True(expected > 1e-2);
        Assert.Equal(expected, result.Steps[0].GradNorm, 4);
    }

    [Fact]
    public void OptionsAreValidatedNamingTheField()
    {
        var error =
            Assert.Throws<ReasonSharpException>(() =>
            new TrainingOptions { LrSchedulerType = "polynomial" }.Validate());
        Assert.Contains("lr_scheduler_type", error.Message);
        error = Assert.Throws<ReasonSharpException>(() =>
            new TrainingOptions { GradientAccumulationSteps = 0 }.Validate());
        Assert.Contains("gradient_accumulation_steps", error.Message);
        var json = new TrainingOptions().ToJson();
        Assert.Equal(5e-5, json["learning_rate"]!.GetValue<double>());
        Assert.Equal(1.0, json["max_grad_norm"]!.GetValue<double>());
        Assert.Equal("linear", json["lr_scheduler_type"]!.GetValue<string>());
        Assert.Equal(8, json["per_device_train_batch_size"]!.GetValue<int>());
        Assert.Equal(0.999, json["adam_beta2"]!.GetValue<double>());
        Assert.False(json["weight_decay_all_parameters"]!.GetValue<bool>());
        Assert.Equal(-1, json["max_steps"]!.GetValue<long>());
    }

    [Fact]
    public void ResumingFromAMissingCheckpointIsAClearError()
    {
        using var dir = TestEnvironment.NewTempDir();
        var error =
            Assert.Throws<ReasonSharpException>(() =>
            Run(TrainingFixtures.Options(dir.Path) with { ResumeFromCheckpoint = "latest" }));
        Assert.Contains("no complete checkpoint-N", error.Message);
    }
}
