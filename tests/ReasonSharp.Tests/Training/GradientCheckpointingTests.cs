using ReasonSharp.Modeling;
using ReasonSharp.Training;
using ReasonSharp.Training.Lora;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training;

public class GradientCheckpointingTests
{
    /// <summary>Gradients of every trainable parameter after one loss backward, by name.</summary>
    internal static Dictionary<string, Tensor> Gradients(CausalLM model, Tensor ids, Tensor labels,
        Tensor? attentionMask = null, Tensor? sequenceIds = null)
    {
        foreach (var p in model.parameters()) p.grad = null;
        var (sum, count, _) =
            LanguageModelLoss.NextTokenCrossEntropy(model, ids, labels, attentionMask: attentionMask,
            sequenceIds: sequenceIds);
        sum.div(count).backward();
        return model.named_parameters().Where(p => p.parameter.requires_grad).ToDictionary(p => p.name,
            p => p.parameter.grad!.clone());
    }

    internal static void AssertEqualGradients(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, g) in expected)
        {
            double scale = g.abs().max().item<float>();
            Assert.True(scale > 0, $"{name}: zero gradient, the comparison would prove nothing");
            double diff = (g - actual[name]).abs().max().item<float>();
            Assert.True(diff <= 1e-6 * scale, $"{name}: max |Δgrad| {diff:E3} exceeds 1e-6 × {scale:E3}");
        }
    }

    internal static (Tensor Ids, Tensor Labels) Batch(int batch = 3, int length = 24, int seed = 5)
    {
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        var ids = randint(2, TrainingFixtures.Vocab, [batch, length], generator: generator);
        return (ids, ids.clone());
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    public void GradientsAreEqualWithAndWithoutCheckpointing(string arch)
    {
        using var model = TrainingFixtures.Model(arch);
        var (ids, labels) = Batch();
        var plain = Gradients(model, ids, labels);
        GradientCheckpointing.Enable(model);
        Assert.True(GradientCheckpointing.IsEnabled(model));
        long before = GradientCheckpointing.Recomputations;
        var recomputed = Gradients(model, ids, labels);
        Assert.True(GradientCheckpointing.Recomputations - before >= model.Config.NumHiddenLayers,
            "backward did not recompute the layers");
        GradientCheckpointing.Disable(model);
        AssertEqualGradients(plain, recomputed);
    }

    [Fact]
    public void GradientsAreEqualWithPaddingAndPackedSequenceMasks()
    {
        using var model = TrainingFixtures.Model("qwen3");
        var (ids, labels) = Batch(2, 16);
        var padding = ones(2, 16, dtype: int64);
        padding[0, ..4] = zeros(4, dtype: int64);
        labels[0, ..4] = full(4, LanguageModelLoss.IgnoreIndex, dtype: int64);
        var plain = Gradients(model, ids, labels, attentionMask: padding);
        GradientCheckpointing.Enable(model);
        var recomputed = Gradients(model, ids, labels, attentionMask: padding);
        AssertEqualGradients(plain, recomputed);

        var sequences = cat([zeros(2, 7, dtype: int64), ones(2, 9, dtype: int64)], 1);
        GradientCheckpointing.Disable(model);
        var plainPacked = Gradients(model, ids, labels, sequenceIds: sequences);
        GradientCheckpointing.Enable(model);
        AssertEqualGradients(plainPacked, Gradients(model, ids, labels, sequenceIds: sequences));
    }

    [Fact]
    public void WithoutAutogradTheLayersRunDirectly()
    {
        using var model = TrainingFixtures.Model("llama");
        var (ids, _) = Batch(1, 8);
        using var _ = no_grad();
        using var expected = model.Forward(ids);
        GradientCheckpointing.Enable(model);
        using var actual = model.Forward(ids);
        Assert.True(TrainingFixtures.BitIdentical(expected, actual));
    }
}

public class GradientCheckpointingDropoutTests
{
    [Fact]
    public void LoraGradientsWithDropoutAreEqualBecauseTheRandomStateIsReplayed()
    {
        using var model = TrainingFixtures.Model("qwen2");
        var adapters =
            LoraAdapters.Apply(model,
            new LoraConfig { R = 4, LoraAlpha = 8, LoraDropout = 0.3, TargetModules = ["all-linear"] }, seed: 3);
        // B starts at zero, which would give A a zero gradient: give B values so both are tested.
        using (no_grad())
            foreach (var layer in adapters.Layers.Values) layer.LoraB.Weight.normal_(0, 0.05);
        model.train();
        var (ids, labels) = GradientCheckpointingTests.Batch();
        using var start = adapters.DropoutGenerator!.get_state();
        var plain = GradientCheckpointingTests.Gradients(model, ids, labels);
        GradientCheckpointing.Enable(model);
        adapters.DropoutGenerator.set_state(start);
        var recomputed = GradientCheckpointingTests.Gradients(model, ids, labels);
        // Dropout really was active: a second pass with other masks gives other gradients.
        var other = GradientCheckpointingTests.Gradients(model, ids, labels);
        Assert.Contains(plain, kv => (kv.Value - other[kv.Key]).abs().max().item<float>() > 1e-4);
        Assert.All(plain.Keys, name => Assert.Contains(".lora_", name));
        GradientCheckpointingTests.AssertEqualGradients(plain, recomputed);
    }
}
