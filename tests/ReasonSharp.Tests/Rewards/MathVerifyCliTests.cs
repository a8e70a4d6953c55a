namespace ReasonSharp.Tests.Rewards;

/// <summary>Issue 19.13: `reason verify` exits 0 equivalent, 1 not equivalent, 2 usage error, 3 no verdict.</summary>
[Collection("Console")]
public class MathVerifyCliTests
{
    [Theory]
    [InlineData(0, "1", "1")]
    [InlineData(1, "1", "2")]
    [InlineData(0, "2^{10}", "1024")]
    [InlineData(1, "2^{10}", @"\boxed{2}")]
    [InlineData(3, "10^{10^{10^{10}}}", "10")]
    [InlineData(3, @"\sqrt[3]{2}\pm 1", "1")]
    public async Task The_exit_code_tells_the_verdict(int expected, string gold, string prediction)
    {
        var (code, output) = await CliHarness.Run("verify", gold, prediction);
        Assert.True(expected == code, output);
    }

    [Theory]
    [InlineData("missing PRED", "verify", "1")]
    [InlineData("missing GOLD and PRED", "verify")]
    [InlineData("--precision must be 0..100, got -3", "verify", "1", "1", "--precision", "-3")]
    [InlineData("--precision: expected a number, got 'abc'", "verify", "1", "1", "--precision", "abc")]
    [InlineData("--precision: missing its value", "verify", "1", "1", "--precision")]
    [InlineData("--timeout must be a positive number", "verify", "1", "1", "--timeout", "0")]
    [InlineData("--max-input-length must be at least 1", "verify", "1", "1", "--max-input-length", "0")]
    [InlineData("unexpected '3'", "verify", "1", "2", "3")]
    [InlineData("unexpected '--fast'", "verify", "1", "2", "--fast")]
    public async Task Usage_errors_exit_2_with_one_error_line(string message, params string[] args)
    {
        var (code, output) = await CliHarness.Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", output);
        Assert.Contains(message, output);
    }

    [Fact]
    public async Task The_caps_are_options()
    {
        var (code, output) = await CliHarness.Run("verify", "1234", "1234", "--max-number-digits", "3");
        Assert.Equal(3, code);
        Assert.Contains("MaxNumberDigits", output);
        (code, output) = await CliHarness.Run("verify", "1", "the answer is 1", "--max-input-length", "10");
        Assert.Equal(3, code);
        Assert.StartsWith("too large", output);
    }
}
