using System.Text.Json.Nodes;

namespace ReasonSharp.Modeling;

/// <summary>LlamaForCausalLM: attention_bias covers q/k/v/o; llama.cpp rotates interleaved pairs.</summary>
public sealed class LlamaArchitecture : ModelArchitecture
{
    public override string ModelType => "llama";
    public override string ClassName => "LlamaForCausalLM";
    public override bool GgufInterleavedRope => true;
    public override bool GgufRopeFrequencies => true;

    public override void WriteConfig(ModelConfig config, JsonObject json)
    {
        json["attention_bias"] = config.QkvBias;
        json["mlp_bias"] = config.MlpBias;
        json["hidden_act"] = "silu";
    }
}

/// <summary>Qwen2ForCausalLM: q/k/v always have biases, o_proj and the MLP never.</summary>
public sealed class Qwen2Architecture : ModelArchitecture
{
    public override string ModelType => "qwen2";
    public override string ClassName => "Qwen2ForCausalLM";

    public override ModelConfig NewConfig(ModelConfig shared) => shared with { QkvBias = true };

    public override ModelConfig ReadConfig(ModelConfig shared, JsonObject json, FieldReader r, string path)
    {
        RejectSlidingWindow(json, r, path);
        return shared with { QkvBias = true, OutputBias = false, MlpBias = r.Bool("mlp_bias") ?? false };
    }

    public override void WriteConfig(ModelConfig config, JsonObject json)
    {
        json["hidden_act"] = "silu";
        json["use_sliding_window"] = false;
    }

    public override string? GgufProblem(ModelConfig config) =>
        config.MlpBias ? "mlp_bias is true, but llama.cpp's qwen2 graph has no feed-forward biases" : null;
}

/// <summary>Qwen3ForCausalLM: RMSNorm on each head's queries and keys before RoPE.</summary>
public sealed class Qwen3Architecture : ModelArchitecture
{
    public override string ModelType => "qwen3";
    public override string ClassName => "Qwen3ForCausalLM";

    public override ModelConfig NewConfig(ModelConfig shared) => shared with { QkNorm = true };

    public override ModelConfig ReadConfig(ModelConfig shared, JsonObject json, FieldReader r, string path) =>
        base.ReadConfig(shared, json, r, path) with { QkNorm = true };

    public override void WriteConfig(ModelConfig config, JsonObject json)
    {
        json["attention_bias"] = config.QkvBias;
        json["hidden_act"] = "silu";
        json["use_sliding_window"] = false;
    }

    public override string? GgufProblem(ModelConfig config) => config.QkvBias || config.OutputBias || config.MlpBias
        ? "attention_bias or mlp_bias is true, but llama.cpp's qwen3 graph has no projection biases" : null;
}
