using ReasonSharp.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training;

public class OptimizationTests
{
    [Theory]
    // linear, total 10, warmup 2: ramps 0 → 1 over 2 steps, then decays (10 − s) / 8.
    [InlineData("linear", 2, 10, 0, 0.0)]
    [InlineData("linear", 2, 10, 1, 0.5)]
    [InlineData("linear", 2, 10, 2, 1.0)]
    [InlineData("linear", 2, 10, 6, 0.5)]
    [InlineData("linear", 2, 10, 9, 0.125)]
    [InlineData("linear", 2, 10, 10, 0.0)]
    // cosine: 0.5 · (1 + cos(π · (s − w) / (T − w))).
    [InlineData("cosine", 0, 10, 0, 1.0)]
    [InlineData("cosine", 0, 10, 5, 0.5)]
    [InlineData("cosine", 2, 10, 6, 0.5)]
    [InlineData("cosine", 2, 10, 4, 0.85355339059327373)]
    [InlineData("cosine", 0, 10, 10, 0.0)]
    [InlineData("constant_with_warmup", 4, 10, 2, 0.5)]
    [InlineData("constant_with_warmup", 4, 10, 7, 1.0)]
    [InlineData("constant", 4, 10, 0, 1.0)]
    public void SchedulesMatchHandComputedValues(string type, long warmup, long total, long step, double expected) =>
        Assert.Equal(expected, new LearningRateSchedule(type, warmup, total).Factor(step), 12);

    [Fact]
    public void WarmupRatioRoundsUpAndWarmupStepsWin()
    {
        Assert.Equal(3, LearningRateSchedule.FromOptions(new TrainingOptions { WarmupRatio = 0.1 }, 25).WarmupSteps);
        Assert.Equal(7,
            LearningRateSchedule.FromOptions(new TrainingOptions { WarmupRatio = 0.1, WarmupSteps = 7 },
            25).WarmupSteps);
    }

    [Fact]
    public void AdamWMatchesTorchOptimAdamWAndRestoresItsStateExactly()
    {
        var generator = new TorchSharp.torch.Generator(17);
        var ours = new Parameter(randn(6, 5, generator: generator));
        var theirs = new Parameter(ours.detach().clone());
        using var adamw = new AdamWOptimizer([("w", ours, 0.1)], 0.9, 0.95, 1e-8);
        using var reference = optim.AdamW([theirs], lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1);
        using var dir = TestEnvironment.NewTempDir();
        var gradients = Enumerable.Range(0, 6).Select(_ => randn(6, 5, generator: generator)).ToList();
        Tensor? weightsAfter3 = null;
        for (int step = 0; step < 6; step++)
        {
            ours.grad = gradients[step].clone();
            theirs.grad = gradients[step].clone();
            adamw.Step(0.01);
            reference.step();
            if (step == 2)
            {
                adamw.Save(dir.File("opt.safetensors"));
                weightsAfter3 = ours.detach().clone();
            }
        }
        Assert.True((ours - theirs).abs().max().item<float>() < 1e-6, "differs from torch.optim.AdamW");

        // A fresh optimizer restored from the state after step 3 continues to the same weights, bit for bit.
        var resumed = new Parameter(weightsAfter3!);
        using var restored = new AdamWOptimizer([("w", resumed, 0.1)], 0.9, 0.95, 1e-8);
        restored.Load(dir.File("opt.safetensors"));
        for (int step = 3; step < 6; step++) { resumed.grad = gradients[step].clone(); restored.Step(0.01); }
        Assert.True(TrainingFixtures.BitIdentical(ours, resumed));

        using var wrong = new AdamWOptimizer([("v", new Parameter(zeros(6, 5)), 0.0)]);
        var error = Assert.Throws<ReasonSharpException>(() => { wrong.Load(dir.File("opt.safetensors")); });
        Assert.Contains("missing key 'state.v.exp_avg'", error.Message);
    }

