using System.Text;
using ReasonSharp.Rewards.Verification;

namespace ReasonSharp.Tests.Rewards;

/// <summary>
/// A random model's completions are noise; the verifier must answer "not equivalent" for them, never throw (a throw
/// in a reward stops a GRPO run). Strings built from the characters and tags that number parsing looks at.
/// </summary>
public class VerifierFuzzTests
{
    static readonly string[] Pieces =
        ["0", "1", "5", "9", "12", ",", ".", "-", "+", " ", "%", "$", "\\frac", "{", "}", "\\boxed{", "<answer>",
            "</answer>", "\n", "the answer is ", "e", "/", "="];

    [Theory]
    // NKo digit nine: a Unicode digit that .NET's \d matches, found by a random model in GRPO
    [InlineData("=\u07C9")]
    [InlineData("x = \u0663")]       // Arabic-Indic three
    [InlineData("<answer>\u096B</answer>")]  // Devanagari five
    public void Non_ascii_digits_are_not_equivalent_and_do_not_throw(string prediction) =>
        Assert.False(MathVerifier.Verify("76", prediction).Equivalent);

    [Fact]
    public void Random_strings_of_number_like_pieces_never_make_the_verifier_throw()
    {
        var random = new Random(11);
        for (int i = 0; i < 20_000; i++)
        {
            var text = new StringBuilder();
            int length = random.Next(1, 16);
            for (int j = 0; j < length; j++) text.Append(Pieces[random.Next(Pieces.Length)]);
            var prediction = text.ToString();
            var exception = Record.Exception(() => MathVerifier.Verify("76", prediction));
            Assert.True(exception is null, $"'{prediction}': {exception}");
        }
    }
}
