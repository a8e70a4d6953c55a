using ReasonSharp.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Training;

/// <summary>
/// AdamW with decoupled weight decay, step for step as torch.optim.AdamW (amsgrad off): p ← p·(1 − lr·wd), then the
/// bias-corrected Adam update. Its state (exp_avg, exp_avg_sq and step per parameter) is saved and restored exactly.
/// float32 CPU parameters are updated by <see cref="FusedAdamW"/>'s kernels (<see cref="Kernel"/>), others op by op
/// with libtorch.
/// </summary>
public sealed class AdamWOptimizer : IDisposable
{
    sealed class Slot(string name, Parameter parameter, double weightDecay)
    {
        public string Name { get; } = name;
        public Parameter Parameter { get; } = parameter;
        public double WeightDecay { get; } = weightDecay;
        public Tensor ExpAvg { get; } = zeros_like(parameter).DetachFromDisposeScope();
        public Tensor ExpAvgSq { get; } = zeros_like(parameter).DetachFromDisposeScope();
        public long Step { get; set; }

        public void Dispose()
        {
            ExpAvg.Dispose();
            ExpAvgSq.Dispose();
        }
    }

    readonly List<Slot> _slots;
    readonly double _beta1, _beta2, _eps;

    /// <param name="parameters">The trainable parameters by name, each with its weight decay.</param>
    public AdamWOptimizer(IEnumerable<(string Name, Parameter Parameter, double WeightDecay)> parameters,
        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        using var _ = no_grad();
        _slots = parameters.Select(p => new Slot(p.Name, p.Parameter, p.WeightDecay)).ToList();
        (_beta1, _beta2, _eps) = (beta1, beta2, eps);
    }

    /// <summary>The trainable parameters of a model (requires_grad), with weight decay on matrices only unless
    /// weight_decay_all_parameters.</summary>
    public static AdamWOptimizer ForModel(nn.Module model, TrainingOptions options) =>
        new(TrainableParameters(model).Select(p =>
            (p.Name, p.Parameter,
            DecaysByDefault(p.Name, p.Parameter) || options.WeightDecayAllParameters ? options.WeightDecay : 0.0)),
            options.AdamBeta1, options.AdamBeta2, options.AdamEpsilon)
        { Kernel = options.Optim == "adamw_torch_fused" ? AdamWKernel.OnePass : AdamWKernel.LibtorchRounding };

