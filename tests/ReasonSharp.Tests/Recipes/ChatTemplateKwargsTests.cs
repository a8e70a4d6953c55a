using ReasonSharp.Configuration;
using ReasonSharp.Data;
using ReasonSharp.Generation;
using ReasonSharp.Jobs;
using ReasonSharp.Rewards;
using ReasonSharp.Tokenization;
using ReasonSharp.Training;
using ReasonSharp.Training.Grpo;
using ReasonSharp.Training.Sft;

namespace ReasonSharp.Tests.Recipes;

/// <summary>`chat_template_kwargs` in recipes and options (sft, grpo, eval, sample; generate and chat take
/// --chat-template-kwargs): bound as a mapping, and its variables reach the rendered prompt.</summary>
public class ChatTemplateKwargsTests
{
    const string Recipe =
        "chat_template_kwargs: {enable_thinking: false, greeting: 'hello there', n: 3, tags: [a, b]}\n";

    const string Template =
        "{%- for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
        + "{%- if add_generation_prompt %}<|assistant|>"
        + "[{{ greeting }} {{ (n or 0) + 1 }} {{ tags | default([]) | join('+') }}]"
        + "{%- if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
        + "{%- endif %}";

    static void AssertBound(IReadOnlyDictionary<string, object?>? kwargs)
    {
        Assert.NotNull(kwargs);
        Assert.Equal(false, kwargs["enable_thinking"]);
        Assert.Equal("hello there", kwargs["greeting"]);
        Assert.Equal(3L, kwargs["n"]);
        Assert.Equal(new List<object?> { "a", "b" }, kwargs["tags"]);
    }

    [Fact]
    public void EveryJobWithAChatTemplateBindsTheKwargsFromARecipe()
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("r.yaml"), Recipe);
        var sft = OptionsBinder.LoadFile(dir.File("r.yaml"), new SftConfig());
        AssertBound(sft.ChatTemplateKwargs);
        AssertBound(OptionsBinder.LoadFile(dir.File("r.yaml"), new GrpoConfig()).ChatTemplateKwargs);
        AssertBound(OptionsBinder.LoadFile(dir.File("r.yaml"), new EvalJobOptions()).Eval.ChatTemplateKwargs);
        AssertBound(OptionsBinder.LoadFile(dir.File("r.yaml"), new SampleJobOptions()).Sample.ChatTemplateKwargs);
        Assert.Contains("chat_template_kwargs: {enable_thinking: false, greeting: hello there, n: 3, tags: [a, b]}",
            OptionsBinder.ToYaml(sft));
        var set = OptionsBinder.ApplyOverrides(new SftConfig(), ["chat_template_kwargs={enable_thinking: true}"]);
        Assert.Equal(true, set.ChatTemplateKwargs!["enable_thinking"]);

        File.WriteAllText(dir.File("bad.yaml"), "\nchat_template_kwargs: false\n");
        var e = Assert.Throws<ReasonSharpException>(() =>
            OptionsBinder.LoadFile(dir.File("bad.yaml"), new SftConfig()));
        Assert.Contains("bad.yaml:2: option 'chat_template_kwargs' must be a mapping", e.Message);
        e = Assert.Throws<ReasonSharpException>(() => OptionsBinder.ParseMapping("[1]", "--chat-template-kwargs"));
        Assert.Contains("--chat-template-kwargs: expected a mapping", e.Message);
    }

    [Fact]
    public void TheKwargsReachThePromptsOfTrainingGenerationAndRollouts()
    {
        using var dir = TestEnvironment.NewTempDir();
        using (var tiny = TinyLanguageModels.Create(dir)) tiny.Save(dir.File("model"));
        File.WriteAllText(dir.File("template.jinja"), Template);
        File.WriteAllText(dir.File("r.yaml"), Recipe +
            $"model_name_or_path: {dir.File("model")}\nchat_format: {dir.File("template.jinja")}\ndevice: cpu\n");
        var grpo = OptionsBinder.LoadFile(dir.File("r.yaml"), new GrpoConfig());

        using var model = ModelTrainerSetup.LoadModel(grpo);
        IReadOnlyList<ChatMessage> messages = [new("user", "What is 2 + 2?")];
        const string expected = "<|user|>What is 2 + 2?\n<|assistant|>[hello there 4 a+b]<think>\n\n</think>\n\n";
        Assert.Equal(expected, model.Decode(model.EncodePrompt(messages), skipSpecialTokens: false));
        // The template echoes system messages and writes "</think>": that is no /think and /no_think switch.
        Assert.False(model.Chat.Capabilities.SystemThinkFlags);
        // GRPO, eval and sample build prompts through the rollout runner: enable_thinking: false wins there too.
        var runner = new RolloutRunner(model, RewardSpecs.Create(RewardRegistry.CreateDefault(), "accuracy"));
        var example = TinyLanguageModels.ArithmeticExamples(1, seed: 3)[0];
        var prompt = model.Decode(runner.EncodePrompt(example, enableThinking: true), skipSpecialTokens: false);
        Assert.EndsWith("<|assistant|>[hello there 4 a+b]<think>\n\n</think>\n\n", prompt);
        Assert.Equal("<think>\n\n</think>\n\n", runner.PromptPrefill(example, enableThinking: true));

        // Without the kwargs the same template renders no greeting and thinks.
        using var plain = ModelTrainerSetup.LoadModel(grpo with { ChatTemplateKwargs = null });
        Assert.Equal("<|user|>What is 2 + 2?\n<|assistant|>[ 1 ]",
            plain.Decode(plain.EncodePrompt(messages), skipSpecialTokens: false));
    }
}
