using ReasonSharp.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ReasonSharp.Training.Lora;

/// <summary>
/// LoRA adapters attached to a <see cref="CausalLM"/>: the base is frozen (requires_grad false), the chosen projections
/// are wrapped in <see cref="LoraLinear"/>. Saved and loaded in PEFT's format; can be disabled for a while or merged.
/// </summary>
public sealed class LoraAdapters
{
    /// <summary>PEFT's prefix of every key in adapter_model.safetensors (PeftModel.base_model → LoraModel.model).</summary>
    public const string PeftKeyPrefix = "base_model.model.";

    readonly CausalLM _model;
    readonly List<(string Path, ExplicitModule Parent, string Name, LoraLinear Layer)> _layers;
    bool _merged;

    public LoraConfig Config { get; }

    /// <summary>The generator of the adapters' dropout masks (null without dropout), on the model's device.</summary>
    public Generator? DropoutGenerator { get; }

    /// <summary>The adapted projections by module path (model.layers.0.self_attn.q_proj).</summary>
    public IReadOnlyDictionary<string, LoraLinear> Layers => _layers.ToDictionary(l => l.Path, l => l.Layer);

    LoraAdapters(CausalLM model, LoraConfig config, List<(string, ExplicitModule, string, LoraLinear)> layers, Generator? dropoutGenerator) =>
        (_model, Config, _layers, DropoutGenerator) = (model, config, layers, dropoutGenerator);

    /// <summary>Freezes every base parameter and wraps the target projections; A and the dropout masks come from generators seeded with <paramref name="seed"/>.</summary>
    public static LoraAdapters Apply(CausalLM model, LoraConfig config, long seed = 0)
    {
        config.Validate();
        if (model.named_modules().Any(m => m.module is LoraLinear))
            throw new ReasonSharpException("the model already has LoRA adapters; merge or reload it before adding new ones");
        var targets = config.ResolvedTargets(model.Config.Arch);
        foreach (var parameter in model.parameters()) parameter.requires_grad = false;
        using var generator = new Generator((ulong)seed, model.Device);
        var dropoutGenerator = config.LoraDropout > 0 ? new Generator((ulong)seed ^ 0x9E3779B97F4A7C15UL, model.Device) : null;
        var layers = new List<(string, ExplicitModule, string, LoraLinear)>();
        foreach (var (path, parent, name, linear) in Projections(model).Where(p => targets.Contains(p.Name)))
        {
            var layer = new LoraLinear(linear, config.R, config.Scaling, config.LoraDropout, generator) { Generator = dropoutGenerator };
            parent.ReplaceChild(name, layer);
            layers.Add((path, parent, name, layer));
        }
        return new LoraAdapters(model, config, layers, dropoutGenerator);
    }

    /// <summary>Attaches the PEFT adapter saved in <paramref name="folder"/> (adapter_config.json + adapter_model.safetensors).</summary>
    public static LoraAdapters Load(CausalLM model, string folder)
    {
        var config = LoraConfig.Load(Path.Combine(folder, LoraConfig.ConfigFile));
        var adapters = Apply(model, config);
        adapters.LoadWeights(folder);
        return adapters;
    }

    /// <summary>Every Linear projection of the decoder (the family's <see cref="ModelArchitecture.LinearModules"/>) with
    /// its module path, parent and child name.</summary>
    public static IEnumerable<(string Path, ExplicitModule Parent, string Name, Linear Linear)> Projections(CausalLM model)
    {
        var modules = model.Config.Arch.LinearModules;
        for (int i = 0; i < model.Model.Layers.Count; i++)
        {
            var layer = model.Model.Layers[i];
            var byPath = layer.named_modules().ToDictionary(m => m.name, m => m.module);
            foreach (var path in modules)
            {
                int dot = path.LastIndexOf('.');
                var parent = dot < 0 ? layer : (ExplicitModule)byPath[path[..dot]];
                var name = path[(dot + 1)..];
                var linear = byPath[path] as Linear ?? (byPath[path] as LoraLinear)?.Base
                    ?? throw new InvalidOperationException($"model.layers.{i}.{path} is not a Linear");
                yield return ($"model.layers.{i}.{path}", parent, name, linear);
            }
        }
    }

