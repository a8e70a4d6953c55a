using System.Runtime.InteropServices;
using ReasonSharp.Hub;
using ReasonSharp.Tokenization;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>A model folder in use: the network, its tokenizer and chat format, ready to generate, train and save.</summary>
public sealed class LanguageModel : IDisposable
{
    ChatFormat? _chat;

    public CausalLM Model { get; }
    public Tokenizer Tokenizer { get; }
    /// <summary>The chat template in place of the tokenizer's own (chatml, dual-mode, a .jinja file …), or
    /// null.</summary>
    public string? ChatTemplateOverride { get; }
    /// <summary>Variables passed to the chat template on every rendering (transformers'
    /// chat_template_kwargs).</summary>
    public IReadOnlyDictionary<string, object?>? ChatTemplateKwargs { get; init; }

    public LanguageModel(CausalLM model, Tokenizer tokenizer, string? chatTemplate = null)
    {
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new ReasonSharpException($"the tokenizer in {tokenizer.Folder} has {tokenizer.VocabSize} ids but the model's vocab_size is {model.Config.VocabSize}");
        Model = model;
        Tokenizer = tokenizer;
        ChatTemplateOverride = chatTemplate;
    }

    /// <summary>The tokenizer's chat template (or the override; or, when the tokenizer has none, the family's default),
    /// with the chat template kwargs.</summary>
    public ChatFormat Chat => _chat ??= ChatTemplateKwargs is { } kwargs
        ? ChatFormat.For(Tokenizer, ChatTemplate).WithKwargs(kwargs)
        : ChatFormat.For(Tokenizer, ChatTemplate);

    string? ChatTemplate => ChatTemplateOverride ?? (Tokenizer.ChatTemplate is null ? Model.Config.Arch.DefaultChatTemplate : null);

    /// <summary>Loads a Hugging Face model folder (config, weights, tokenizer) onto a device, computing in float32 on the CPU.</summary>
    /// <param name="chatTemplate">A chat template in place of the tokenizer's own (chatml, dual-mode, a .jinja file
    /// …).</param>
    /// <param name="chatTemplateKwargs">Variables passed to the chat template on every rendering.</param>
    public static LanguageModel Load(string folder, string device = "auto", string? chatTemplate = null,
        IReadOnlyDictionary<string, object?>? chatTemplateKwargs = null)
    {
        folder = HubPaths.Model(folder);
        var target = Devices.Parse(device);
        var tokenizer = Tokenizer.Load(folder);
        try
        {
            var model = ModelFolder.Load(folder, target, Devices.DefaultDtype(target));
            return new LanguageModel(model, tokenizer, chatTemplate)
            {
                ChatTemplateKwargs = chatTemplateKwargs is { Count: > 0 } ? chatTemplateKwargs : null,
            };
        }
        catch { tokenizer.Dispose(); throw; }
    }

    /// <summary>
    /// Loads a reward model: a *ForSequenceClassification folder, or a causal LM's folder given a fresh score head of
    /// <paramref name="numLabels"/> outputs (seeded normal(0, initializer_range); see
    /// <see cref="ModelFolder.LoadSequenceClassifier"/>). pad_token_id defaults to the tokenizer's pad, else its eos.
    /// </summary>
    public static LanguageModel LoadSequenceClassifier(string folder, string device = "auto",
        string? chatTemplate = null, IReadOnlyDictionary<string, object?>? chatTemplateKwargs = null,
        int numLabels = 1, long seed = 0)
    {
        folder = HubPaths.Model(folder);
        var target = Devices.Parse(device);
        var tokenizer = Tokenizer.Load(folder);
        try
        {
            var (model, _) = ModelFolder.LoadSequenceClassifier(folder, numLabels, target, Devices.DefaultDtype(target),
                seed, tokenizer.PadTokenId ?? tokenizer.EosTokenId);
            return new LanguageModel(model, tokenizer, chatTemplate)
            {
                ChatTemplateKwargs = chatTemplateKwargs is { Count: > 0 } ? chatTemplateKwargs : null,
            };
        }
        catch { tokenizer.Dispose(); throw; }
    }

    /// <summary>A randomly initialised model of an architecture and shape, sized to a tokenizer (Hugging Face's normal(0, initializer_range) init).</summary>
    public static LanguageModel Initialize(string modelType, ModelShape shape, string tokenizerFolder, long seed, int maxPositions = 2048,
        bool tieWordEmbeddings = true, string device = "auto")
    {
        var tokenizer = Tokenizer.Load(tokenizerFolder);
        var eos = tokenizer.EosTokenId is { } e ? new[] { e } : [];
        var config = ModelConfig.Create(modelType, tokenizer.VocabSize, shape.HiddenSize, shape.IntermediateSize, shape.Layers, shape.Heads,
            shape.KvHeads, shape.HeadDim, tieWordEmbeddings, shape.RopeTheta, maxPositions, bosTokenId: tokenizer.BosTokenId,
            eosTokenIds: eos, padTokenId: tokenizer.PadTokenId);
        return new LanguageModel(new CausalLM(config, Devices.Parse(device), seed), tokenizer);
    }

    public void Save(string folder, ModelSaveOptions? options = null)
    {
        ModelFolder.Save(Model, folder, (options ?? new ModelSaveOptions()) with { TokenizerFolder = null });
        Tokenizer.SaveTo(folder);
    }

    /// <summary>Ids where generation stops: the config's eos ids and the tokenizer's end-of-turn tokens.</summary>
    public IReadOnlyList<int> StopTokenIds => Model.Config.EosTokenIds.Concat(Tokenizer.StopTokenIds).Distinct().ToArray();

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens) =>
        ids is List<int> list ? Tokenizer.Decode(CollectionsMarshal.AsSpan(list), skipSpecialTokens) : Tokenizer.Decode(ids.ToArray(), skipSpecialTokens);

    /// <summary>Prompt ids for a conversation with the generation prompt added, in the thinking mode asked for (both
    /// enable_thinking and, for templates that read them, the system flags; see ChatFormat.InThinkingMode).</summary>
    public int[] EncodePrompt(IReadOnlyList<ChatMessage> messages, bool enableThinking = true)
    {
        var thinking = Thinking(enableThinking);
        return Tokenizer.Encode(Chat.Render(Chat.InThinkingMode(messages, thinking), new ChatRenderOptions
        {
            AddGenerationPrompt = true,
            EnableThinking = thinking,
        }));
    }

    /// <summary>Whether a rendering asked to think does: not when chat_template_kwargs says enable_thinking:
    /// false.</summary>
    public bool Thinking(bool requested) =>
        requested && !(ChatTemplateKwargs?.TryGetValue("enable_thinking", out var value) == true && value is false);

    public long ParameterCount() => Model.ParameterCount();

    public void Dispose()
    {
        Model.Dispose();
        Tokenizer.Dispose();
    }
}
