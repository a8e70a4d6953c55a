using System.Diagnostics;
using System.Text.Json.Nodes;
using ReasonSharp.Modeling;
using ReasonSharp.Reporting;
using ReasonSharp.Training.Lora;
using static TorchSharp.torch;

namespace ReasonSharp.Training;

/// <summary>The outcome of <see cref="Trainer.Train"/>.</summary>
public sealed record TrainingResult(long GlobalStep, IReadOnlyList<StepRecord> Steps,
    IReadOnlyList<JsonObject> LogHistory, string OutputDir, double Seconds)
{
    /// <summary>The losses of the steps that were not skipped, in order.</summary>
    public IReadOnlyList<double> Losses => Steps.Where(s => !s.Skipped).Select(s => s.Loss).ToList();
}

/// <summary>
/// The one training loop behind SFT, GRPO and rejection sampling: the <see cref="ITrainingTask"/> makes the batches and
/// losses; the loop does AdamW, the learning-rate schedule, gradient accumulation, clipping, the NaN/Inf guard,
/// evaluation, atomic checkpoints with exact resume, metrics (JSONL, TensorBoard, console) and the final report.
/// </summary>
public sealed class Trainer(CausalLM model, ITrainingTask task, TrainingOptions options, LoraAdapters? adapters = null)
{
    public const string OptionsFile = "training_args.json";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string SchedulerFile = "scheduler.json";
    public const string RngFile = "rng_state.safetensors";
    public const string TaskStateFile = "task_state.json";

    /// <summary>Where the progress bar and log lines go (default: the console, plain lines when redirected).</summary>
    public ProgressDisplay? Progress { get; init; }
    /// <summary>How full-model checkpoints and the final model are saved (e.g. the tokenizer folder to copy).</summary>
    public ModelSaveOptions? ModelSaveOptions { get; init; }
    /// <summary>Adds trainer-specific plots, tables and samples to report.html (e.g. GRPO's rewards and
    /// completions).</summary>
    public Action<RunReport, TrainingResult>? ExtendReport { get; init; }
    /// <summary>Called after every optimizer step, before logging, evaluation and checkpointing.</summary>
    public Action<StepRecord>? StepCompleted { get; init; }
    /// <summary>Called with every metrics line after it is written.</summary>
    public event Action<JsonObject>? Logged;

    /// <summary>Test hook: called after each file of a checkpoint is written into its temporary folder.</summary>
    internal Action<string>? CheckpointFileWritten { get; init; }

