using ReasonSharp.Modeling;

namespace ReasonSharp.Rewards.Builtins;

/// <summary>
/// The `reward_model` reward: an outcome reward model (a *ForSequenceClassification folder, e.g. from
/// `reason reward-model`) scores prompt + completion, the completion as the assistant's turn in the reward model's chat
/// template (a text prompt is the user's turn, as in its training pairs); the score is its raw output at the last
/// token. Options: model (required), batch_size (8) completions per left-padded forward pass, device (auto). Owns the
/// loaded model and disposes it with the reward.
/// </summary>
public sealed class RewardModelReward : IRewardFunction, IDisposable
{
    readonly LanguageModel _model;
    readonly bool _ownsModel;
    readonly int _batchSize;

    public string Name { get; }
    public LanguageModel Model => _model;

    public RewardModelReward(string name, LanguageModel model, int batchSize = 8, bool ownsModel = false)
    {
        if (!model.Model.Config.IsSequenceClassifier)
            throw new ReasonSharpException($"reward '{name}': the model is a {model.Model.Config.Architecture}, " +
                "not a reward model; expected a *ForSequenceClassification folder (train one with " +
                "reason reward-model)");
        if (batchSize < 1)
            throw new ReasonSharpException($"reward '{name}': option 'batch_size': expected a positive integer, " +
                $"got {batchSize}");
        Name = name;
        _model = model;
        _batchSize = batchSize;
        _ownsModel = ownsModel;
    }

    /// <summary>From the registry: model=FOLDER (required), batch_size, device.</summary>
    public static RewardModelReward Create(string name, RewardOptions options)
    {
        var folder = options.GetOptionalString("model");
        var batchSize = options.GetInt("batch_size", 8);
        var device = options.GetString("device", "auto");
        if (string.IsNullOrWhiteSpace(folder))
            throw new ReasonSharpException($"reward '{name}': option 'model' is required: the folder of a reward " +
                $"model (a *ForSequenceClassification config.json, weights, tokenizer), e.g. {name}(model=path/to/rm)");
        LanguageModel model;
        try { model = LanguageModel.Load(folder, device); }
        catch (ReasonSharpException e)
        {
            throw new ReasonSharpException($"reward '{name}': option 'model': cannot load the reward model: " +
                e.Message, e);
        }
        try { return new RewardModelReward(name, model, batchSize, ownsModel: true); }
        catch { model.Dispose(); throw; }
    }

    /// <summary>The reward model's input for one completion.</summary>
    public int[] Encode(RewardInput input)
    {
        IReadOnlyList<ChatMessage> prompt = input.Prompt.Messages
            ?? (string.IsNullOrEmpty(input.Prompt.Text) ? [] : [ChatMessage.FromUser(input.Prompt.Text)]);
        return SequenceClassification.Encode(_model.Chat, prompt, [ChatMessage.FromAssistant(input.Completion)])
            ?? throw new RewardInputException("completion", "the reward model's chat template renders no " +
                "assistant tokens for it");
    }

    public Task<float?[]> ScoreAsync(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken = default)
    {
        if (batch.Count == 0) return Task.FromResult(Array.Empty<float?>());
        var sequences = batch.Select((input, i) => RewardBatch.At(i, () => Encode(input))).ToList();
        var scores = SequenceClassification.Score(_model.Model, sequences, _batchSize, cancellationToken);
        return Task.FromResult(scores.Select(s => (float?)s).ToArray());
    }

    public void Dispose()
    {
        if (_ownsModel) _model.Dispose();
    }
}
