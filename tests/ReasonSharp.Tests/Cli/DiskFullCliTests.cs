namespace ReasonSharp.Tests.Cli;

/// <summary>Commands filling the disk end with `error: disk full at PATH …`, exit 2, leave no partial file.</summary>
[Collection("Console")]
public class DiskFullCliTests
{
    [SkippableFact]
    public async Task DataGenerateInitModelAndSftReportAFullDiskAndLeaveNoPartialFile()
    {
        using var disk = new SmallDisk(64 * 1024);
        var (code, output) = await CliHarness.Run("data", "generate", "--task", "arithmetic", "--n", "3000",
            "--out", disk.File("arith.jsonl"));
        Assert.Equal(2, code);
        var train = disk.File("arith.train.jsonl");
        Assert.Matches($@"^error: disk full at {train}: [\d,]+ bytes needed, [\d,]+ bytes free", output);
        Assert.Empty(Directory.GetFileSystemEntries(disk.Path));

        using var dir = TestEnvironment.NewTempDir();
        await OverwriteCliTests.MakeDataTokenizerAndModel(dir);
        (code, output) = await CliHarness.Run("init-model", "--size", "nano", "--tokenizer", dir.File("tok"),
            "--out", disk.File("model"));
        Assert.Equal(2, code);
        Assert.Matches(@"^error: disk full at .*/model/model\.safetensors: [\d,]+ bytes needed, [\d,]+ bytes free",
            output);
        Assert.False(File.Exists(disk.File("model/model.safetensors")));

        (code, output) = await CliHarness.Run(OverwriteCliTests.Sft(dir, disk.File("run"), 2));
        Assert.Equal(2, code);
        Assert.Contains("error: disk full at ", output);
        Assert.Contains("checkpoint-1 was not saved; the run has no earlier checkpoint", output);
        Assert.DoesNotContain(Directory.GetDirectories(disk.File("run")), d => d.Contains("checkpoint-"));
    }
}