    public TrainingResult Train()
    {
        Native.TorchNative.EnsureLoaded();
        Validation.Once(options, options.Validate);
        var outputDir = options.OutputDir;
        var progress = Progress ?? ProgressDisplay.ForConsole(options.DisableTqdm);
        if (RunFolder.Prepare(options) is { } cleared) progress.WriteLine(cleared);
        Directory.CreateDirectory(outputDir);
        var resumeFrom = options.ResumeFromCheckpoint is { } spec ? Checkpoints.Resolve(spec, outputDir) : null;
        Checkpoints.RemoveIncomplete(outputDir);
        AtomicFile.WriteAllText(Path.Combine(outputDir, OptionsFile),
            options.ToJson().ToJsonString(TrainingOptions.Json));

        var random = new TrainingRandom(options.Seed);
        TorchSharp.torch.random.manual_seed(options.Seed);
        if (cuda.is_available()) cuda.manual_seed_all(options.Seed);
        var context = new TrainingContext { Model = model, Options = options, Random = random, Adapters = adapters };
        task.Initialize(context);

        var state = new TrainerState { StepsPerEpoch = task.StepsPerEpoch, MaxSteps = TotalSteps(task.StepsPerEpoch) };
        context.MaxSteps = state.MaxSteps;
        var schedule = LearningRateSchedule.FromOptions(options, state.MaxSteps);
        using var optimizer = AdamWOptimizer.ForModel(model, options);
        if (optimizer.Parameters.Count == 0) throw new ReasonSharpException("the model has no trainable parameters " +
            "(every requires_grad is false)");

        if (resumeFrom is not null)
        {
            var saved = LoadCheckpoint(resumeFrom, optimizer, random, schedule);
            saved.MaxSteps = state.MaxSteps;
            saved.StepsPerEpoch = state.StepsPerEpoch;
            state = saved;
        }
        context.GlobalStep = state.GlobalStep;

        using var logger = new MetricsLogger(outputDir, progress, state.LogHistory, state.GlobalStep);
        if (resumeFrom is not null) progress.WriteLine($"resumed from {resumeFrom} at step {state.GlobalStep}");

        var previousRunner = model.Model.LayerRunner;
        if (options.GradientCheckpointing) GradientCheckpointing.Enable(model);
        bool wasTraining = model.training;
        model.train();
        var clock = Stopwatch.StartNew();
        long startStep = state.GlobalStep;
        try
        {
            while (state.GlobalStep < state.MaxSteps)
            {
                var record = RunStep(context, optimizer, schedule, state);
                state.Steps.Add(record);
                context.GlobalStep = state.GlobalStep = record.Step;
                StepCompleted?.Invoke(record);
                if (record.Skipped)
                {
                    progress.WriteLine($"step {record.Step}: skipped, non-finite loss or gradient norm, or no loss " +
                        $"weight (loss={record.Loss}, grad_norm={record.GradNorm}); {state.NanSteps} of at most " +
                        $"{options.MaxNanSteps}");
                    if (state.NanSteps >= options.MaxNanSteps)
                        throw new ReasonSharpException($"training stopped at step {record.Step}: {state.NanSteps} " +
                            $"steps had a non-finite loss or gradient norm (max_nan_steps={options.MaxNanSteps}); " +
                            $"lower learning_rate or check the data");
                }

                var done = state.GlobalStep - startStep;
                var eta = TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / done * (state.MaxSteps - state.GlobalStep));
                progress.Update(state.GlobalStep, state.MaxSteps, record.Loss,
                    record.Tokens / Math.Max(1e-9, record.Seconds), eta);

                if (state.GlobalStep % options.LoggingSteps == 0 || (options.LoggingFirstStep && state.GlobalStep == 1)
                    || state.GlobalStep == state.MaxSteps)
                    Log(logger, state, TrainLine(state));
                if (options.EvalStrategy == "steps"
                    && (state.GlobalStep % (options.EvalSteps ?? options.LoggingSteps) == 0
                    || state.GlobalStep == state.MaxSteps))
                    Evaluate(context, logger, state);
                if (options.SaveStrategy == "steps" && state.GlobalStep % options.SaveSteps == 0)
                {
                    state.RandomState = random.State;
                    Checkpoints.Write(outputDir, state.GlobalStep,
                        folder => WriteCheckpoint(folder, optimizer, schedule, state));
                    Checkpoints.Rotate(outputDir, options.SaveTotalLimit);
                }
            }
        }
        finally
        {
            progress.Finish();
            model.Model.LayerRunner = previousRunner;
            model.train(wasTraining);
        }

