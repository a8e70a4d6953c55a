using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;
using static TorchSharp.torch;

namespace ReasonSharp.Rewards.Steps;

/// <summary>Options of <see cref="LmStepScorer"/> (registry option names in brackets).</summary>
public sealed record LmStepScorerOptions
{
    /// <summary>[step_tag] Written after every step; the judge is read at its position. Must be one token. Not used
    /// with <see cref="StepJoin"/>.</summary>
    public string StepTag { get; init; } = " ки";
    /// <summary>[step_join] null: Math-Shepherd's layout (the question, each step followed by step_tag). Set: the
    /// policy's layout: the prompt through the judge's chat template (a text prompt as one user message), then the
    /// steps joined by this string with no tag, each step read at its own last token. With the separator the steps
    /// were split at, the judge reads the completion as the policy wrote it.</summary>
    public string? StepJoin { get; init; }
    /// <summary>[good_token] The token the judge predicts after the tag of a correct step.</summary>
    public string GoodToken { get; init; } = "+";
    /// <summary>[bad_token] The token the judge predicts after the tag of a wrong step.</summary>
    public string BadToken { get; init; } = "-";
    /// <summary>[batch_size] Completions per forward pass (left-padded).</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>[likelihood_feature] The good logit at step k also gets the judge's own log-probability of the least
    /// likely token of steps 1..k (separators and tags not counted), so the judge sees where its language model is
    /// surprised by the text. Off in Math-Shepherd's judge.</summary>
    public bool LikelihoodFeature { get; init; }

    /// <summary>The file `reason prm train` writes beside a trained judge: its step_tag, good_token, bad_token,
    /// step_join and likelihood_feature, which process_lm then takes as its defaults.</summary>
    public const string SettingsFile = "prm_config.json";

    /// <summary>The defaults for a judge folder: its <see cref="SettingsFile"/> when there is one, else the
    /// Math-Shepherd tags.</summary>
    public static LmStepScorerOptions ForFolder(string folder)
    {
        var path = Path.Combine(folder, SettingsFile);
        if (!File.Exists(path)) return new LmStepScorerOptions();
        JsonObject settings;
        try
        {
            settings = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new JsonException("expected a JSON object");
        }
        catch (JsonException e) { throw new ReasonSharpException($"{path}: unreadable judge settings ({e.Message})"); }
        string Read(string key, string fallback) => settings[key] switch
        {
            null => fallback,
            JsonValue v when v.TryGetValue<string>(out var text) => text,
            var other => throw new ReasonSharpException($"{path}: field '{key}': expected a string, got " +
                $"{other.ToJsonString()}"),
        };
        var defaults = new LmStepScorerOptions();
        return new LmStepScorerOptions
        {
            StepTag = Read("step_tag", defaults.StepTag), GoodToken = Read("good_token", defaults.GoodToken),
            BadToken = Read("bad_token", defaults.BadToken),
            StepJoin = settings["step_join"] switch
            {
                null => defaults.StepJoin,
                JsonValue v when v.TryGetValue<string>(out var text) => text,
                var other => throw new ReasonSharpException($"{path}: field 'step_join': expected a string or " +
                    $"null, got {other.ToJsonString()}"),
            },
            LikelihoodFeature = settings["likelihood_feature"] switch
            {
                null => defaults.LikelihoodFeature,
                JsonValue v when v.TryGetValue<bool>(out var on) => on,
                var other => throw new ReasonSharpException($"{path}: field 'likelihood_feature': expected true or " +
                    $"false, got {other.ToJsonString()}"),
            },
        };
    }

