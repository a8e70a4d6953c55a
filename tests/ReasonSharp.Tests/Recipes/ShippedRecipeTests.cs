using ReasonSharp.Configuration;
using ReasonSharp.Recipes;
using ReasonSharp.Rewards;
using ReasonSharp.Training.Grpo;

namespace ReasonSharp.Tests.Recipes;

/// <summary>Every shipped recipe binds to its options record without errors and names real reward functions.</summary>
public class ShippedRecipeTests
{
    public static IEnumerable<object[]> GrpoRecipes() =>
        Directory.GetFiles(Path.Combine(TestEnvironment.RepoRoot, "recipes"),
            "grpo-*.yaml").Select(f => new object[] { Path.GetFileName(f) });

    [Theory]
    [MemberData(nameof(GrpoRecipes))]
    public void GrpoRecipesBindAndValidate(string file)
    {
        var config = OptionsBinder.LoadFile(Path.Combine(TestEnvironment.RepoRoot, "recipes", file), new GrpoConfig());
        config.Validate();
        Assert.NotNull(GrpoTrainer.CreateReward(config, RewardRegistry.CreateDefault()));
    }
}
