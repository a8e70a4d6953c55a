using System.Text.Json.Nodes;
using ReasonSharp.Jobs;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Rewards.Builtins;
using ReasonSharp.Training;
using ReasonSharp.Training.Dpo;
using ReasonSharp.Training.RewardModeling;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training.RewardModeling;

/// <summary>TRL's reward loss on hand-computed cases, the data rules (max_length drops, margin column), a run through
/// `reward-model` (run folder, metrics, resume) and the `reward_model` reward on the trained folder.</summary>
public class RewardModelTrainerTests
{
    static Tensor T(params float[] values) => tensor(values);

    [Fact]
    public void LossIsBradleyTerryWithMarginAndCentring()
    {
        // −log σ(x) = log(1 + e^(−x)).
        static double Nll(double x) => Math.Log(1 + Math.Exp(-x));
        using var chosen = T(2f, 0.5f);
        using var rejected = T(1f, 1.5f);
        using (var plain = RewardModelTask.Loss(chosen, rejected, null, null))
            Assert.Equal((Nll(1) + Nll(-1)) / 2, plain.item<float>(), 5);
        using (var margins = T(0.5f, 2f))
        using (var withMargin = RewardModelTask.Loss(chosen, rejected, margins, null))
            Assert.Equal((Nll(0.5) + Nll(-3)) / 2, withMargin.item<float>(), 5);
        // centring adds 0.01 · mean((r_c + r_r)²) = 0.01 · (9 + 4) / 2.
        using (var centred = RewardModelTask.Loss(chosen, rejected, null, 0.01))
            Assert.Equal((Nll(1) + Nll(-1)) / 2 + 0.01 * 6.5, centred.item<float>(), 5);

        var metrics = RewardModelTask.Metrics([2f, 0.5f, 3f], [1f, 1.5f, 3f]);
        Assert.Equal(1.0 / 3, metrics["accuracy"], 12);                // a tie is not a win
        Assert.Equal((1 - 1 + 0) / 3.0, metrics["margin"], 12);
        Assert.Equal(11.0 / 6, metrics["mean_reward"], 12);
    }

    [Fact]
    public void ConfigHasTrlDefaultsAndRejectsLora()
    {
        var config = new RewardConfig();
        Assert.Equal((1e-4, 1024, null, 10), (config.LearningRate, config.MaxLength, config.CenterRewardsCoefficient,
            config.LoggingSteps));
        Assert.True(config.GradientCheckpointing);
        var lora = config with { ModelNameOrPath = "m", DatasetName = "d", UsePeft = true };
        Assert.Contains("use_peft", Assert.Throws<ReasonSharpException>(lora.Validate).Message);
        var negative = config with { ModelNameOrPath = "m", DatasetName = "d", CenterRewardsCoefficient = -1 };
        Assert.Contains("center_rewards_coefficient",
            Assert.Throws<ReasonSharpException>(negative.Validate).Message);
    }

    static PreferencePair Pair(string prompt, string chosen, string rejected, double? margin = null) =>
        new([ChatMessage.FromUser(prompt)], [ChatMessage.FromAssistant(chosen)], [ChatMessage.FromAssistant(rejected)],
            "test")
        { Margin = margin };

