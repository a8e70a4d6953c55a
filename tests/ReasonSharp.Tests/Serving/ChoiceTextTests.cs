using ReasonSharp.Data;
using ReasonSharp.Serving;

namespace ReasonSharp.Tests.Serving;

public class ChoiceTextTests
{
    /// <summary>Feeds text one character (one "token") at a time, as a stream would, and joins the released
    /// pieces.</summary>
    static (string Reasoning, string Content, bool Stopped) Stream(string text, IReadOnlyList<string>? stops = null,
        bool split = true, bool thinkingOpen = false, List<(string, string)>? pieces = null)
    {
        var vocabulary = text.Distinct().ToList();
        var choice = new ChoiceText(ids => string.Concat(ids.Select(i => vocabulary[i])), stops ?? [], split,
            thinkingOpen);
        var (reasoning, content) = ("", "");
        foreach (var c in text)
        {
            var (r, t) = choice.Add(vocabulary.IndexOf(c));
            pieces?.Add((r, t));
            (reasoning, content) = (reasoning + r, content + t);
            if (choice.Stopped) break;
        }
        var (lastR, lastT) = choice.Finish();
        return (reasoning + lastR, content + lastT, choice.Stopped);
    }

    [Theory]
    [InlineData("<think>\n49+18 = 67\n</think>\n\nThe answer is 67.")]
    [InlineData("  <think>\nstep one\n\nstep two  \n</think>\n<answer>\n67\n</answer>\n")]
    [InlineData("No thinking at all, just an answer.")]
    [InlineData("<think>\n\n</think>\n\nDirect answer")]
    [InlineData("<thin but not a tag")]
    public void StreamedPiecesSplitLikeTheTraceParser(string completion)
    {
        var expected = ReasoningTrace.Parse(completion);
        var (reasoning, content, stopped) = Stream(completion);
        Assert.False(stopped);
        Assert.Equal(expected.Thinking, reasoning);
        // The server keeps <answer> tags in the content; the parser's answer is what they enclose.
        Assert.Equal(expected.Answer, content.Replace("<answer>\n", "").Replace("\n</answer>", ""));
    }

    [Fact]
    public void APromptThatOpenedTheThinkBlockMakesTheFirstTextReasoning()
    {
        var (reasoning, content, _) = Stream("first 2+2=4\n</think>\n\n4", thinkingOpen: true);
        Assert.Equal("first 2+2=4", reasoning);
        Assert.Equal("4", content);
    }

    [Fact]
    public void NoPartOfTheClosingTagLeaksIntoAStreamedPiece()
    {
        var pieces = new List<(string Reasoning, string Content)>();
        Stream("<think>\nabc</think>xyz", pieces: pieces);
        Assert.DoesNotContain(pieces, p => p.Reasoning.Contains('<') || p.Content.Contains('<'));
        Assert.Equal("abc", string.Concat(pieces.Select(p => p.Reasoning)));
    }

    [Fact]
    public void StopStringsEndTheTextBeforeThemEvenAcrossTokens()
    {
        var (_, content, stopped) = Stream("The answer is 42.\nQuestion: next", stops: ["\nQuestion:"], split: false);
        Assert.True(stopped);
        Assert.Equal("The answer is 42.", content);
        // A tail that may begin a stop string is held back, and released once it cannot.
        var pieces = new List<(string, string Content)>();
        var (_, all, stoppedAgain) = Stream("ab\nQuxyz", stops: ["\nQuestion:"], split: false, pieces: pieces);
        Assert.False(stoppedAgain);
        Assert.Equal("ab\nQuxyz", all);
        Assert.DoesNotContain(pieces.Take(5), p => p.Content.Contains('\n'));
        Assert.Equal("\nQux", pieces[5].Content);
    }

    [Fact]
    public void WithoutSplittingTheTextIsUntouched()
    {
        var (reasoning, content, _) = Stream("  <think>\nx\n</think>\n y  ", split: false);
        Assert.Equal("", reasoning);
        Assert.Equal("  <think>\nx\n</think>\n y  ", content);
    }
}