    /// <summary>The adapter tensors under PEFT's key names.</summary>
    public IEnumerable<(string Key, Parameter Weight)> PeftTensors()
    {
        EnsureNotMerged();
        foreach (var (path, _, _, layer) in _layers)
        {
            yield return ($"{PeftKeyPrefix}{path}.lora_A.weight", layer.LoraA.Weight);
            yield return ($"{PeftKeyPrefix}{path}.lora_B.weight", layer.LoraB.Weight);
        }
    }

    /// <summary>Writes adapter_config.json and adapter_model.safetensors (float32), each atomically.</summary>
    public void Save(string folder, string? baseModelNameOrPath = null)
    {
        Directory.CreateDirectory(folder);
        var config = baseModelNameOrPath is null ? Config : Config with { BaseModelNameOrPath = baseModelNameOrPath };
        SafetensorsWriter.Write(Path.Combine(folder, LoraConfig.WeightsFile), PeftTensors().Select(t => (t.Key, (Tensor)t.Weight)).ToList());
        AtomicFile.WriteAllText(Path.Combine(folder, LoraConfig.ConfigFile), config.ToPeftJson().ToJsonString(new() { WriteIndented = true }));
    }

    /// <summary>Copies adapter weights from a PEFT adapter_model.safetensors; missing, unexpected or mis-shaped keys are an error.</summary>
    public void LoadWeights(string folder)
    {
        var path = Path.Combine(folder, LoraConfig.WeightsFile);
        using var file = SafetensorsFile.Open(path);
        var expected = PeftTensors().ToDictionary(t => t.Key, t => t.Weight);
        var problems = new List<string>();
        foreach (var (key, weight) in expected)
        {
            if (!file.Entries.TryGetValue(key, out var entry)) problems.Add($"missing key '{key}'");
            else if (!entry.Shape.SequenceEqual(weight.shape))
                problems.Add($"key '{key}' has shape [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", weight.shape)}] (r={Config.R})");
        }
        problems.AddRange(file.Entries.Keys.Where(k => !expected.ContainsKey(k)).Select(k => $"unexpected key '{k}'"));
        if (problems.Count > 0)
            throw new ReasonSharpException($"{path}: the adapter does not match the model and adapter_config.json:\n  " + string.Join("\n  ", problems));
        using var _ = no_grad();
        foreach (var (key, weight) in expected) file.CopyInto(key, weight);
    }

    /// <summary>Runs the base model alone until the returned handle is disposed (GRPO's reference model, at no memory cost).</summary>
    public IDisposable Disable()
    {
        EnsureNotMerged();
        var previous = _layers.Select(l => l.Layer.Enabled).ToList();
        foreach (var (_, _, _, layer) in _layers) layer.Enabled = false;
        return new Restore(() =>
        {
            for (int i = 0; i < _layers.Count; i++) _layers[i].Layer.Enabled = previous[i];
        });
    }

    sealed class Restore(Action action) : IDisposable
    {
        Action? _action = action;
        public void Dispose() { _action?.Invoke(); _action = null; }
    }

    /// <summary>Adds scaling·B·A into each base weight and puts the plain Linear back; the model is then an ordinary CausalLM.</summary>
    public CausalLM MergeAndUnload()
    {
        EnsureNotMerged();
        using (no_grad())
            foreach (var (_, parent, name, layer) in _layers)
            {
                using var delta = layer.Delta();
                layer.Base.weight!.add_(delta);
                parent.ReplaceChild(name, layer.Base);
            }
        _merged = true;
        return _model;
    }

    void EnsureNotMerged()
    {
        if (_merged) throw new InvalidOperationException("the adapters were merged into the base model and unloaded");
    }
}
