using System.Security.Cryptography;
using System.Text;

namespace ReasonSharp.Data;

/// <summary>
/// Seeded shuffles and splits for row and example streams. Take/Skip/Where/Select/Chunk are plain LINQ on the
/// streams the readers return; these add what LINQ lacks.
/// </summary>
public static class DataPipeline
{
    /// <summary>Exact Fisher–Yates shuffle of the whole sequence (it is loaded into memory). Same seed, same
    /// order.</summary>
    public static List<T> ShuffleExact<T>(this IEnumerable<T> source, int seed)
    {
        var items = source.ToList();
        var random = new Random(seed);
        for (var i = items.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
        return items;
    }

    /// <summary>
    /// Streaming shuffle with a buffer of <paramref name="bufferSize"/> items: each incoming item replaces a random
    /// buffered one, which is emitted. Memory is bounded by the buffer; same seed, same order.
    /// </summary>
    public static IEnumerable<T> ShuffleBuffered<T>(this IEnumerable<T> source, int bufferSize, int seed)
    {
        if (bufferSize < 1) throw new ReasonSharpException($"shuffle buffer: expected at least 1, got {bufferSize}");
        return Iterate();

        IEnumerable<T> Iterate()
        {
            var random = new Random(seed);
            var buffer = new List<T>(Math.Min(bufferSize, 1 << 16));
            foreach (var item in source)
            {
                if (buffer.Count < bufferSize) { buffer.Add(item); continue; }
                var j = random.Next(bufferSize);
                yield return buffer[j];
                buffer[j] = item;
            }
            for (var i = buffer.Count - 1; i >= 0; i--)
            {
                var j = random.Next(i + 1);
                yield return buffer[j];
                buffer[j] = buffer[i];
            }
        }
    }

    /// <summary>Exact split: round(n × testFraction) items chosen with the seed go to Test, the rest (in order) to
    /// Train.</summary>
    public static TrainTestSplit<T> SplitTrainTest<T>(this IReadOnlyList<T> items, double testFraction, int seed)
    {
        CheckFraction(testFraction);
        var testCount = (int)Math.Round(items.Count * testFraction, MidpointRounding.AwayFromZero);
        var test = Enumerable.Range(0, items.Count).ShuffleExact(seed).Take(testCount).Order().ToList();
        var inTest = test.ToHashSet();
        return new TrainTestSplit<T>(
            Enumerable.Range(0, items.Count).Where(i => !inTest.Contains(i)).Select(i => items[i]).ToList(),
            test.Select(i => items[i]).ToList());
    }

    /// <summary>
    /// Streaming split by key: a key lands in the test split when its seeded hash falls below the fraction, so equal
    /// keys always land together and train and test share no key.
    /// </summary>
    public static bool IsTestKey(string key, double testFraction, int seed)
    {
        CheckFraction(testFraction);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}\u0000{key}"));
        return BitConverter.ToUInt64(hash, 0) / (double)ulong.MaxValue < testFraction;
    }

    static void CheckFraction(double fraction)
    {
        if (fraction is < 0 or > 1 || double.IsNaN(fraction))
            throw new ReasonSharpException($"test fraction: expected a number from 0 to 1, got {fraction}");
    }
}

public sealed record TrainTestSplit<T>(IReadOnlyList<T> Train, IReadOnlyList<T> Test);
