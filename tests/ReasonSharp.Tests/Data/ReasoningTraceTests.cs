using ReasonSharp.Data;

namespace ReasonSharp.Tests.Data;

public class ReasoningTraceTests
{
    static readonly ReasoningTrace Trace = new("25*4=100, 100-3=97, 97+1=98.", "25*4-3+1");

    [Fact]
    public void Each_style_renders_its_own_markers()
    {
        Assert.Equal("<think>\n25*4=100, 100-3=97, 97+1=98.\n</think>\n<answer>\n25*4-3+1\n</answer>",
            Trace.Render(TraceStyle.ThinkAnswer));
        Assert.Equal("<think>\n25*4=100, 100-3=97, 97+1=98.\n</think>\n\n25*4-3+1",
            Trace.Render(TraceStyle.DeepSeekR1));
        Assert.Equal("<|begin_of_thought|>\n\n25*4=100, 100-3=97, " +
            "97+1=98.\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n25*4-3+1\n\n<|end_of_solution|>",
            Trace.Render(TraceStyle.OpenThoughts));
    }

    [Theory]
    [InlineData(TraceStyle.ThinkAnswer)]
    [InlineData(TraceStyle.DeepSeekR1)]
    [InlineData(TraceStyle.OpenThoughts)]
    public void Every_style_parses_back_and_converts_to_every_other(TraceStyle from)
    {
        var text = Trace.Render(from);
        Assert.Equal(Trace, ReasoningTrace.Parse(text, out var style));
        Assert.Equal(from, style);
        foreach (var to in Enum.GetValues<TraceStyle>())
            Assert.Equal(Trace.Render(to), ReasoningTrace.Convert(text, to));
    }

    [Fact]
    public void No_think_keeps_an_empty_block_as_Qwen3_does()
    {
        Assert.Equal("<think>\n\n</think>\n\n25*4-3+1", Trace.WithoutThinking().Render(TraceStyle.DeepSeekR1));
        Assert.Equal("<think>\n\n</think>\n<answer>\n25*4-3+1\n</answer>",
            Trace.WithoutThinking().Render(TraceStyle.ThinkAnswer));
        var parsed = ReasoningTrace.Parse("<think>\n\n</think>\n\n42", out var style);
        Assert.Equal((TraceStyle?)TraceStyle.DeepSeekR1, style);
        Assert.False(parsed.HasThinking);
        Assert.Equal("42", parsed.Answer);
    }

    [Fact]
    public void Unusual_but_real_completions_parse()
    {
        // The chat template already opened <think> in the prompt, so the completion starts inside it.
        Assert.Equal(new ReasoningTrace("first 2, then 3", "5"),
            ReasoningTrace.Parse("first 2, then 3\n</think>\n\n5"));
        // Plain text: all answer, no style.
        Assert.Equal(new ReasoningTrace("", "Paris"), ReasoningTrace.Parse(" Paris ", out var style));
        Assert.Null(style);
        // Truncated generation: thinking without a close keeps what is there.
        Assert.Equal(new ReasoningTrace("", "<think>\nstill going"), ReasoningTrace.Parse("<think>\nstill going"));
        // Answer tags without a think block.
        Assert.Equal(new ReasoningTrace("", "7"), ReasoningTrace.Parse("<answer> 7 </answer>"));
    }

    static Example Chat(string assistant, string? system = null)
    {
        var messages = new List<ChatMessage>();
        if (system != null) messages.Add(ChatMessage.FromSystem(system));
        messages.Add(ChatMessage.FromUser("q"));
        messages.Add(ChatMessage.FromAssistant(assistant));
        return new Example(messages, null, new Dictionary<string, System.Text.Json.JsonElement>(), "test");
    }

    [Fact]
    public void Example_conversions_rewrite_every_assistant_turn()
    {
        var bespoke = Chat(Trace.Render(TraceStyle.OpenThoughts));
        Assert.Equal(Trace.Render(TraceStyle.DeepSeekR1),
            ThinkingModes.ConvertTraces(bespoke, TraceStyle.DeepSeekR1).Completion);
        Assert.Equal("<think>\n\n</think>\n\n25*4-3+1",
            ThinkingModes.StripThinking(bespoke, TraceStyle.DeepSeekR1).Completion);
        Assert.Equal(bespoke.Messages[0], ThinkingModes.StripThinking(bespoke, TraceStyle.DeepSeekR1).Messages[0]);
    }

