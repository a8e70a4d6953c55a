using ReasonSharp.Evaluation;

namespace ReasonSharp.Tests.Evaluation;

public class PassAtKTests
{
    [Theory]
    [InlineData(10, 0, 1, 0.0)]
    [InlineData(10, 10, 5, 1.0)]
    [InlineData(10, 3, 1, 0.3)]                // pass@1 = c/n
    [InlineData(4, 1, 2, 0.5)]                 // 1 − C(3,2)/C(4,2) = 1 − 3/6
    [InlineData(5, 2, 2, 0.7)]                 // 1 − C(3,2)/C(5,2) = 1 − 3/10
    [InlineData(10, 2, 8, 44.0 / 45)]          // 1 − C(8,8)/C(10,8) = 1 − 1/45
    [InlineData(6, 3, 4, 1.0)]                 // n − c < k: some correct sample is always drawn
    public void MatchesHandComputedValues(int n, int c, int k, double expected)
    {
        Assert.Equal(expected, PassAtK.Estimate(n, c, k), 12);
    }

    [Fact]
    public void EqualsTheCombinatorialFormulaForManyCases()
    {
        static double Choose(int n, int k) => k < 0 || k > n ? 0
            : Enumerable.Range(1, k).Aggregate(1.0, (acc, i) => acc * (n - k + i) / i);
        for (int n = 1; n <= 16; n++)
            for (int c = 0; c <= n; c++)
                for (int k = 1; k <= n; k++)
                    Assert.Equal(1 - Choose(n - c, k) / Choose(n, k), PassAtK.Estimate(n, c, k), 9);
    }

    [Fact]
    public void MajorityVotePicksTheMostCommonAnswerAndBreaksTiesByFirstSeen()
    {
        Assert.Equal("4", PassAtK.MajorityAnswer(["4", null, "5", "4", "5", "4"]));
        Assert.Equal("5", PassAtK.MajorityAnswer(["5", "4", "4", "5"]));
        Assert.Null(PassAtK.MajorityAnswer([null, null]));
    }

    [Fact]
    public void RejectsImpossibleCounts()
    {
        Assert.Throws<ArgumentException>(() => PassAtK.Estimate(3, 4, 1));
        Assert.Throws<ArgumentException>(() => PassAtK.Estimate(3, 1, 4));
    }
}