    [Fact]
    public void PairsOverMaxLengthAreDroppedAndMarginsKept()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var lm = TinyLanguageModels.Create(dir);
        var pairs = new[]
        {
            Pair("Compute 2+3.", "5", "6", margin: 1.5),
            Pair("Compute 2+3.", string.Join(" ", Enumerable.Repeat("17+28=45", 40)), "6"),
        };
        var (all, allStats) = RewardData.Encode(pairs, lm.Chat, maxLength: null);
        Assert.Equal((2, 0), (all.Count, allStats.TooLong));
        Assert.Equal(1.5, all[0].Margin);
        Assert.Equal(0, all[1].Margin);
        int limit = all[1].Chosen.Length - 1;
        var (kept, stats) = RewardData.Encode(pairs, lm.Chat, limit);
        Assert.Single(kept);
        Assert.Equal((2, 1, 1), (stats.Pairs, stats.Kept, stats.TooLong));
        // The sequence ends with the completion's last token: the template's end-of-turn.
        var endOfTurn = lm.Tokenizer.Encode(lm.Chat.Render([ChatMessage.FromUser("x"), ChatMessage.FromAssistant("5")],
            new ReasonSharp.Tokenization.ChatRenderOptions()).TrimEnd());
        Assert.Equal(endOfTurn[^1], all[0].Chosen[^1]);
    }

    [Fact]
    public void MarginColumnIsReadAndCheckedFromTheFile()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("pairs.jsonl");
        File.WriteAllText(path, """
            {"prompt": "a", "chosen": "b", "rejected": "c", "margin": 2}
            {"prompt": "a", "chosen": "b", "rejected": "c", "margin": "big"}
            """);
        var error = Assert.Throws<ReasonSharpException>(() => PreferenceData.Load(path, "train", null, null, "x"));
        Assert.Contains("pairs.jsonl:2: field 'margin'", error.Message);
        Assert.Contains("margin", error.Message);
        File.WriteAllText(path, """{"prompt": "a", "chosen": "b", "rejected": "c", "margin": 2}""" + "\n");
        Assert.Equal(2, PreferenceData.Load(path, "train", null, null, "x")[0].Margin);
    }

    /// <summary>`reward-model` from a causal LM folder: a *ForSequenceClassification folder, accuracy and margin in
    /// metrics.jsonl for train and eval, a checkpoint that resumes, and the reward_model reward scoring with it
    /// exactly as the trainer does.</summary>
    [Fact]
    public async Task TheJobTrainsSavesResumesAndTheRewardScoresWithTheFolder()
    {
        using var dir = TestEnvironment.NewTempDir();
        using (var lm = TinyLanguageModels.Create(dir)) lm.Save(dir.File("base"));
        var lines = Enumerable.Range(0, 24).Select(i =>
            new JsonObject
            {
                ["prompt"] = $"Compute {i}+{i}.", ["chosen"] = $"{2 * i}", ["rejected"] = $"{2 * i + 1}",
            }.ToJsonString());
        File.WriteAllLines(dir.File("train.jsonl"), lines);
        File.WriteAllLines(dir.File("eval.jsonl"), lines.Take(6));
        var job = JobRegistry.Get("reward-model", "test");
        object Bind(string yaml)
        {
            var stream = new YamlDotNet.RepresentationModel.YamlStream();
            stream.Load(new StringReader(yaml));
            return JobRegistry.Bind(job, stream.Documents[0].RootNode, new RunContext(), "test");
        }
        var options = $"""
            model_name_or_path: {dir.File("base")}
            dataset_name: {dir.File("train.jsonl")}
            eval_dataset_name: {dir.File("eval.jsonl")}
            output_dir: {dir.File("rm")}
            device: cpu
            max_steps: 4
            per_device_train_batch_size: 4
            logging_steps: 1
            eval_strategy: steps
            eval_steps: 2
            save_strategy: steps
            save_steps: 2
            disable_tqdm: true
            write_report: false
            center_rewards_coefficient: 0.01
            """;
        var result = job.Run(Bind(options), new RunContext { Progress = TrainingFixtures.Quiet });
        Assert.Equal(4, result.Metrics["steps"]);
        Assert.True(result.Metrics.ContainsKey("eval_accuracy"));
        Assert.Equal(dir.File("rm"), result.Outputs["reward_model"]);
        Assert.False(result.Outputs.ContainsKey("model"));     // the pipeline's policy stays the previous stage's

        var config = JsonNode.Parse(File.ReadAllText(dir.File("rm/config.json")))!;
        Assert.Equal("Qwen2ForSequenceClassification", config["architectures"]![0]!.GetValue<string>());
        var records = File.ReadAllLines(dir.File("rm/" + MetricsLogger.MetricsFile))
            .Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Contains(records, r => r.ContainsKey("accuracy") && r.ContainsKey("margin"));
        Assert.Contains(records, r => r.ContainsKey("eval_accuracy") && r.ContainsKey("eval_margin"));

        // Resume from the step-2 checkpoint into another folder: the final weights equal the uninterrupted run's.
        var checkpoint = Checkpoints.List(dir.File("rm")).Single(c => c.Step == 2).Path;
        Copy(checkpoint, dir.File("rm2/checkpoint-2"));
        job.Run(Bind(options.Replace(dir.File("rm") + "\n", dir.File("rm2") + "\n") +
            "\nresume_from_checkpoint: latest"), new RunContext { Progress = TrainingFixtures.Quiet });
        using var first = ModelFolder.Load(dir.File("rm"));
        using var resumed = ModelFolder.Load(dir.File("rm2"));
        Assert.True(first.Score!.weight!.allclose(resumed.Score!.weight!, rtol: 1e-5, atol: 1e-6));

        // The reward reads the folder as the trainer does.
        using var reward = RewardRegistry.CreateDefault().CreateComposite(
            $"reward_model(model={dir.File("rm")},batch_size=2,device=cpu)");
        var inputs = Enumerable.Range(0, 3).Select(i => RewardInput.Create($"{2 * i + i % 2}",
            prompt: RewardPrompt.FromMessages([ChatMessage.FromUser($"Compute {i}+{i}.")]))).ToList();
        var scores = (await reward.ScoreAsync(inputs)).Functions[0].Values;
        var rm = (RewardModelReward)reward.Rewards[0].Function;
        var pairs = inputs.Select(i => new RewardPair(rm.Encode(i), rm.Encode(i), 0, "x")).ToList();
        var (direct, _, _) = RewardModelTask.Score(rm.Model.Model, pairs, batchSize: 1);
        for (int i = 0; i < 3; i++) Assert.Equal(direct[i], scores[i]!.Value, 4);
    }

    static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    [Fact]
    public void TheRewardNeedsAModelAndARewardModelFolder()
    {
        using var dir = TestEnvironment.NewTempDir();
        var registry = RewardRegistry.CreateDefault();
        Assert.Contains("option 'model' is required",
            Assert.Throws<ReasonSharpException>(() => registry.Create("reward_model")).Message);
        using (var lm = TinyLanguageModels.Create(dir)) lm.Save(dir.File("lm"));
        var error = Assert.Throws<ReasonSharpException>(() =>
            registry.Create("reward_model", new Dictionary<string, string> { ["model"] = dir.File("lm") }));
        Assert.Contains("not a reward model", error.Message);
    }

    sealed class Disposable(string name) : IRewardFunction, IDisposable
    {
        public bool Disposed { get; private set; }
        public string Name => name;
        public Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch,
            CancellationToken cancellationToken = default) => Task.FromResult(batch.Select(_ => (float?)1).ToArray());
        public void Dispose() => Disposed = true;
    }

    /// <summary>Disposing a composite disposes the functions that hold resources (reward_model's loaded model).
    /// </summary>
    [Fact]
    public void DisposingTheCompositeDisposesItsFunctions()
    {
        var held = new Disposable("held");
        var composite = new CompositeReward(held, new DelegateReward("plain", _ => 1));
        composite.Dispose();
        Assert.True(held.Disposed);
    }

    /// <summary>A reward model saved from a fresh head loads through the reward and scores a batch.</summary>
    [Fact]
    public async Task TheRewardScoresWithAFreshlySavedRewardModel()
    {
        using var dir = TestEnvironment.NewTempDir();
        using (var lm = LanguageModel.LoadSequenceClassifier(SaveTiny(dir), "cpu")) lm.Save(dir.File("rm"));
        using var composite = RewardRegistry.CreateDefault().CreateComposite($"reward_model(model={dir.File("rm")})");
        var scores = await composite.ScoreAsync([
            RewardInput.Create("12", prompt: RewardPrompt.FromText("Compute 5+7.")),
            RewardInput.Create("13", prompt: RewardPrompt.FromText("Compute 5+7."))]);
        Assert.All(scores.Total, s => Assert.True(float.IsFinite(s)));
        Assert.NotEqual(scores.Total[0], scores.Total[1]);
    }

    static string SaveTiny(TempDir dir)
    {
        using var lm = TinyLanguageModels.Create(dir);
        lm.Save(dir.File("base"));
        return dir.File("base");
    }
}