    /// <summary>Writes <see cref="SettingsFile"/> (step_tag, good_token, bad_token, step_join, likelihood_feature)
    /// into a judge folder.</summary>
    public void SaveTo(string folder) => AtomicFile.WriteAllText(Path.Combine(folder, SettingsFile),
        new JsonObject
        {
            ["step_tag"] = StepTag, ["good_token"] = GoodToken, ["bad_token"] = BadToken, ["step_join"] = StepJoin,
            ["likelihood_feature"] = LikelihoodFeature,
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}

/// <summary>Token ids of "question step₁ TAG\nstep₂ TAG…" (or of the prompt and the joined steps), the position each
/// step is read at, the positions of the steps' own tokens (not inserted separators or tags), and for each step how
/// many of those belong to the steps up to it.</summary>
public sealed record JudgeInput(int[] Ids, int[] TagPositions, int[] StepTokenPositions, int[] StepTokensThroughTag);

/// <summary>Token limits of a judge input (TRL's PRMTrainer names); null: none.</summary>
/// <param name="MaxPromptLength">Most question tokens; the end of the question is kept.</param>
/// <param name="MaxCompletionLength">Most tokens of the steps with their tags; whole steps are kept from the
/// start.</param>
/// <param name="MaxLength">Most tokens in all; whole steps are dropped from the end to fit.</param>
public sealed record JudgeLimits(int? MaxPromptLength = null, int? MaxCompletionLength = null, int? MaxLength = null);

/// <summary>
/// The Math-Shepherd process-reward judge: a causal LM reads the question and the steps, each followed by a step tag,
/// and step k scores P(good) / (P(good) + P(bad)) from the logits at the k-th tag. Causal attention lets each tag see
/// only the question and the steps up to it, so one forward pass scores every step.
/// </summary>
public sealed class LmStepScorer : IStepScorer, IDisposable
{
    readonly LanguageModel _judge;
    readonly bool _ownsJudge;
    readonly int _batchSize;

    public int StepTagId { get; }
    public int GoodTokenId { get; }
    public int BadTokenId { get; }

    public LmStepScorer(LanguageModel judge, LmStepScorerOptions? options = null, bool ownsJudge = false)
    {
        options ??= new LmStepScorerOptions();
        Options = options;
        if (options.BatchSize < 1) throw new ReasonSharpException($"option 'batch_size': expected a positive " +
            $"integer, got {options.BatchSize}");
        if (options.StepJoin is "") throw new ReasonSharpException("option 'step_join' is empty; expected a string " +
            "such as \", \" (the separator the steps were split at), or no step_join for Math-Shepherd's layout");
        StepTagId = options.StepJoin is null ? SingleTokenId(judge.Tokenizer, options.StepTag, "step_tag") : -1;
        GoodTokenId = SingleTokenId(judge.Tokenizer, options.GoodToken, "good_token");
        BadTokenId = SingleTokenId(judge.Tokenizer, options.BadToken, "bad_token");
        if (GoodTokenId == BadTokenId)
            throw new ReasonSharpException($"options 'good_token' and 'bad_token' are the same token " +
                $"('{options.GoodToken}', '{options.BadToken}'); expected two different tokens");
        _judge = judge;
        _ownsJudge = ownsJudge;
        _batchSize = options.BatchSize;
    }

    /// <summary>Loads a judge model folder (config, weights, tokenizer) once; the scorer owns and disposes
    /// it. Without options, the folder's own settings (<see cref="LmStepScorerOptions.ForFolder"/>).</summary>
    public static LmStepScorer Load(string folder, LmStepScorerOptions? options = null, string device = "auto")
    {
        options ??= Directory.Exists(folder) ? LmStepScorerOptions.ForFolder(folder) : null;
        LanguageModel judge;
        try { judge = LanguageModel.Load(folder, device); }
        catch (ReasonSharpException e)
        {
            throw new ReasonSharpException($"option 'model': cannot load the judge model: {e.Message}", e);
        }
        try { return new LmStepScorer(judge, options, ownsJudge: true); }
        catch { judge.Dispose(); throw; }
    }

    public LanguageModel Judge => _judge;
    public LmStepScorerOptions Options { get; }

    /// <summary>The judge's input for a prompt and its steps: BOS if the tokenizer adds one, the question, then each
    /// step and a tag.</summary>
    public JudgeInput Encode(RewardPrompt prompt, IReadOnlyList<string> steps)
    {
        var (input, kept) = Encode(prompt, steps, new JudgeLimits());
        if (kept < steps.Count)
            throw new ReasonSharpException($"the question and {steps.Count} steps are more than the judge's " +
                $"max_position_embeddings ({_judge.Model.Config.MaxPositionEmbeddings}) tokens");
        return input;
    }

    /// <summary>
    /// The judge's input within <paramref name="limits"/> (and max_position_embeddings): the question cut to its last
    /// max_prompt_length tokens, then as many whole steps from the start as fit. Returns how many steps were kept
    /// (their tags are the input's; a step that does not fit whole loses its label, as TRL's truncation does).
    /// </summary>
    public (JudgeInput Input, int StepsKept) Encode(RewardPrompt prompt, IReadOnlyList<string> steps,
        JudgeLimits limits)
    {
        var tokenizer = _judge.Tokenizer;
        var question = Question(prompt);
        var join = Options.StepJoin;
        var questionIds = join is null ? tokenizer.Encode(question)
            : _judge.EncodePrompt(prompt.Messages ?? [new ChatMessage(ChatMessage.User, prompt.Text ?? "")]);
        if (limits.MaxPromptLength is { } maxPrompt && questionIds.Length > maxPrompt)
            questionIds = questionIds[^maxPrompt..];
        var ids = new List<int>(join is null ? tokenizer.Json.PostProcessorPrefix : []);
        ids.AddRange(questionIds);
        var maxLength = Math.Min(limits.MaxLength ?? int.MaxValue, _judge.Model.Config.MaxPositionEmbeddings);
        var maxCompletion = limits.MaxCompletionLength ?? int.MaxValue;
        var promptLength = ids.Count;
        var tags = new List<int>();
        var stepTokens = new List<int>();
        var stepTokensThroughTag = new List<int>();
        var firstSeparator = question.Length > 0 ? " " : "";
        int[] newlineIds = join is null ? tokenizer.Encode("\n") : [];
        int[] firstSeparatorIds = join is null && firstSeparator.Length > 0 ? tokenizer.Encode(firstSeparator) : [];
        for (var k = 0; k < steps.Count; k++)
        {
            if (join is not null)
            {
                var pieceIds = tokenizer.Encode(k > 0 ? join + steps[k] : steps[k]);
                var pieceEnd = ids.Count + pieceIds.Length;
                if (pieceEnd > maxLength || pieceEnd - promptLength > maxCompletion) break;
                stepTokens.AddRange(Enumerable.Range(ids.Count, pieceIds.Length));
                ids.AddRange(pieceIds);
                tags.Add(ids.Count - 1);
                stepTokensThroughTag.Add(stepTokens.Count);
                continue;
            }
            var separator = k > 0 ? "\n" : firstSeparator;
            var stepIds = tokenizer.Encode(separator + steps[k]);
            var end = ids.Count + stepIds.Length + 1;
            if (end > maxLength || end - promptLength > maxCompletion) break;
            var separatorIds = k > 0 ? newlineIds : firstSeparatorIds;
            var own = stepIds.AsSpan().StartsWith(separatorIds) ? separatorIds.Length : 0;
            stepTokens.AddRange(Enumerable.Range(ids.Count + own, stepIds.Length - own));
            ids.AddRange(stepIds);
            tags.Add(ids.Count);
            stepTokensThroughTag.Add(stepTokens.Count);
            ids.Add(StepTagId);
        }
        return (new JudgeInput(ids.ToArray(), tags.ToArray(), stepTokens.ToArray(), stepTokensThroughTag.ToArray()),
            tags.Count);
    }

    /// <summary>
    /// Logits [total tags, 2] of (good, bad) at every tag of the inputs, in order, from one left-padded forward pass.
    /// Runs in the model's current mode with autograd as enabled by the caller, so it also serves as a training
    /// objective.
    /// </summary>
    public Tensor JudgeLogits(IReadOnlyList<JudgeInput> inputs)
    {
        using var scope = NewDisposeScope();
        var model = _judge.Model;
        int batch = inputs.Count, length = inputs.Max(i => i.Ids.Length);
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        var positions = new long[batch * length];
        var tagRows = new List<long>();
        for (var b = 0; b < batch; b++)
        {
            var input = inputs[b];
            var pad = length - input.Ids.Length;
            for (var t = 0; t < input.Ids.Length; t++)
            {
                ids[b * length + pad + t] = input.Ids[t];
                mask[b * length + pad + t] = 1;
                positions[b * length + pad + t] = t;
            }
            tagRows.AddRange(input.TagPositions.Select(p => (long)(b * length + pad + p)));
        }
        var device = model.Device;
        var padded = inputs.Any(i => i.Ids.Length != length);
        var hidden =
            model.Model.Forward(tensor(ids, [batch, length], device: device),
            tensor(positions, [batch, length], device: device),
            padded ? tensor(mask, [batch, length], device: device) : null);
        var flatHidden = hidden.reshape(batch * length, -1);
        var atTags = flatHidden.index_select(0, tensor(tagRows.ToArray(), device: device));
        var heads = model.LmHeadWeight.index_select(0, tensor(new long[] { GoodTokenId, BadTokenId }, device: device));
        var logits = nn.functional.linear(atTags, heads).to(ScalarType.Float32);
        if (Options.LikelihoodFeature)
        {
            var least = LeastLikelyStepToken(inputs, flatHidden, length);
            logits = stack([logits.select(1, 0) + least, logits.select(1, 1)], 1);
        }
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>[total tags] For each tag, the judge's log-probability of the least likely step token up to it (0
    /// before any): the language-model head at the position before each step token, log-softmax, that token's
    /// entry.</summary>
    Tensor LeastLikelyStepToken(IReadOnlyList<JudgeInput> inputs, Tensor flatHidden, int length)
    {
        var device = flatHidden.device;
        var predictingRows = new List<long>();
        var targets = new List<long>();
        for (var b = 0; b < inputs.Count; b++)
        {
            var input = inputs[b];
            var rowStart = b * length + length - input.Ids.Length;
            foreach (var p in input.StepTokenPositions)
            {
                predictingRows.Add(rowStart + p - 1);
                targets.Add(input.Ids[p]);
            }
        }
        using var rows = tensor(predictingRows.ToArray(), device: device);
        using var targetIds = tensor(targets.ToArray(), device: device);
        var logProbs = predictingRows.Count == 0 ? zeros(0, device: device)
            : nn.functional.linear(flatHidden.index_select(0, rows), _judge.Model.LmHeadWeight)
                .to(ScalarType.Float32).log_softmax(1).gather(1, targetIds.unsqueeze(1)).squeeze(1);
        var perTag = new List<Tensor>();
        var offset = 0;
        foreach (var input in inputs)
        {
            foreach (var through in input.StepTokensThroughTag)
                perTag.Add(through == 0 ? zeros(1, device: device)
                    : logProbs.narrow(0, offset, through).min().reshape(1));
            offset += input.StepTokenPositions.Length;
        }
        return perTag.Count == 0 ? zeros(0, device: device) : cat(perTag, 0);
    }

    public async Task<IReadOnlyList<float>> ScoreStepsAsync(RewardPrompt prompt, IReadOnlyList<string> steps,
        CancellationToken cancellationToken = default) =>
        (await ScoreBatchAsync([(prompt, steps)], cancellationToken))[0];

    /// <summary>Scores completions <see cref="LmStepScorerOptions.BatchSize"/> at a time, in eval mode without
    /// autograd.</summary>
    public Task<IReadOnlyList<IReadOnlyList<float>>> ScoreBatchAsync(
        IReadOnlyList<(RewardPrompt Prompt, IReadOnlyList<string> Steps)> items,
        CancellationToken cancellationToken = default)
    {
        var encoded = items.Select(i => Encode(i.Prompt, i.Steps)).ToList();
        var scores = new IReadOnlyList<float>[items.Count];
        var model = _judge.Model;
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            for (var start = 0; start < encoded.Count; start += _batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var chunk = encoded.Skip(start).Take(_batchSize).ToList();
                using var scope = NewDisposeScope();
                var flat = JudgeLogits(chunk).softmax(1).select(1, 0).cpu().data<float>().ToArray();
                var offset = 0;
                for (var i = 0; i < chunk.Count; i++)
                {
                    scores[start + i] = flat[offset..(offset + chunk[i].TagPositions.Length)];
                    offset += chunk[i].TagPositions.Length;
                }
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return Task.FromResult<IReadOnlyList<IReadOnlyList<float>>>(scores);
    }

    /// <summary>The question the judge reads: the prompt text, or the last user message of a chat prompt.</summary>
    public static string Question(RewardPrompt prompt) =>
        prompt.Text ?? prompt.Messages?.LastOrDefault(m => m.Role == "user")?.Content ?? prompt.AsText();

    static int SingleTokenId(Tokenizer tokenizer, string text, string option)
    {
        if (string.IsNullOrEmpty(text)) throw new ReasonSharpException($"option '{option}' is empty; expected a " +
            $"single token of the judge's tokenizer");
        if (tokenizer.TokenToId(text) is { } id) return id;
        var ids = tokenizer.Encode(text);
        if (ids.Length == 1) return ids[0];
        throw new ReasonSharpException($"option '{option}': '{text}' is not a single token of the judge's " +
            $"tokenizer in {tokenizer.Folder} " +
                                       $"(it encodes to {ids.Length} tokens: " +
                                       $"{string.Join(" ", ids.Select(tokenizer.IdToToken))}); expected one token");
    }

    public void Dispose()
    {
        if (_ownsJudge) _judge.Dispose();
    }

    /// <summary>
    /// The registry's <c>process_lm</c> reward: options model (required), aggregation (min|last|mean|product),
    /// step_tag, step_join (escapes such as \x2C unescaped), good_token, bad_token, likelihood_feature, batch_size,
    /// device, split (paragraphs|lines|step_markers|separator) and separator.
    /// </summary>
    public static ProcessReward CreateReward(string name, RewardOptions options)
    {
        var folder = options.GetOptionalString("model");
        if (string.IsNullOrWhiteSpace(folder))
            throw new ReasonSharpException($"reward '{name}': option 'model' is required: the folder of a judge " +
                $"model (config.json, weights, tokenizer.json), e.g. {name}(model=path/to/prm)");
        LmStepScorerOptions defaults;
        try { defaults = Directory.Exists(folder) ? LmStepScorerOptions.ForFolder(folder) : new(); }
        catch (ReasonSharpException e) { throw new ReasonSharpException($"reward '{name}': {e.Message}", e); }
        var scorerOptions = new LmStepScorerOptions
        {
            StepTag = options.GetString("step_tag", defaults.StepTag),
            GoodToken = options.GetString("good_token", defaults.GoodToken),
            BadToken = options.GetString("bad_token", defaults.BadToken),
            BatchSize = options.GetInt("batch_size", defaults.BatchSize),
            StepJoin = options.GetOptionalString("step_join") is { } stepJoin ? Regex.Unescape(stepJoin)
                : defaults.StepJoin,
            LikelihoodFeature = options.GetBool("likelihood_feature", defaults.LikelihoodFeature),
        };
        var aggregations = new Dictionary<string, StepAggregation>
        {
            ["min"] = StepAggregation.Min, ["last"] = StepAggregation.Last, ["mean"] = StepAggregation.Mean,
            ["product"] = StepAggregation.Product,
        };
        var aggregation = ParseChoice(options, "aggregation", "min", aggregations);
        var splitModes = new Dictionary<string, StepSplitMode>
        {
            ["paragraphs"] = StepSplitMode.Paragraphs, ["lines"] = StepSplitMode.Lines,
            ["step_markers"] = StepSplitMode.StepMarkers, ["separator"] = StepSplitMode.Separator,
        };
        var split = ParseChoice(options, "split", "paragraphs", splitModes);
        var splitter = new StepSplitter(new StepSplitterOptions
        {
            Mode = split, Separator = options.GetOptionalString("separator"),
        });
        var device = options.GetString("device", "auto");
        try { return new ProcessReward(name, Load(folder, scorerOptions, device), aggregation, splitter); }
        catch (ReasonSharpException e) { throw new ReasonSharpException($"reward '{name}': {e.Message}", e); }
    }

    static T ParseChoice<T>(RewardOptions options, string key, string defaultValue, Dictionary<string, T> choices)
    {
        var text = options.GetString(key, defaultValue).Trim().ToLowerInvariant();
        return choices.TryGetValue(text, out var value) ? value
            : throw new ReasonSharpException($"option '{key}': expected one of {string.Join(", ", choices.Keys)}, " +
                $"got '{text}'");
    }
}