    public static IEnumerable<(string Name, Parameter Parameter)> TrainableParameters(nn.Module model) =>
        model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter));

    /// <summary>Norm weights, biases and embeddings are not decayed (they are vectors or lookup tables, not
    /// projections).</summary>
    public static bool DecaysByDefault(string name, Tensor parameter) =>
        parameter.dim() >= 2 && !name.Contains("embed_tokens") && !name.EndsWith(".bias") && !name.Contains("norm");

    /// <summary>How float32 CPU parameters are updated. <see cref="AdamWKernel.LibtorchRounding"/> (optim: adamw_torch,
    /// the default) gives libtorch's op-by-op numbers bit for bit in one pass instead of nine, and falls back to
    /// libtorch's ops on a host where <see cref="KernelsRoundAsLibtorch"/> is false.</summary>
    public AdamWKernel Kernel { get; set; } = AdamWKernel.LibtorchRounding;

    /// <summary>Whether <see cref="FusedAdamW.StepWithLibtorchRounding"/> can run here (libtorch's MKL sqrt is
    /// exported) and gives libtorch's op-by-op numbers bit for bit, checked once per process on two steps of 1,031
    /// random elements.</summary>
    public static bool KernelsRoundAsLibtorch => RoundingCheck.Value;

    static readonly Lazy<bool> RoundingCheck = new(() =>
    {
        if (!FusedAdamW.HasLibtorchSqrt) return false;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        var start = randn(1031, generator: generator) * 0.02;
        var (byOps, byKernels) = (new Slot("w", new Parameter(start.clone()), 0.1),
            new Slot("w", new Parameter(start.clone()), 0.1));
        for (int step = 1; step <= 2; step++)
        {
            var grad = randn(1031, generator: generator) * 1e-3;
            var runs = new[] { (byOps, AdamWKernel.OpByOp), (byKernels, AdamWKernel.LibtorchRounding) };
            foreach (var (slot, kernel) in runs)
            {
                slot.Step = step;
                Update(slot, grad, 3e-4, kernel, 0.9, 0.999, 1e-8);
            }
        }
        static bool Same(Tensor a, Tensor b) => a.bytes.SequenceEqual(b.bytes);
        bool same = Same(byOps.Parameter, byKernels.Parameter) && Same(byOps.ExpAvg, byKernels.ExpAvg)
            && Same(byOps.ExpAvgSq, byKernels.ExpAvgSq);
        foreach (var slot in new[] { byOps, byKernels }) slot.Dispose();
        return same;
    });

    public IReadOnlyList<string> ParameterNames => _slots.Select(s => s.Name).ToList();
    public IReadOnlyList<Parameter> Parameters => _slots.Select(s => s.Parameter).ToList();
    public double WeightDecayOf(string name) => _slots.Single(s => s.Name == name).WeightDecay;

    /// <summary>One update with learning rate <paramref name="lr"/>; parameters without a gradient are left as they
    /// are.</summary>
    public void Step(double lr)
    {
        using var _ = no_grad();
        foreach (var slot in _slots)
        {
            using var scope = NewDisposeScope();
            var grad = slot.Parameter.grad;
            if (grad is null) continue;
            slot.Step++;
            var kernel =
                Kernel == AdamWKernel.LibtorchRounding && !KernelsRoundAsLibtorch ? AdamWKernel.OpByOp : Kernel;
            Update(slot, grad, lr, kernel, _beta1, _beta2, _eps);
        }
    }

    static void Update(Slot slot, Tensor grad, double lr, AdamWKernel kernel, double beta1, double beta2, double eps)
    {
        double biasCorrection1 = 1 - Math.Pow(beta1, slot.Step);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, slot.Step));
        if (kernel != AdamWKernel.OpByOp && FusedAdamW.Applies(slot.Parameter, grad, slot.ExpAvg, slot.ExpAvgSq))
        {
            var coefficients = new FusedAdamW.Coefficients(Decay: (float)(1 - lr * slot.WeightDecay),
                Beta1: (float)beta1, Keep1: (float)(1 - beta1), Beta2: (float)beta2, Keep2: (float)(1 - beta2),
                Correction2: (float)biasCorrection2Sqrt, Eps: (float)eps, StepSize: (float)(-lr / biasCorrection1));
            if (kernel == AdamWKernel.OnePass)
                FusedAdamW.Step(slot.Parameter, grad, slot.ExpAvg, slot.ExpAvgSq, coefficients);
            else FusedAdamW.StepWithLibtorchRounding(slot.Parameter, grad, slot.ExpAvg, slot.ExpAvgSq, coefficients);
            return;
        }
        // Scalars held through each native call (see HeldScalars).
        using Scalar decay = 1 - lr * slot.WeightDecay, b1 = beta1, keep1 = 1 - beta1, b2 = beta2,
            keep2 = 1 - beta2, correction2 = biasCorrection2Sqrt, e = eps, stepSize = -lr / biasCorrection1;
        if (slot.WeightDecay != 0) slot.Parameter.mul_(decay);
        slot.ExpAvg.mul_(b1).add_(grad, alpha: keep1);
        slot.ExpAvgSq.mul_(b2).addcmul_(grad, grad, keep2);
        using var denominator = slot.ExpAvgSq.sqrt().div_(correction2).add_(e, HeldScalars.One);
        slot.Parameter.addcdiv_(slot.ExpAvg, denominator, stepSize);
    }

    /// <summary>Drops the gradients (set to none, as zero_grad does by default).</summary>
    public void ZeroGrad()
    {
        foreach (var slot in _slots) slot.Parameter.grad = null;
    }

    /// <summary>The state as named tensors: state.NAME.exp_avg, state.NAME.exp_avg_sq, state.NAME.step (int64
    /// [1]).</summary>
    public List<(string Name, Tensor Tensor)> StateTensors()
    {
        var tensors = new List<(string, Tensor)>();
        foreach (var slot in _slots)
        {
            tensors.Add(($"state.{slot.Name}.exp_avg", slot.ExpAvg));
            tensors.Add(($"state.{slot.Name}.exp_avg_sq", slot.ExpAvgSq));
            tensors.Add(($"state.{slot.Name}.step", tensor(new[] { slot.Step })));
        }
        return tensors;
    }

    public void Save(string path)
    {
        using var scope = NewDisposeScope();
        SafetensorsWriter.Write(path, StateTensors());
    }

    /// <summary>Restores the state saved by <see cref="Save"/>; every parameter must be present with its
    /// shape.</summary>
    public void Load(string path)
    {
        using var file = SafetensorsFile.Open(path);
        var problems = new List<string>();
        foreach (var slot in _slots)
            foreach (var (suffix, target) in new[] { ("exp_avg", slot.ExpAvg), ("exp_avg_sq", slot.ExpAvgSq) })
            {
                var key = $"state.{slot.Name}.{suffix}";
                if (!file.Entries.TryGetValue(key, out var entry)) problems.Add($"missing key '{key}'");
                else if (!entry.Shape.SequenceEqual(target.shape)) problems.Add($"key '{key}' has shape " +
                    $"[{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", target.shape)}]");
            }
        var expected =
            _slots.SelectMany(s =>
            new[] { $"state.{s.Name}.exp_avg", $"state.{s.Name}.exp_avg_sq", $"state.{s.Name}.step" }).ToHashSet();
        problems.AddRange(file.Entries.Keys.Where(k => !expected.Contains(k)).Select(k =>
            $"unexpected key '{k}' (no such trainable parameter)"));
        if (problems.Count > 0)
            throw new ReasonSharpException($"{path}: the optimizer state does not match the trainable parameters:\n  "
                + string.Join("\n  ", problems));
        using var _ = no_grad();
        foreach (var slot in _slots)
        {
            file.CopyInto($"state.{slot.Name}.exp_avg", slot.ExpAvg);
            file.CopyInto($"state.{slot.Name}.exp_avg_sq", slot.ExpAvgSq);
            using var step = file.Read($"state.{slot.Name}.step", ScalarType.Int64);
            slot.Step = step.view(-1)[0].item<long>();
        }
    }

    public void Dispose()
    {
        foreach (var slot in _slots) slot.Dispose();
    }
}

/// <summary>How <see cref="AdamWOptimizer"/> updates a float32 CPU parameter.</summary>
public enum AdamWKernel
{
    /// <summary>libtorch's nine element-wise ops, as torch.optim.AdamW (foreach off).</summary>
    OpByOp,
    /// <summary>The same numbers bit for bit in one pass (optim: adamw_torch), where libtorch's sqrt can be
    /// called.</summary>
    LibtorchRounding,
    /// <summary>One pass, equal to libtorch's ops up to float rounding (optim: adamw_torch_fused).</summary>
    OnePass,
}