    [Fact]
    public void System_flags_follow_SmolLM3()
    {
        Assert.Equal(ChatMessage.FromSystem("/think"),
            ThinkingModes.WithSystemFlag(Chat("a"), ThinkingModes.ThinkFlag).Messages[0]);
        var flagged = ThinkingModes.WithSystemFlag(Chat("a", "You are helpful."), ThinkingModes.NoThinkFlag);
        Assert.Equal("You are helpful.\n/no_think", flagged.Messages[0].Content);
        // Setting the other flag replaces, never stacks.
        Assert.Equal("You are helpful.\n/think",
            ThinkingModes.WithSystemFlag(flagged, ThinkingModes.ThinkFlag).Messages[0].Content);
        Assert.Equal(3, flagged.Messages.Count);
    }

    [Fact]
    public void Dual_mode_mix_hits_the_ratio_exactly_and_is_seeded()
    {
        var examples =
            Enumerable.Range(0,
            1000).Select(i =>
            Chat(new ReasoningTrace($"step {i}", $"{i}").Render(TraceStyle.DeepSeekR1), "Sys")).ToList();
        var mixed = ThinkingModes.MixDualMode(examples, 0.3, seed: 4, TraceStyle.DeepSeekR1);
        var think = mixed.Where(e => e.Messages[0].Content.EndsWith("/think")).ToList();
        var noThink = mixed.Where(e => e.Messages[0].Content.EndsWith("/no_think")).ToList();
        Assert.Equal((300, 700), (think.Count, noThink.Count));
        Assert.All(think, e => Assert.True(ReasoningTrace.Parse(e.Completion!).HasThinking));
        Assert.All(noThink, e => Assert.StartsWith("<think>\n\n</think>\n\n", e.Completion));
        Assert.All(mixed.Zip(examples),
            pair => Assert.Equal(ReasoningTrace.Parse(pair.Second.Completion!).Answer,
            ReasoningTrace.Parse(pair.First.Completion!).Answer));
        Assert.Equal(mixed.Select(e => e.Messages[0].Content),
            ThinkingModes.MixDualMode(examples, 0.3, 4, TraceStyle.DeepSeekR1).Select(e => e.Messages[0].Content));
        Assert.NotEqual(mixed.Select(e => e.Messages[0].Content),
            ThinkingModes.MixDualMode(examples, 0.3, 5, TraceStyle.DeepSeekR1).Select(e => e.Messages[0].Content));
    }

    [Fact]
    public void Dual_mode_mix_for_a_template_that_adds_the_empty_block_keeps_only_the_answer()
    {
        var examples =
            Enumerable.Range(0,
            10).Select(i =>
            Chat(new ReasoningTrace($"step {i}", $"{i}").Render(TraceStyle.ThinkAnswer), "Sys")).ToList();
        var mixed =
            ThinkingModes.MixDualMode(examples, 0.5, seed: 4, TraceStyle.ThinkAnswer, templateAddsEmptyThink: true);
        var noThink = mixed.Where(e => e.Messages[0].Content.EndsWith("/no_think")).ToList();
        Assert.Equal(5, noThink.Count);
        Assert.All(noThink, e => Assert.Matches(@"^<answer>\n\d\n</answer>$", e.Completion));
        Assert.All(mixed.Where(e => e.Messages[0].Content.EndsWith("/think")),
            e => Assert.True(ReasoningTrace.Parse(e.Completion!).HasThinking));
    }

    [Theory]
    [InlineData(@"so \boxed{\frac{1}{2}} and", @"\frac{1}{2}")]
    [InlineData(@"\boxed{1} then \boxed{2}", "2")]
    [InlineData(@"$\boxed 5$", "5")]
    [InlineData(@"\boxed{\{1,2\}}", @"\{1,2\}")]
    [InlineData(@"\fbox{x^{2}}", "x^{2}")]
    [InlineData(@"\boxed{\text{(A)}}", @"\text{(A)}")]
    public void Last_boxed_is_brace_matched(string text, string expected) =>
        Assert.Equal(expected, GoldAnswers.LastBoxed(text));

    [Theory]
    [InlineData(@"\boxed{1")]
    [InlineData("no box here")]
    [InlineData(@"\boxedfoo{1}")]
    public void Unbalanced_or_missing_boxes_give_null(string text) => Assert.Null(GoldAnswers.LastBoxed(text));

    [Fact]
    public void Gsm8k_hashes_split_solution_and_gold()
    {
        Assert.Equal("70000", GoldAnswers.AfterHashes("profit 200,000-130,000=$70,000\n#### 70000"));
        Assert.Equal("profit 200,000-130,000=$70,000",
            GoldAnswers.BeforeHashes("profit 200,000-130,000=$70,000\n#### 70000"));
        Assert.Null(GoldAnswers.AfterHashes("no marker"));
        Assert.Equal("3", GoldAnswers.FromText(@"the answer is \boxed{3}."));
        Assert.Equal("42", GoldAnswers.FromText(" 42 "));
    }
}
