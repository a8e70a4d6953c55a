using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// A decoder-only causal language model of any family in <see cref="ModelArchitecture.All"/>. Module and parameter
/// names equal the checkpoint keys. With tied embeddings there is no lm_head module: the logits use the embedding matrix itself.
/// With <see cref="ModelConfig.NumLabels"/> set it is the family's *ForSequenceClassification (a reward model): the
/// same `model.*` body and a bias-free `score` head [num_labels, hidden] in place of lm_head, read at each sequence's
/// last token (<see cref="SequenceScores"/>).
/// </summary>
public sealed class CausalLM : ExplicitModule
{
    public ModelConfig Config { get; }
    public DecoderModel Model { get; }
    public Linear? LmHead { get; }
    /// <summary>The sequence-classification head (reward models), or null for a causal LM.</summary>
    public Linear? Score { get; }
    public Device Device { get; private set; }

    // Before TorchSharp's Module constructor runs: libtorch must load through TorchNative (and its thread policy) first.
    static CausalLM() => Native.TorchNative.EnsureLoaded();

    /// <summary>Creates a model on the device, in float32, initialised as Hugging Face does: normal(0, initializer_range), zero biases, unit norms.</summary>
    public CausalLM(ModelConfig config, Device? device = null, long? seed = null, bool initialize = true) : base(nameof(CausalLM))
    {
        Config = config;
        Device = device ?? CPU;
        Model = new DecoderModel(config, Device);
        _softcap = config.Arch.FinalLogitSoftcapping(config);
        register_module("model", Model);
        if (config.NumLabels is { } labels)
        {
            Score = nn.Linear(config.HiddenSize, labels, hasBias: false, device: Device);
            register_module("score", Score);
        }
        else if (!config.TieWordEmbeddings)
        {
            LmHead = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false, device: Device);
            register_module("lm_head", LmHead);
        }
        if (initialize) InitializeWeights(seed);
        Native.ThreadPolicy.UseForModel(config.ParameterCount());
    }

    readonly double? _softcap;

    public Tensor LmHeadWeight => LmHead?.weight ?? Model.EmbedTokens.weight!;

    void InitializeWeights(long? seed)
    {
        using var _ = no_grad();
        using var generator = seed is { } s ? new Generator((ulong)s, Device) : null;
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith("norm.weight")) parameter.fill_(Config.Arch.NormUnitOffset ? 0 : 1);
            else if (name.EndsWith(".bias")) parameter.zero_();
            else parameter.normal_(0, Config.InitializerRange, generator);
        }
    }

    /// <summary>Logits [B, T, vocab] for the inputs (see <see cref="DecoderModel.Forward"/> for the arguments).</summary>
    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null, Tensor? sequenceIds = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        return Logits(Model.Forward(inputIds, positionIds, attentionMask, sequenceIds, cache)).MoveToOuterDisposeScope();
    }

    /// <summary>Projects hidden states to vocabulary logits (used directly to compute logits only where a loss needs them).</summary>
    public Tensor Logits(Tensor hidden)
    {
        if (Score is not null)
            throw new ReasonSharpException($"this model is a {Config.Architecture} (a reward model with a score " +
                "head); it has no vocabulary logits to generate or train as a language model with");
        var logits = (training ? null : DecodeKernels.Linear(hidden, (LmHeadWeight, null))) ?? nn.functional.linear(hidden, LmHeadWeight);
        if (_softcap is not { } cap) return logits;
        using var scope = NewDisposeScope();
        return HeldScalars.With(cap, c => (logits / c).tanh() * c).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The score head's output [B, num_labels] at one position per row, in float32: <paramref name="lastIndex"/> [B]
    /// (each sequence's last real token), or the last position when null (left padding). transformers reads the last
    /// non-pad token the same way.
    /// </summary>
    public Tensor SequenceScores(Tensor inputIds, Tensor? lastIndex = null, Tensor? positionIds = null,
        Tensor? attentionMask = null)
    {
        var score = Score ?? throw new ReasonSharpException($"this model is a {Config.Architecture}, not a sequence " +
            "classifier; load a reward model (a *ForSequenceClassification folder)");
        using var scope = NewDisposeScope();
        var hidden = Model.Forward(inputIds, positionIds, attentionMask);
        long batch = hidden.shape[0], steps = hidden.shape[1], width = hidden.shape[2];
        var last = lastIndex is null
            ? hidden.select(1, steps - 1)
            : hidden.gather(1, lastIndex.view(batch, 1, 1).expand(batch, 1, width)).squeeze(1);
        return score.forward(last).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());

    public KvCache NewCache(int batchSize, int capacity) => new(Config, batchSize, capacity, Device, LmHeadWeight.dtype);

    public CausalLM MoveTo(Device device)
    {
        this.to(device);
        Device = device;
        return this;
    }
}
