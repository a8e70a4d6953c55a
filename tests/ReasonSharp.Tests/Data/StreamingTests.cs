using System.Diagnostics;
using System.Text;
using ReasonSharp.Data;
using Xunit.Abstractions;

namespace ReasonSharp.Tests.Data;

[Collection("Serial")]
public class StreamingTests(ITestOutputHelper output)
{
    const int Rows = 1_000_000;

    // About 75 MB: each row a distinct small prompt/completion problem.
    static void WriteMillionRows(string path)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        for (var i = 0; i < Rows; i++)
        {
            writer.Write("{\"prompt\":\"Compute ");
            writer.Write(i);
            writer.Write("+1.\",\"completion\":\"<answer>");
            writer.Write(i + 1);
            writer.Write("</answer>\",\"answer\":\"");
            writer.Write(i + 1);
            writer.Write("\"}\n");
        }
    }

    [Fact]
    public void First_batch_of_a_million_row_jsonl_is_read_fast_with_bounded_memory()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("million.jsonl");
        var write = Stopwatch.StartNew();
        WriteMillionRows(path);
        write.Stop();
        var fileBytes = new FileInfo(path).Length;
        Assert.True(fileBytes > 60_000_000, $"file is {fileBytes} bytes");

        // Warm the JIT on a tiny file so the timing is of reading, not of compiling.
        var small = dir.File("small.jsonl");
        File.WriteAllLines(small, File.ReadLines(path).Take(10));
        Assert.Equal(10, DatasetReader.ReadExamples(small).ShuffleBuffered(4, 1).Count());

        GC.Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var read = Stopwatch.StartNew();
        var batch = DatasetReader.ReadExamples(path).ShuffleBuffered(bufferSize: 1024, seed: 1).Take(64).ToList();
        read.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var retained = GC.GetTotalMemory(forceFullCollection: true) - before;

        output.WriteLine($"wrote {fileBytes:N0} bytes in {write.ElapsedMilliseconds} ms; first batch of 64 " +
                         $"(shuffle buffer 1024) in {read.Elapsed.TotalMilliseconds:F1} ms, allocated " +
                         $"{allocated:N0} bytes, retained {retained:N0} bytes");
        Assert.Equal(64, batch.Count);
        Assert.All(batch, e => Assert.Equal((long.Parse(e.Messages[0].Content[8..^3]) + 1).ToString(), e.GoldAnswer));
        Assert.True(batch.Max(e => int.Parse(e.Source.Split(':')[^1])) <= 1024 + 64,
            "a buffered shuffle reads only buffer + batch rows");
        Assert.True(read.ElapsedMilliseconds < 500, $"first batch took {read.ElapsedMilliseconds} ms");
        Assert.True(allocated < 16_000_000, $"reading the first batch allocated {allocated} bytes of a " +
            $"{fileBytes}-byte file");
        Assert.True(retained < 8_000_000, $"memory grew by {retained} bytes");
        Assert.True(write.ElapsedMilliseconds < 10_000, $"writing the file took {write.ElapsedMilliseconds} ms");

        // The whole file streams through with memory that stays flat.
        var peak = 0L;
        var count = 0;
        foreach (var _ in DatasetReader.ReadRows(path))
            if (++count % 100_000 == 0) peak = Math.Max(peak, GC.GetTotalMemory(false) - before);
        output.WriteLine($"streamed all {count:N0} rows; peak managed-memory growth {peak:N0} bytes");
        Assert.Equal(Rows, count);
        Assert.True(peak < 64_000_000, $"peak growth while streaming {fileBytes} bytes: {peak}");
    }

    [Fact]
    public void Shuffles_are_seeded_and_complete()
    {
        var items = Enumerable.Range(0, 10_000).ToList();
        var buffered = items.ShuffleBuffered(100, seed: 9).ToList();
        Assert.Equal(items, buffered.Order());
        Assert.Equal(buffered, items.ShuffleBuffered(100, seed: 9));
        Assert.NotEqual(buffered, items.ShuffleBuffered(100, seed: 10));
        Assert.NotEqual(items, buffered);
        // A buffer of b items can only move an item b places earlier.
        Assert.All(buffered.Select((value, position) => (value, position)),
            p => Assert.True(p.value <= p.position + 100));

        var exact = items.ShuffleExact(9);
        Assert.Equal(items, exact.Order());
        Assert.Equal(exact, items.ShuffleExact(9));
        // An exact shuffle moves items anywhere: some of the last 100 land in the first 100.
        Assert.Contains(exact.Take(100), v => v >= 9900);
    }

    [Fact]
    public void Splits_take_skip_filter_and_map_compose_on_streams()
    {
        var items = Enumerable.Range(0, 1000).ToList();
        var split = items.SplitTrainTest(0.25, seed: 2);
        Assert.Equal((750, 250), (split.Train.Count, split.Test.Count));
        Assert.Equal(items, split.Train.Concat(split.Test).Order());
        Assert.Equal(split.Test, items.SplitTrainTest(0.25, seed: 2).Test);

        var keyed = items.Where(i => DataPipeline.IsTestKey($"problem {i % 100}", 0.2, seed: 1)).ToList();
        Assert.All(keyed, i => Assert.True(DataPipeline.IsTestKey($"problem {i % 100}", 0.2, 1)));
        Assert.InRange(keyed.Select(i => i % 100).Distinct().Count(), 8, 35);

        Assert.Equal([20, 22, 24], items.Skip(10).Where(i => i % 2 == 0).Select(i => i * 2 / 2).Skip(5).Take(3));
        Assert.Throws<ReasonSharpException>(() => items.SplitTrainTest(1.5, 0));
    }
}
