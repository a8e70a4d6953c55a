using ReasonSharp.Cli;
using ReasonSharp.Cli.Commands;
using ReasonSharp.Jobs;

namespace ReasonSharp.Tests.Cli;

/// <summary>Every job is a `reason` command: hand-written, or built from the job alone by <see cref="JobCommand"/>.
/// </summary>
[Collection("Console")]
public class JobCommandTests
{
    [Fact]
    public void EveryJobInTheRegistryIsACommand()
    {
        var names = CliRunner.CreateRoot().Subcommands.Select(c => c.Name).ToHashSet();
        foreach (var job in JobRegistry.Names)
            Assert.True(names.Contains(job) || CommandList.JobsWithTheirOwnCommand.Contains(job),
                $"job '{job}' has no command");
        Assert.Contains("dpo", names);
        Assert.All(CommandList.JobsWithTheirOwnCommand, name => Assert.NotNull(JobRegistry.Find(name)));
    }

    [Fact]
    public async Task AJobWithoutItsOwnCommandTakesRecipesSetAndPrintConfig()
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("dpo.yaml"), "beta: 0.25\nloss_type: apo_zero\n");
        var (code, output) = await CliHarness.Run("dpo", "--config", dir.File("dpo.yaml"), "--set", "max_length=64",
            "--set", "model_name_or_path=m", "--set", "dataset_name=d.jsonl", "--print-config");
        Assert.Equal(0, code);
        Assert.Contains("beta: 0.25", output);
        Assert.Contains("loss_type: apo_zero", output);
        Assert.Contains("max_length: 64", output);

        (code, output) = await CliHarness.Run("dpo", "--set", "beta=0", "--set", "model_name_or_path=m",
            "--set", "dataset_name=d.jsonl", "--print-config");
        Assert.NotEqual(0, code);
        Assert.Contains("'beta'", output);

        (code, output) = await CliHarness.Run("dpo", "--help");
        Assert.Equal(0, code);
        foreach (var flag in new[] { "--config", "--set", "--print-config", "--resume", "--overwrite" })
            Assert.Contains(flag, output);
    }
}
