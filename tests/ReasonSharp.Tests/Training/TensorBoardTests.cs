using System.Text;
using ReasonSharp.Training;

namespace ReasonSharp.Tests.Training;

public class TensorBoardTests
{
    /// <summary>A minimal reader: TFRecord frames with CRC checks, then Event fields step (2), file_version (3),
    /// summary (5) / value (1) / tag (1), simple_value (2).</summary>
    static List<(long Step, string? FileVersion, List<(string Tag, float Value)> Values, bool SessionStart)> ReadEvents(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var events = new List<(long, string?, List<(string, float)>, bool)>();
        int offset = 0;
        while (offset < bytes.Length)
        {
            var lengthBytes = bytes.AsSpan(offset, 8);
            ulong length = BitConverter.ToUInt64(lengthBytes);
            Assert.Equal(Crc32C.Masked(lengthBytes), BitConverter.ToUInt32(bytes, offset + 8));
            var data = bytes.AsSpan(offset + 12, (int)length);
            Assert.Equal(Crc32C.Masked(data), BitConverter.ToUInt32(bytes, offset + 12 + (int)length));
            offset += 12 + (int)length + 4;

            long step = 0;
            string? version = null;
            bool sessionStart = false;
            var values = new List<(string, float)>();
            foreach (var (field, wire, value, payload) in Fields(data.ToArray()))
            {
                if (field == 2 && wire == 0) step = (long)value;
                if (field == 3) version = Encoding.UTF8.GetString(payload!);
                if (field == 6) sessionStart = Fields(payload!).Any(f => f.Field == 1 && f.Value == 1);
                if (field == 5)
                    foreach (var entry in Fields(payload!).Where(f => f.Field == 1))
                    {
                        var parts = Fields(entry.Payload!).ToList();
                        values.Add((Encoding.UTF8.GetString(parts.Single(p => p.Field == 1).Payload!),
                            BitConverter.ToSingle(parts.Single(p => p.Field == 2).Payload!)));
                    }
            }
            events.Add((step, version, values, sessionStart));
        }
        return events;
    }

    static IEnumerable<(int Field, int Wire, ulong Value, byte[]? Payload)> Fields(byte[] data)
    {
        int i = 0;
        ulong Varint()
        {
            ulong result = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = data[i++];
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return result;
            }
        }
        while (i < data.Length)
        {
            var key = Varint();
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: yield return (field, wire, Varint(), null); break;
                case 1: yield return (field, wire, 0, data[i..(i += 8)]); break;
                case 5: yield return (field, wire, 0, data[i..(i += 4)]); break;
                case 2: int n = (int)Varint(); yield return (field, wire, 0, data[i..(i += n)]); break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
        }
    }

    [Fact]
    public void Crc32CMatchesTheStandardCheckValue() =>
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));

    [Fact]
    public void EventFileRecordsVerifyAndValuesReadBack()
    {
        using var dir = TestEnvironment.NewTempDir();
        string path;
        using (var writer = new TensorBoardWriter(dir.Path))
        {
            writer.WriteScalars(1, [new("train/loss", 2.5), new("train/learning_rate", 1e-4)]);
            writer.WriteScalars(2, [new("train/loss", 2.25)]);
            writer.WriteSessionStart(3);
            path = writer.Path;
        }
        Assert.StartsWith("events.out.tfevents.", Path.GetFileName(path));
        var events = ReadEvents(path);
        Assert.Equal(4, events.Count);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        Assert.Equal(1, events[1].Step);
        Assert.Equal([("train/loss", 2.5f), ("train/learning_rate", 1e-4f)], events[1].Values);
        Assert.Equal([("train/loss", 2.25f)], events[2].Values);
        Assert.True(events[3].SessionStart);
        Assert.Equal(3, events[3].Step);
    }

    [Fact]
    public void ATrainingRunWritesItsMetricsToTheEventFile()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = TrainingFixtures.Model();
        var options = TrainingFixtures.Options(dir.Path) with { MaxSteps = 3, SaveStrategy = "no" };
        var result =
            TrainingFixtures.NewTrainer(model, new LanguageModelingTask(TrainingFixtures.RandomSequences(6, 5, 9)),
            options).Train();
        var file = Directory.GetFiles(Path.Combine(dir.Path, MetricsLogger.TensorBoardFolder)).Single();
        var losses =
            ReadEvents(file).SelectMany(e =>
            e.Values.Where(v => v.Tag == "train/loss").Select(v => (e.Step, v.Value))).ToList();
        Assert.Equal([1L, 2L, 3L], losses.Select(l => l.Step));
        for (int i = 0; i < 3; i++) Assert.Equal((float)result.Steps[i].Loss, losses[i].Value);
    }
}
