using ReasonSharp.Tokenization;
using ReasonSharp.Training.Lora;

namespace ReasonSharp.Training;

/// <summary>
/// The options shared by the trainers of a Hugging Face model (SFT, GRPO, STaR), between <see cref="TrainingOptions"/>
/// and their configs: the model folder, device and chat format; Open-R1's dataset names and splits; the system prompt
/// and held-out sample count; TRL's ModelConfig LoRA names (use_peft, lora_r 16, lora_alpha 32, lora_dropout 0.05,
/// PEFT's q_proj/v_proj targets unless a config sets its own). Checked here, built into a <see cref="LoraConfig"/>
/// here.
/// </summary>
public abstract record ModelTrainingOptions : TrainingOptions
{
    // Model

    /// <summary>Hugging Face model folder (config, weights, tokenizer) to train.</summary>
    public string? ModelNameOrPath { get; init; }
    /// <summary>cpu, cuda, cuda:N or auto.</summary>
    public string Device { get; init; } = "auto";
    /// <summary>Chat template in place of the tokenizer's own: chatml, dual-mode, a .jinja file, a
    /// tokenizer_config.json or a model folder; null: the tokenizer's chat_template.</summary>
    public string? ChatFormat { get; init; }
    /// <summary>Variables passed to the chat template on every rendering (transformers' chat_template_kwargs, e.g.
    /// {enable_thinking: false, tools: …}); enable_thinking: false turns thinking off where it would be on.</summary>
    public IReadOnlyDictionary<string, object?>? ChatTemplateKwargs { get; init; }

    // Data

    /// <summary>Training data (SFT: conversations; GRPO, STaR: prompts with gold answers): a .jsonl/.json/.parquet file
    /// or a Hugging Face dataset folder.</summary>
    public string? DatasetName { get; init; }
    /// <summary>Configuration of a dataset with several (a sub-folder, e.g. gsm8k's main); also picks which part of a
    /// Hub dataset is downloaded.</summary>
    public string? DatasetConfig { get; init; }
    /// <summary>Split of a dataset folder to train on.</summary>
    public string DatasetTrainSplit { get; init; } = "train";
    /// <summary>Split of a held-out dataset folder: eval_dataset_name's (and, for SFT when evaluating without it,
    /// dataset_name's).</summary>
    public string DatasetTestSplit { get; init; } = "test";
    /// <summary>Held-out data (file or folder, read at dataset_test_split); null: none (SFT: dataset_name's test split
    /// when evaluating).</summary>
    public string? EvalDatasetName { get; init; }
    /// <summary>Held-out prompts used for accuracy (the first N); null: all.</summary>
    public int? EvalAccuracySamples { get; init; }
    /// <summary>System prompt added to conversations and prompts that have none (e.g. R1's format
    /// instructions).</summary>
    public string? SystemPrompt { get; init; }

    // LoRA

    /// <summary>Train LoRA adapters instead of the full model.</summary>
    public bool UsePeft { get; init; }
    public int LoraR { get; init; } = 16;
    public double LoraAlpha { get; init; } = 32;
    public double LoraDropout { get; init; } = 0.05;
    /// <summary>q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj or all-linear.</summary>
    public IReadOnlyList<string> LoraTargetModules { get; init; } = ["q_proj", "v_proj"];
    /// <summary>Rank-stabilised scaling lora_alpha / √r.</summary>
    public bool UseRslora { get; init; }

    public override void Validate()
    {
        base.Validate();
        Check(EvalAccuracySamples is null or > 0, "eval_accuracy_samples", "an integer > 0 or null",
            EvalAccuracySamples);
        if (ChatFormat is { } chatFormat) ChatTemplates.Resolve(chatFormat, "training option 'chat_format'");
        Check(LoraR > 0, "lora_r", "an integer > 0", LoraR);
        Check(LoraAlpha > 0, "lora_alpha", "a number > 0", LoraAlpha);
        Check(LoraDropout is >= 0 and < 1, "lora_dropout", "a number in [0, 1)", LoraDropout);
        Named("lora_target_modules", () => Lora().ResolvedTargets(source: "training option 'lora_target_modules'"));
    }

    /// <summary>For trainers that read both from disk: model_name_or_path and dataset_name must be set.</summary>
    protected void CheckModelAndDataset(string datasetExpected)
    {
        Check(!string.IsNullOrWhiteSpace(ModelNameOrPath), "model_name_or_path", "a model folder", ModelNameOrPath);
        Check(!string.IsNullOrWhiteSpace(DatasetName), "dataset_name", datasetExpected, DatasetName);
    }

    /// <summary>PEFT's LoraConfig from the lora_* options.</summary>
    public LoraConfig Lora() => new()
    {
        R = LoraR, LoraAlpha = LoraAlpha, LoraDropout = LoraDropout, TargetModules = LoraTargetModules,
        UseRslora = UseRslora,
        BaseModelNameOrPath = ModelNameOrPath,
    };

    /// <summary>Runs a check whose own error does not name the option, prefixing it with the option's name.</summary>
    protected static void Named(string option, Action check)
    {
        try { check(); }
        catch (ReasonSharpException e) when (!e.Message.Contains($"'{option}'", StringComparison.Ordinal))
        {
            throw new ReasonSharpException($"training option '{option}': {e.Message}", e);
        }
    }
}
