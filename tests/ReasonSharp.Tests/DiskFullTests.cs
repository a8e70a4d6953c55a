using ReasonSharp.Tests.Training;
using ReasonSharp.Training;

namespace ReasonSharp.Tests;

/// <summary>Writes into a disk that fills up: an error naming the file and the space, and no partial file.</summary>
public class DiskFullTests
{
    [SkippableFact]
    public void AnAtomicWriteNamesThePathAndTheBytesNeededAndLeavesTheOldFile()
    {
        using var disk = new SmallDisk(64 * 1024);
        var path = disk.File("x.bin");
        var old = new byte[16 * 1024];
        Array.Fill(old, (byte)7);
        File.WriteAllBytes(path, old);

        var error = Assert.Throws<DiskFullException>(() => AtomicFile.WriteAllBytes(path, new byte[200 * 1024]));
        Assert.StartsWith($"disk full at {path}: 204,800 bytes needed, ", error.Message);
        Assert.Contains("bytes free on that device now; the file is unchanged", error.Message);
        Assert.Equal(old, File.ReadAllBytes(path));
        Assert.Equal(["x.bin"], Directory.GetFiles(disk.Path).Select(Path.GetFileName));
    }

    [SkippableFact]
    public void AWriteOfUnknownSizeReportsAtLeastWhatItHadWritten()
    {
        using var disk = new SmallDisk(64 * 1024);
        var path = disk.File("big.bin");
        var chunk = new byte[256 * 1024];
        var error = Assert.Throws<DiskFullException>(() =>
            AtomicFile.Write(path, s => { for (int i = 0; i < 12; i++) s.Write(chunk); }));
        Assert.Matches($@"^disk full at {path}: at least [\d,]+ bytes needed \(the content was not complete",
            error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(disk.Path));
    }

    [SkippableFact]
    public void ACheckpointThatDoesNotFitIsDeletedAndTheErrorSaysSo()
    {
        using var disk = new SmallDisk(64 * 1024);
        using var model = TrainingFixtures.Model();
        var size = model.state_dict().Values.Sum(t => t.numel()) * 4;
        Assert.True(size > 64 * 1024, $"the test model's weights ({size} bytes) must not fit the disk");
        var options = TrainingFixtures.Options(disk.File("run")) with { MaxSteps = 2, SaveSteps = 1 };

        var task = new LanguageModelingTask(TrainingFixtures.RandomSequences(4, 6, 10));
        var trainer = TrainingFixtures.NewTrainer(model, task, options);
        var error = Assert.Throws<DiskFullException>(() => trainer.Train());
        Assert.Contains("disk full at ", error.Message);
        Assert.Contains("checkpoint-1 was not saved; the run has no earlier checkpoint", error.Message);
        Assert.DoesNotContain(Directory.GetDirectories(disk.File("run")), d => d.Contains("checkpoint-"));
    }

    [SkippableFact]
    public void AModelSaveThatDoesNotFitLeavesTheOldModelWhole()
    {
        using var model = TrainingFixtures.Model();
        var bytes = model.state_dict().Values.Sum(t => t.numel()) * 4;
        using var disk = new SmallDisk(bytes * 3 / 2 + 16 * 1024);
        var folder = disk.File("model");
        ReasonSharp.Modeling.ModelFolder.Save(model, folder);
        var before = File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));

        using var other = TrainingFixtures.Model(seed: 2);
        Assert.Throws<DiskFullException>(() => ReasonSharp.Modeling.ModelFolder.Save(other, folder));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(folder), e => Path.GetFileName(e).StartsWith(".saving"));
    }
}