        state.RandomState = random.State;
        SaveWeights(outputDir);
        state.Save(Path.Combine(outputDir, Checkpoints.TrainerStateFile));
        var result =
            new TrainingResult(state.GlobalStep, state.Steps, state.LogHistory, outputDir, clock.Elapsed.TotalSeconds);
        if (options.WriteReport) WriteReport(result);
        return result;
    }

    long TotalSteps(long? stepsPerEpoch)
    {
        if (options.MaxSteps > 0) return options.MaxSteps;
        if (stepsPerEpoch is not { } perEpoch)
            throw new ReasonSharpException("training option 'max_steps' must be set: this task has no epochs to " +
                "count with num_train_epochs");
        return Math.Max(1, (long)Math.Ceiling(options.NumTrainEpochs * perEpoch));
    }

    StepRecord RunStep(TrainingContext context, AdamWOptimizer optimizer, LearningRateSchedule schedule,
        TrainerState state)
    {
        var clock = Stopwatch.StartNew();
        double lr = options.LearningRate * schedule.Factor(state.GlobalStep);
        var step = task.NextStep(context);
        double totalWeight = step.MicroBatches.Sum(b => b.Weight);
        double loss = 0, gradNorm = double.NaN;
        long tokens = step.MicroBatches.Sum(b => b.Tokens);
        var metrics = new Dictionary<string, double>(step.Metrics ?? new Dictionary<string, double>());
        bool finite = totalWeight > 0;
        var batchesStart = clock.Elapsed;
        var optimizerStart = batchesStart;
        try
        {
            foreach (var batch in step.MicroBatches)
            {
                if (!finite) break;
                using var scope = NewDisposeScope();
                var result = task.ComputeLoss(context, batch);
                double value = result.Loss.item<float>();
                if (!double.IsFinite(value)) { finite = false; loss = value; break; }
                double share = batch.Weight / totalWeight;
                HeldScalars.With(share, s => result.Loss.mul(s)).backward();
                loss += value * share;
                foreach (var (name, metric) in result.Metrics ?? new Dictionary<string, double>())
                    metrics[name] = metrics.GetValueOrDefault(name) + metric * share;
            }
            optimizerStart = clock.Elapsed;
            if (finite)
            {
                gradNorm = GradientNorm(optimizer.Parameters);
                finite = double.IsFinite(gradNorm);
            }
            if (finite)
            {
                if (options.MaxGradNorm > 0) ClipGradients(optimizer.Parameters, gradNorm, options.MaxGradNorm);
                optimizer.Step(lr);
            }
            else
            {
                state.NanSteps++;
                if (totalWeight <= 0) loss = double.NaN;
            }
        }
        finally
        {
            optimizer.ZeroGrad();
            foreach (var batch in step.MicroBatches) batch.Dispose();
        }
        // Where the step's time went, beside what the task measured in NextStep (GRPO: generation, reference).
        metrics["time/loss_backward"] = (optimizerStart - batchesStart).TotalSeconds;
        metrics["time/optimizer"] = (clock.Elapsed - optimizerStart).TotalSeconds;
        return new StepRecord(state.GlobalStep + 1, loss, gradNorm, lr, !finite, tokens, clock.Elapsed.TotalSeconds,
            metrics);
    }

    /// <summary>Global L2 norm of the gradients (norm of the per-parameter norms, as torch's
    /// clip_grad_norm_).</summary>
    public static double GradientNorm(IEnumerable<Tensor> parameters)
    {
        using var scope = NewDisposeScope();
        var norms =
            parameters.Select(p => p.grad).Where(g => g is not null).Select(g =>
            linalg.vector_norm(g!).to(float64)).ToList();
        return norms.Count == 0 ? 0 : stack(norms).square().sum().sqrt().item<double>();
    }

    /// <summary>Scales the gradients by max_norm / (norm + 1e-6) when that is below 1, as torch's
    /// clip_grad_norm_.</summary>
    public static void ClipGradients(IEnumerable<Tensor> parameters, double norm, double maxNorm)
    {
        double coefficient = maxNorm / (norm + 1e-6);
        if (coefficient >= 1) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using TorchSharp.Scalar scale = coefficient;
        foreach (var grad in parameters.Select(p => p.grad).Where(g => g is not null)) grad!.mul_(scale);
    }

    /// <summary>The window since the previous train line: mean loss and task metrics, last lr and grad norm, tokens/s,
    /// memory.</summary>
    JsonObject TrainLine(TrainerState state)
    {
        long lastLogged =
            state.LogHistory.LastOrDefault(l => l.ContainsKey("loss")
            || l.ContainsKey("skipped_steps"))?["step"]?.GetValue<long>() ?? 0;
        var window = state.Steps.Where(s => s.Step > lastLogged).ToList();
        var good = window.Where(s => !s.Skipped).ToList();
        var line = new JsonObject { ["step"] = state.GlobalStep, ["epoch"] = state.Epoch(state.GlobalStep) };
        if (good.Count > 0)
        {
            line["loss"] = good.Average(s => s.Loss);
            line["grad_norm"] = good[^1].GradNorm;
            foreach (var name in good.SelectMany(s => s.Metrics.Keys).Distinct())
            {
                var values =
                    good.Where(s => s.Metrics.ContainsKey(name)).Select(s =>
                    s.Metrics[name]).Where(double.IsFinite).ToList();
                if (values.Count > 0) line[name] = values.Average();
            }
        }
        line["learning_rate"] = window[^1].LearningRate;
        double seconds = window.Sum(s => s.Seconds);
        line["tokens_per_second"] = Math.Round(window.Sum(s => s.Tokens) / Math.Max(1e-9, seconds), 2);
        line["step_seconds"] = Math.Round(seconds / window.Count, 4);
        line["num_tokens"] = state.Steps.Sum(s => s.Tokens);
        line["memory_rss_mb"] = Math.Round(ProcessMemory.CurrentBytes() / 1048576.0, 1);
        line["memory_peak_rss_mb"] = Math.Round(ProcessMemory.PeakBytes() / 1048576.0, 1);
        if (window.Count > good.Count) line["skipped_steps"] = window.Count - good.Count;
        return line;
    }

    void Evaluate(TrainingContext context, MetricsLogger logger, TrainerState state)
    {
        model.eval();
        IReadOnlyDictionary<string, double>? metrics;
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            metrics = task.Evaluate(context);
        }
        finally { model.train(); }
        if (metrics is null) return;
        var line = new JsonObject { ["step"] = state.GlobalStep, ["epoch"] = state.Epoch(state.GlobalStep) };
        foreach (var (name, value) in metrics) line[$"eval_{name}"] = value;
        Log(logger, state, line);
    }

    void Log(MetricsLogger logger, TrainerState state, JsonObject line)
    {
        state.LogHistory.Add(line);
        logger.Log(line);
        Logged?.Invoke(line);
    }

    void SaveWeights(string folder)
    {
        if (adapters is not null) adapters.Save(folder, model.Config.Source?["_name_or_path"]?.GetValue<string>());
        else ModelFolder.Save(model, folder, ModelSaveOptions);
    }

    /// <summary>Model or adapter, optimizer, scheduler, RNG states, task position, and the trainer state last (it marks
    /// completeness).</summary>
    void WriteCheckpoint(string folder, AdamWOptimizer optimizer, LearningRateSchedule schedule, TrainerState state)
    {
        SaveWeights(folder);
        CheckpointFileWritten?.Invoke(folder);
        optimizer.Save(Path.Combine(folder, OptimizerFile));
        CheckpointFileWritten?.Invoke(folder);
        var scheduler = new JsonObject
        {
            ["lr_scheduler_type"] = schedule.Type, ["warmup_steps"] = schedule.WarmupSteps,
            ["total_steps"] = schedule.TotalSteps,
            ["last_step"] = state.GlobalStep, ["base_learning_rate"] = options.LearningRate,
        };
        AtomicFile.WriteAllText(Path.Combine(folder, SchedulerFile), scheduler.ToJsonString(TrainingOptions.Json));
        using (var scope = NewDisposeScope())
        {
            var states = new List<(string, Tensor)> { ("torch_cpu", TorchSharp.torch.random.get_rng_state()) };
            if (adapters?.DropoutGenerator is { } dropout) states.Add(("lora_dropout", dropout.get_state()));
            SafetensorsWriter.Write(Path.Combine(folder, RngFile), states);
        }
        AtomicFile.WriteAllText(Path.Combine(folder, TaskStateFile),
            task.SaveState().ToJsonString(TrainingOptions.Json));
        CheckpointFileWritten?.Invoke(folder);
        state.Save(Path.Combine(folder, Checkpoints.TrainerStateFile));
    }

    TrainerState LoadCheckpoint(string folder, AdamWOptimizer optimizer, TrainingRandom random,
        LearningRateSchedule schedule)
    {
        var state = TrainerState.Load(Path.Combine(folder, Checkpoints.TrainerStateFile));
        if (adapters is not null)
        {
            if (!File.Exists(Path.Combine(folder, LoraConfig.WeightsFile)))
                throw new ReasonSharpException($"{folder}: no {LoraConfig.WeightsFile}; this checkpoint holds a " +
                    $"full model, but the run trains LoRA adapters");
            adapters.LoadWeights(folder);
        }
        else
        {
            if (!File.Exists(Path.Combine(folder, ModelFolder.ConfigFile)))
                throw new ReasonSharpException($"{folder}: no {ModelFolder.ConfigFile}; this checkpoint holds a " +
                    $"LoRA adapter, but the run trains the full model");
            ModelFolder.LoadWeights(model, folder);
        }
        optimizer.Load(Path.Combine(folder, OptimizerFile));
        var scheduler = ReadJson(Path.Combine(folder, SchedulerFile));
        if (scheduler["lr_scheduler_type"]?.GetValue<string>() != schedule.Type
            || scheduler["total_steps"]?.GetValue<long>() != schedule.TotalSteps)
            throw new ReasonSharpException($"{Path.Combine(folder, SchedulerFile)}: the checkpoint's schedule " +
                $"({scheduler["lr_scheduler_type"]}, {scheduler["total_steps"]} steps) differs from this run's " +
                $"({schedule.Type}, {schedule.TotalSteps} steps); resume with the same options");
        RestoreRandomStates(Path.Combine(folder, RngFile));
        random.Restore(state.RandomState);
        task.LoadState(ReadJson(Path.Combine(folder, TaskStateFile)));
        return state;
    }

    void RestoreRandomStates(string path)
    {
        using var file = SafetensorsFile.Open(path);
        var expected = adapters?.DropoutGenerator is null ? new[] { "torch_cpu" } : ["torch_cpu", "lora_dropout"];
        foreach (var key in expected)
            if (!file.Entries.ContainsKey(key)) throw new ReasonSharpException($"{path}: missing key '{key}' (the " +
                $"checkpoint was written by a run with other settings)");
        using var scope = NewDisposeScope();
        TorchSharp.torch.random.set_rng_state(file.Read("torch_cpu", ScalarType.Byte));
        adapters?.DropoutGenerator?.set_state(file.Read("lora_dropout", ScalarType.Byte));
    }

    static JsonNode ReadJson(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: not found; the checkpoint is incomplete");
        try { return JsonNode.Parse(File.ReadAllText(path)) ?? throw new ReasonSharpException($"{path}: empty JSON"); }
        catch (System.Text.Json.JsonException e) { throw new ReasonSharpException($"{path}: malformed JSON at line {e.LineNumber + 1}: {e.Message}", e); }
    }

    void WriteReport(TrainingResult result)
    {
        var report = TrainingReport.Build(result, options, model, adapters);
        ExtendReport?.Invoke(report, result);
        report.Write(result.OutputDir);
    }
}
