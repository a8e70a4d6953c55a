using ReasonSharp.Configuration;
using ReasonSharp.Recipes;
using ReasonSharp.Training.Grpo;

namespace ReasonSharp.Tests.Recipes;

public class OptionsBinderTests
{
    public record BaseOptions
    {
        public double LearningRate { get; init; } = 2e-5;
        public int? MaxSteps { get; init; }
    }

    public sealed record SampleOptions : BaseOptions
    {
        public string OutputDir { get; init; } = "runs/x";
        public bool Packing { get; init; }
        public ScaleRewards ScaleRewards { get; init; } = ScaleRewards.Group;
        public IReadOnlyList<string> RewardFuncs { get; init; } = ["accuracy"];
        public IReadOnlyList<double> RewardWeights { get; init; } = [];
    }

    [Fact]
    public void YamlAndOverridesBindSnakeCaseKeysIncludingInheritedOnes()
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("r.yaml"), "# a recipe\nlearning_rate: 1.0e-6\nmax_steps: 50\npacking: " +
            "true\nscale_rewards: none\nreward_funcs: [accuracy, format]\nreward_weights:\n  - 1.0\n  - 0.5\n");
        var options = OptionsBinder.LoadFile(dir.File("r.yaml"), new SampleOptions());
        Assert.Equal(1e-6, options.LearningRate);
        Assert.Equal(50, options.MaxSteps);
        Assert.True(options.Packing);
        Assert.Equal(ScaleRewards.None, options.ScaleRewards);
        Assert.Equal(["accuracy", "format"], options.RewardFuncs);
        Assert.Equal([1.0, 0.5], options.RewardWeights);
        Assert.Equal("runs/x", options.OutputDir);

        var overridden =
            OptionsBinder.ApplyOverrides(options,
            ["max_steps=7", "output_dir=out/y", "reward_funcs=[countdown]", "max_steps=null"]);
        Assert.Null(overridden.MaxSteps);
        Assert.Equal("out/y", overridden.OutputDir);
        Assert.Equal(["countdown"], overridden.RewardFuncs);
        Assert.Equal(50, options.MaxSteps);
    }

    [Fact]
    public void QuotedStringsKeepTheirSpacesAndPlainValuesAreTrimmed()
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("r.yaml"), "output_dir: ' runs/a '\nmax_steps: \" 7\"\n");
        var options = OptionsBinder.LoadFile(dir.File("r.yaml"), new SampleOptions());
        Assert.Equal(" runs/a ", options.OutputDir);
        Assert.Equal(7, options.MaxSteps);
        Assert.Equal(", ", OptionsBinder.ApplyOverrides(options, ["output_dir=\", \""]).OutputDir);
        Assert.Equal("runs/b", OptionsBinder.ApplyOverrides(options, ["output_dir=  runs/b  "]).OutputDir);
        var printed = OptionsBinder.ToYaml(options with { OutputDir = ", " });
        Assert.Equal(", ", OptionsBinder.Apply(new SampleOptions(), YamlNodeOf(printed), "printed").OutputDir);
    }

    static YamlDotNet.RepresentationModel.YamlNode YamlNodeOf(string text)
    {
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents[0].RootNode;
    }

    [Fact]
    public void UnknownKeysAreErrorsWithTheLineAndASuggestion()
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("r.yaml"), "learning_rate: 1e-5\nlearnig_rate: 3\n");
        var e = Assert.Throws<ReasonSharpException>(() =>
            OptionsBinder.LoadFile(dir.File("r.yaml"), new SampleOptions()));
        Assert.Contains("r.yaml:2", e.Message);
        Assert.Contains("unknown option 'learnig_rate'", e.Message);
        Assert.Contains("did you mean 'learning_rate'", e.Message);
        Assert.Contains("unknown option 'epochs'",
            Assert.Throws<ReasonSharpException>(() =>
            OptionsBinder.ApplyOverrides(new SampleOptions(), ["epochs=3"])).Message);
    }

    [Theory]
    [InlineData("max_steps: many", "max_steps", "an integer")]
    [InlineData("packing: maybe", "packing", "true or false")]
    [InlineData("scale_rewards: sometimes", "scale_rewards", "one of group, batch, none")]
    [InlineData("reward_funcs: accuracy", "reward_funcs", "a list")]
    [InlineData("learning_rate: [1]", "learning_rate", "single value")]
    public void WrongTypesNameTheKeyAndWhatWasExpected(string yaml, string key, string expected)
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("r.yaml"), "\n" + yaml + "\n");
        var e = Assert.Throws<ReasonSharpException>(() =>
            OptionsBinder.LoadFile(dir.File("r.yaml"), new SampleOptions()));
        Assert.Contains("r.yaml:2", e.Message);
        Assert.Contains(key, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void MalformedYamlNamesTheLine()
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("r.yaml"), "a: 1\nb: [1, 2\nc: 3\n");
        Assert.Contains("malformed YAML",
            Assert.Throws<ReasonSharpException>(() =>
            OptionsBinder.LoadFile(dir.File("r.yaml"), new SampleOptions())).Message);
    }

    [Fact]
    public void SavedYamlLoadsBackToEqualOptions()
    {
        using var dir = TestEnvironment.NewTempDir();
        var options = new SampleOptions { LearningRate = 3e-4, MaxSteps = 9, OutputDir = "a: b", RewardFuncs = ["x", "y"], RewardWeights = [0.25], ScaleRewards = ScaleRewards.Batch };
        File.WriteAllText(dir.File("saved.yaml"), OptionsBinder.ToYaml(options));
        var loaded = OptionsBinder.LoadFile(dir.File("saved.yaml"), new SampleOptions());
        Assert.Equal(OptionsBinder.ToYaml(options), OptionsBinder.ToYaml(loaded));
        Assert.Equal("a: b", loaded.OutputDir);
    }
}