    [Theory]
    [InlineData(37, 0.1)]
    [InlineData(600_001, 0.0)]
    public void TheOnePassUpdateMatchesLibtorchsOpByOpUpdate(int size, double weightDecay)
    {
        var generator = new TorchSharp.torch.Generator(5);
        var fused = new Parameter(randn(size, generator: generator));
        var byOps = new Parameter(fused.detach().clone());
        using var one =
            new AdamWOptimizer([("w", fused, weightDecay)], 0.9, 0.999, 1e-8) { Kernel = AdamWKernel.OnePass };
        using var many =
            new AdamWOptimizer([("w", byOps, weightDecay)], 0.9, 0.999, 1e-8) { Kernel = AdamWKernel.OpByOp };
        for (int step = 0; step < 4; step++)
        {
            using var gradient = randn(size, generator: generator);
            fused.grad = gradient.clone();
            byOps.grad = gradient.clone();
            one.Step(1e-3);
            many.Step(1e-3);
        }
        Assert.True((fused - byOps).abs().max().item<float>() < 1e-6);
        var states = one.StateTensors().Zip(many.StateTensors());
        foreach (var ((name, a), (_, b)) in states)
            Assert.True((a.to(TorchSharp.torch.ScalarType.Float64) - b.to(TorchSharp.torch.ScalarType.Float64))
                .abs().max().item<double>() < 1e-6, name);
    }

