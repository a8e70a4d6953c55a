using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Tests.Training.Sft;

/// <summary>SFT of a tiny model that uses a real tokenizer and its own chat template (../shared/tokenizers): the loss
/// covers exactly each assistant answer and its end-of-turn token, and training runs.</summary>
public class RealTokenizerSftTests
{
    [SkippableTheory]
    [InlineData("gemma3", "<end_of_turn>")]
    [InlineData("deepseek-v3", "<｜end▁of▁sentence｜>")]
    public void TinyModelWithARealTokenizer_TrainsOnExactlyTheAssistantTurns(string name, string endOfTurn)
    {
        var folder = Path.GetDirectoryName(TestEnvironment.SharedFile($"tokenizers/{name}/tokenizer.json"))!;
        using var dir = TestEnvironment.NewTempDir();
        using var lm = LanguageModel.Initialize("qwen2", ModelPresets.Get("nano"), folder, seed: 1, maxPositions: 256,
            device: "cpu");
        var messages = SftFixtures.TwoTurns();
        var assistant = messages.Where(m => m.IsAssistant).Select(m => m.Content + endOfTurn).ToList();

        var encoded = SftDataset.Encode([SftFixtures.ExampleOf(messages)], false, lm.Chat, new SftConfig(),
            pack: false);
        var sequence = Assert.Single(encoded.Sequences);
        var ids = sequence.InputIds.Select(id => (int)id).ToArray();
        Assert.Equal(lm.Tokenizer.Encode(lm.Chat.Render(messages)), ids);
        Assert.Equal(assistant, LabelledRuns(lm.Tokenizer, ids, sequence.LossMask!));
        var prompt = lm.Tokenizer.Decode(ids.Where((_, i) => !sequence.LossMask![i]).ToArray());
        foreach (var message in messages.Where(m => !m.IsAssistant)) Assert.Contains(message.Content, prompt);

        var config = SftFixtures.Config(dir.File("run")) with
        {
            MaxSteps = 3,
            PerDeviceTrainBatchSize = 2,
            LearningRate = 1e-2
        };
        var train = new SftExamples([SftFixtures.ExampleOf(messages),
            SftFixtures.ExampleOf(messages.Take(3).ToList())], false, "two conversations");
        var trainer = new SftTrainer(lm, config,
            train)
        { Progress = ReasonSharp.Tests.Training.TrainingFixtures.Quiet };
        var result = trainer.Train();

        Assert.Equal(3, result.Training.GlobalStep);
        Assert.All(result.Training.Losses, loss => Assert.True(double.IsFinite(loss)));
        Assert.Equal(sequence.InputIds, trainer.TrainData.Sequences[0].InputIds);
        Assert.Equal(sequence.LossMask, trainer.TrainData.Sequences[0].LossMask);
    }

    static List<string> LabelledRuns(Tokenizer tokenizer, int[] ids, bool[] mask)
    {
        var runs = new List<string>();
        for (var i = 0; i < ids.Length; i++)
        {
            if (!mask[i]) continue;
            var end = i;
            while (end < ids.Length && mask[end]) end++;
            runs.Add(tokenizer.Decode(ids[i..end]));
            i = end;
        }
        return runs;
    }
}
