namespace ReasonSharp.Tests;

public class ValidationTests
{
    sealed record Options(int Value);

    [Fact]
    public void AnInstanceIsValidatedOnceAndACopyAgain()
    {
        var options = new Options(1);
        int runs = 0;
        Validation.Once(options, () => runs++);
        Validation.Once(options, () => runs++);
        Assert.Equal(1, runs);

        Validation.Once(options with { Value = 2 }, () => runs++);
        Assert.Equal(2, runs);
    }

    [Fact]
    public void AFailedValidationIsNotRemembered()
    {
        var options = new Options(-1);
        int runs = 0;
        void Check()
        {
            runs++;
            if (options.Value < 0) throw new ReasonSharpException("value: -1; expected ≥ 0");
        }
        Assert.Throws<ReasonSharpException>(() => Validation.Once(options, Check));
        Assert.Throws<ReasonSharpException>(() => Validation.Once(options, Check));
        Assert.Equal(2, runs);
    }
}