    /// <summary>The default update (optim: adamw_torch) gives libtorch's op-by-op numbers bit for bit: parameter and
    /// both moments after 5 steps, across vector and scalar tails, with and without weight decay.</summary>
    [Theory]
    [InlineData(37, 0.1)]
    [InlineData(600_001, 0.0)]
    [InlineData(1_048_583, 0.01)]
    public void TheDefaultKernelsRoundExactlyAsLibtorchsOps(int size, double weightDecay)
    {
        using var _ = NewDisposeScope();
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported) Assert.True(AdamWOptimizer.KernelsRoundAsLibtorch);
        var generator = new Generator(9);
        var (kernels, byOps) = (new Parameter(randn(size, generator: generator) * 0.02), new Parameter(zeros(size)));
        using (no_grad()) byOps.copy_(kernels);
        using var fast = AdamWOptimizer.ForModel(new ParameterHolder(kernels),
            new TrainingOptions { WeightDecay = weightDecay, WeightDecayAllParameters = true });
        Assert.Equal(AdamWKernel.LibtorchRounding, fast.Kernel);
        using var slow = new AdamWOptimizer([("w", byOps, weightDecay)]) { Kernel = AdamWKernel.OpByOp };
        for (int step = 0; step < 5; step++)
        {
            var grad = randn(size, generator: generator) * (step % 2 == 0 ? 1e-6 : 1e-2);
            (kernels.grad, byOps.grad) = (grad.clone(), grad.clone());
            fast.Step(1e-3);
            slow.Step(1e-3);
        }
        static bool SameBits(Tensor a, Tensor b) => a.dtype == b.dtype && a.bytes.SequenceEqual(b.bytes);
        Assert.True(SameBits(kernels, byOps));
        foreach (var ((name, a), (_, b)) in fast.StateTensors().Zip(slow.StateTensors()))
            Assert.True(SameBits(a, b), name);
    }

    /// <summary>Whole models trained 4 steps on the same batches end bit-identical with the default kernels and
    /// with libtorch's ops: every parameter (tied embedding, norms, biases, projections).</summary>
    [Fact]
    public void AModelTrainedWithTheDefaultKernelsIsBitIdenticalToOneTrainedByLibtorchsOps()
    {
        using var _ = NewDisposeScope();
        using var fastModel = TrainingFixtures.Model("qwen2", seed: 3);
        using var slowModel = TrainingFixtures.Model("qwen2", seed: 3);
        var options = new TrainingOptions { WeightDecay = 0.1 };
        using var fast = AdamWOptimizer.ForModel(fastModel, options);
        using var slow = AdamWOptimizer.ForModel(slowModel, options);
        slow.Kernel = AdamWKernel.OpByOp;
        var generator = new Generator(4);
        for (int step = 0; step < 4; step++)
        {
            var ids = randint(0, fastModel.Config.VocabSize, [2, 12], generator: generator);
            foreach (var (model, optimizer) in new[] { (fastModel, fast), (slowModel, slow) })
            {
                var logits = model.Forward(ids[.., ..^1]);
                nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), ids[.., 1..].reshape(-1)).backward();
                optimizer.Step(3e-3);
                optimizer.ZeroGrad();
            }
        }
        var slowWeights = slowModel.state_dict();
        foreach (var (name, weight) in fastModel.state_dict())
            Assert.True(weight.bytes.SequenceEqual(slowWeights[name].bytes), name);
        using var untrained = TrainingFixtures.Model("qwen2", seed: 3);
        Assert.False(fastModel.state_dict().Values.Zip(untrained.state_dict().Values)
            .All(pair => pair.First.bytes.SequenceEqual(pair.Second.bytes)), "training changed no weight");
    }

    [Fact]
    public void NormsBiasesAndEmbeddingsAreNotDecayedByDefault()
    {
        using var model = TrainingFixtures.Model("qwen2");
        using var adamw = AdamWOptimizer.ForModel(model, new TrainingOptions { WeightDecay = 0.1 });
        Assert.Equal(0.1, adamw.WeightDecayOf("model.layers.0.self_attn.q_proj.weight"));
        Assert.Equal(0.0, adamw.WeightDecayOf("model.layers.0.self_attn.q_proj.bias"));
        Assert.Equal(0.0, adamw.WeightDecayOf("model.layers.0.input_layernorm.weight"));
        Assert.Equal(0.0, adamw.WeightDecayOf("model.embed_tokens.weight"));
        using var all =
            AdamWOptimizer.ForModel(model, new TrainingOptions { WeightDecay = 0.1, WeightDecayAllParameters = true });
        Assert.Equal(0.1, all.WeightDecayOf("model.embed_tokens.weight"));
    }

    [Fact]
    public void TrainingRandomStateRoundTrips()
    {
        var random = new TrainingRandom(5);
        random.NextUInt64();
        var copy = new TrainingRandom(0);
        copy.Restore(random.State);
        Assert.Equal(Enumerable.Range(0, 5).Select(_ => random.Next(1000)),
            Enumerable.Range(0, 5).Select(_ => copy.Next(1000)));
        Assert.Throws<ReasonSharpException>(() => copy.Restore("zz"));
    }

    /// <summary>Both float32 updates against the same AdamW in float64 over 300 steps of gradients at two scales (1e-6,
    /// where ε matters, and 1e-2): equally close (float32 rounding, about 4e-7 after moving 1.4e-2), and without a
    /// bias either way. optim: adamw_torch_fused selects the one-pass update.</summary>
    [Theory]
    [InlineData(4099)]
    [InlineData(262147)]
    public void OnePassAndOpByOpAreEquallyCloseToFloat64(long size)
    {
        using var _ = NewDisposeScope();
        var generator = new Generator(7);
        var start = randn(size, generator: generator) * 0.02;
        Parameter Copy(ScalarType type) => new(start.to(type).clone());
        var (opByOp, onePass, exact) = (Copy(float32), Copy(float32), Copy(float64));
        using var a = new AdamWOptimizer([("w", opByOp, 0.01)]) { Kernel = AdamWKernel.OpByOp };
        using var f = AdamWOptimizer.ForModel(new ParameterHolder(onePass),
            new TrainingOptions { Optim = "adamw_torch_fused", WeightDecay = 0.01, WeightDecayAllParameters = true });
        Assert.Equal(AdamWKernel.OnePass, f.Kernel);
        using var r = new AdamWOptimizer([("w", exact, 0.01)]);
        for (int step = 0; step < 300; step++)
        {
            var grad = randn(size, generator: generator) * (step % 3 == 0 ? 1e-6 : 1e-2);
            (opByOp.grad, onePass.grad, exact.grad) = (grad.clone(), grad.clone(), grad.to(float64));
            foreach (var optimizer in new[] { a, f, r })
            {
                optimizer.Step(1e-3);
                optimizer.ZeroGrad();
            }
        }
        double Error(Tensor p) => (p.to(float64) - exact).abs().max().item<double>();
        double Bias(Tensor p) => (p.to(float64) - exact).mean().item<double>();
        Assert.InRange((exact - start.to(float64)).abs().mean().item<double>(), 0.01, 0.02);
        Assert.InRange(Error(opByOp), 1e-8, 1e-6);
        Assert.InRange(Error(onePass), 1e-8, 1e-6);
        Assert.InRange(Error(onePass) / Error(opByOp), 0.8, 1.25);
        Assert.InRange(Math.Abs(Bias(onePass)), 0, 1e-8);
        Assert.Throws<ReasonSharpException>(() => new TrainingOptions { Optim = "adafactor" }.Validate());
    }

    sealed class ParameterHolder : TorchSharp.torch.nn.Module
    {
        public ParameterHolder(Parameter weight) : base(nameof(ParameterHolder)) => register_parameter("w", weight);
    }
}
