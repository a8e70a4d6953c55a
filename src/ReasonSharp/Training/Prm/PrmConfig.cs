using ReasonSharp.Rewards.Steps;

namespace ReasonSharp.Training.Prm;

/// <summary>
/// Options of `reason prm train`: TRL's PRMConfig names and defaults (learning_rate 1e-5, max_length 1024,
/// max_prompt_length 512, max_completion_length none, train_on_last_step_only off, logging_steps 10,
/// gradient_checkpointing on) and the model, dataset and LoRA options of <see cref="ModelTrainingOptions"/>. The model
/// trained is the causal-LM judge of the process_lm reward (Math-Shepherd's layout): step_separator is written after
/// every step and the judge predicts good_token or bad_token there. Deviation: TRL's step_separator defaults to "\n"
/// and feeds a token-classification head; here it is process_lm's step tag " ки" (one token of the judge's tokenizer)
/// and the two logits are the language-model head's rows of good_token and bad_token, so the folder trained is a plain
/// causal LM that process_lm loads.
/// </summary>
public sealed record PrmConfig : ModelTrainingOptions
{
    public PrmConfig()
    {
        LearningRate = 1e-5;
        LoggingSteps = 10;
        GradientCheckpointing = true;
    }

    /// <summary>Written after every step; the judge is read at it. One token of the judge's tokenizer.</summary>
    public string StepSeparator { get; init; } = " ки";
    /// <summary>null: Math-Shepherd's layout. Set: the judge reads the prompt through its chat template and the steps
    /// joined by this string, untagged, each read at its last token (<see cref="LmStepScorerOptions.StepJoin"/>);
    /// saved in prm_config.json. Not in TRL.</summary>
    public string? StepJoin { get; init; }
    /// <summary>The token the judge predicts after a correct step.</summary>
    public string GoodToken { get; init; } = "+";
    /// <summary>The token the judge predicts after a wrong step.</summary>
    public string BadToken { get; init; } = "-";
    /// <summary>Most tokens of question + steps; whole steps are dropped from the end to fit. null: no limit.</summary>
    public int? MaxLength { get; init; } = 1024;
    /// <summary>Most question tokens (the end is kept); null: no limit.</summary>
    public int? MaxPromptLength { get; init; } = 512;
    /// <summary>Most tokens of the steps and their separators (whole steps from the start); null: no limit.</summary>
    public int? MaxCompletionLength { get; init; }
    /// <summary>Only the last step of each row is trained on (TRL: for outcome-style labels).</summary>
    public bool TrainOnLastStepOnly { get; init; }
    /// <summary>Train on the rows' soft_labels (Math-Shepherd's soft estimate, the fraction of continuations that
    /// reached the answer) as cross-entropy targets instead of the hard labels.</summary>
    public bool SoftLabels { get; init; }
    /// <summary>The judge's good logit at each step also gets its own log-probability of the least likely step token
    /// so far (<see cref="LmStepScorerOptions.LikelihoodFeature"/>); saved in prm_config.json. Not in TRL.</summary>
    public bool LikelihoodFeature { get; init; }

    public override void Validate()
    {
        base.Validate();
        CheckModelAndDataset("a stepwise-supervision file (prompt/completions/labels) or dataset folder");
        Check(!UsePeft, "use_peft", "false: PRM training fine-tunes the whole judge, so its folder loads into " +
            "process_lm", UsePeft);
        Check(StepJoin is not null || !string.IsNullOrEmpty(StepSeparator), "step_separator",
            "one token of the judge's tokenizer", StepSeparator);
        Check(StepJoin is null || StepJoin.Length > 0, "step_join", "null or a non-empty string", StepJoin);
        Check(!string.IsNullOrEmpty(GoodToken), "good_token", "one token of the judge's tokenizer", GoodToken);
        Check(!string.IsNullOrEmpty(BadToken), "bad_token", "one token of the judge's tokenizer", BadToken);
        Check(MaxLength is null or >= 2, "max_length", "an integer >= 2 or null", MaxLength);
        Check(MaxPromptLength is null or >= 1, "max_prompt_length", "an integer >= 1 or null", MaxPromptLength);
        Check(MaxCompletionLength is null or >= 2, "max_completion_length", "an integer >= 2 or null",
            MaxCompletionLength);
    }
}
