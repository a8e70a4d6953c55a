using System.Text;

namespace ReasonSharp.Training;

/// <summary>
/// Writes TensorBoard event files (events.out.tfevents.*): TFRecord framing (length, masked CRC32C of the length, data,
/// masked CRC32C of the data) around Event protos holding Summary scalar values. Each record is flushed when written.
/// </summary>
public sealed class TensorBoardWriter : IDisposable
{
    readonly FileStream _stream;

    public string Path { get; }

    public TensorBoardWriter(string folder)
    {
        Directory.CreateDirectory(folder);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Path = System.IO.Path.Combine(folder, $"events.out.tfevents.{now}.{Environment.MachineName}.{Environment.ProcessId}.{Guid.NewGuid().ToString("N")[..8]}");
        _stream = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        WriteEvent(Event(WallTime(), 0, file => Protobuf.String(file, 3, "brain.Event:2")));
    }

    /// <summary>Scalars of one step, each under its tag (e.g. train/loss).</summary>
    public void WriteScalars(long step, IEnumerable<KeyValuePair<string, double>> values)
    {
        var summary = new MemoryStream();
        foreach (var (tag, value) in values)
        {
            var entry = new MemoryStream();
            Protobuf.String(entry, 1, tag);
            Protobuf.Float(entry, 2, (float)value);
            Protobuf.Bytes(summary, 1, entry.ToArray());
        }
        WriteEvent(Event(WallTime(), step, e => Protobuf.Bytes(e, 5, summary.ToArray())));
    }

    /// <summary>A SessionLog START at <paramref name="step"/>: TensorBoard drops the events at or after it that an
    /// interrupted run wrote earlier.</summary>
    public void WriteSessionStart(long step)
    {
        var sessionLog = new MemoryStream();
        Protobuf.Varint(sessionLog, 1, 1);
        WriteEvent(Event(WallTime(), step, e => Protobuf.Bytes(e, 6, sessionLog.ToArray())));
    }

    static double WallTime() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    static byte[] Event(double wallTime, long step, Action<Stream> body)
    {
        var e = new MemoryStream();
        Protobuf.Double(e, 1, wallTime);
        Protobuf.Varint(e, 2, (ulong)step);
        body(e);
        return e.ToArray();
    }

    void WriteEvent(byte[] data)
    {
        var length = BitConverter.GetBytes((ulong)data.Length);
        _stream.Write(length);
        _stream.Write(BitConverter.GetBytes(Crc32C.Masked(length)));
        _stream.Write(data);
        _stream.Write(BitConverter.GetBytes(Crc32C.Masked(data)));
        _stream.Flush();
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>The few protobuf wire encodings an Event needs.</summary>
    static class Protobuf
    {
        static void Tag(Stream s, int field, int wireType) => WriteVarint(s, (ulong)(field << 3 | wireType));

        static void WriteVarint(Stream s, ulong value)
        {
            while (value >= 0x80) { s.WriteByte((byte)(value | 0x80)); value >>= 7; }
            s.WriteByte((byte)value);
        }

        public static void Varint(Stream s, int field, ulong value) { Tag(s, field, 0); WriteVarint(s, value); }
        public static void Double(Stream s, int field, double value) { Tag(s, field, 1); s.Write(BitConverter.GetBytes(value)); }
        public static void Float(Stream s, int field, float value) { Tag(s, field, 5); s.Write(BitConverter.GetBytes(value)); }
        public static void Bytes(Stream s, int field, byte[] value) { Tag(s, field, 2); WriteVarint(s, (ulong)value.Length); s.Write(value); }
        public static void String(Stream s, int field, string value) => Bytes(s, field, Encoding.UTF8.GetBytes(value));
    }
}

/// <summary>CRC-32C (Castagnoli), and the masked form TFRecord stores.</summary>
public static class Crc32C
{
    static readonly uint[] Table = BuildTable();

    static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    public static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Compute(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xA282EAD8u);
    }
}
