using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>
/// A decoder-only causal language model of any family in <see cref="ModelArchitecture.All"/>. Module and parameter
/// names equal the checkpoint keys. With tied embeddings there is no lm_head module: the logits use the embedding matrix itself.
/// </summary>
public sealed class CausalLM : ExplicitModule
{
    public ModelConfig Config { get; }
    public DecoderModel Model { get; }
    public Linear? LmHead { get; }
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
        if (!config.TieWordEmbeddings)
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
        var logits = (training ? null : DecodeKernels.Linear(hidden, (LmHeadWeight, null))) ?? nn.functional.linear(hidden, LmHeadWeight);
        if (_softcap is not { } cap) return logits;
        using var scope = NewDisposeScope();
        return HeldScalars.With(cap, c => (logits / c).tanh() * c).MoveToOuterDisposeScope();
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
