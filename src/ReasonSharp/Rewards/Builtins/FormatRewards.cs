using System.Text.RegularExpressions;

namespace ReasonSharp.Rewards.Builtins;

/// <summary>
/// 1 when the completion has the expected reasoning format, else 0.
/// style=think_answer (default, Open-R1's format_reward):
/// "&lt;think&gt;\n…\n&lt;/think&gt;\n&lt;answer&gt;\n…\n&lt;/answer&gt;" (as in Open-R1, with multiline anchors, so
/// text may follow a line break after &lt;/answer&gt;).
/// style=think (R1 style, TRL's think_format_reward): exactly one &lt;think&gt;…&lt;/think&gt; at the start, then the
/// answer.
/// completion_starts_inside_think=true prefixes "&lt;think&gt;" first, for chat templates that open the think block in
/// the prompt.
/// </summary>
public sealed partial class FormatReward : SampleReward
{
    readonly Regex _pattern;
    readonly bool _prefixThink;

    public FormatReward(string name, RewardOptions options) : base(name)
    {
        var style = options.GetString("style", "think_answer");
        _pattern = style switch
        {
            "think_answer" => ThinkAnswerRegex(),
            "think" or "r1" => ThinkRegex(),
            _ => throw new ReasonSharpException($"reward '{name}': style must be think_answer or think, got '{style}'"),
        };
        _prefixThink = options.GetBool("completion_starts_inside_think", false);
    }

    protected override float? Score(RewardInput input) =>
        _pattern.IsMatch(_prefixThink ? "<think>" + input.Completion : input.Completion) ? 1f : 0f;

    [GeneratedRegex(@"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$",
        RegexOptions.Singleline | RegexOptions.Multiline, matchTimeoutMilliseconds: 2000)]
    private static partial Regex ThinkAnswerRegex();

    [GeneratedRegex(@"^<think>(?!.*<think>)(.*?)</think>.*$", RegexOptions.Singleline, matchTimeoutMilliseconds: 2000)]
    private static partial Regex ThinkRegex();
}

/// <summary>Open-R1's tag_count_reward: 0.25 each for exactly one "&lt;think&gt;\n", "\n&lt;/think&gt;\n",
/// "\n&lt;answer&gt;\n" and "\n&lt;/answer&gt;".</summary>
public sealed class TagCountReward : SampleReward
{
    public TagCountReward(string name, RewardOptions options) : base(name) { }

    protected override float? Score(RewardInput input)
    {
        var text = input.Completion;
        var score = 0f;
        foreach (var tag in new[] { "<think>\n", "\n</think>\n", "\n<answer>\n", "\n</answer>" })
            if (Count(text, tag) == 1) score += 0.25f;
        return score;
    }

    static int Count(string text, string tag)
    {
        var count = 0;
        for (var i = text.IndexOf(tag, StringComparison.Ordinal); i >= 0; i =
            text.IndexOf(tag, i + tag.Length, StringComparison.Ordinal)) count++;
        return count;
    }
}

/// <summary>
/// Open-R1's reasoning_steps_reward: min(1, n/3) where n counts "Step k:", a numbered item at the very start,
/// "\n-", "\n*", "First,", "Second,", "Next," and "Finally,".
/// </summary>
public sealed partial class ReasoningStepsReward : SampleReward
{
    public ReasoningStepsReward(string name, RewardOptions options) : base(name) { }

    protected override float? Score(RewardInput input) => Math.Min(1f, StepRegex().Count(input.Completion) / 3f);

    [GeneratedRegex(@"(Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)", RegexOptions.None,
        matchTimeoutMilliseconds: 2000)]
    private static partial Regex StepRegex();
}
