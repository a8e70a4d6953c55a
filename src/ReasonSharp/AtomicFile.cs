namespace ReasonSharp;

/// <summary>Writes files so that a reader sees the old content or the complete new content, never a partial
/// file.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes into a temporary file beside <paramref name="path"/> and renames it over the path when complete. When the
    /// device fills, the temporary file is deleted and a <see cref="DiskFullException"/> names the path, with
    /// <paramref name="expectedBytes"/> (the size of the whole file, when the caller knows it) as the space needed.
    /// </summary>
    public static void Write(string path, Action<Stream> write, long? expectedBytes = null)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        long written = 0;
        bool complete = false;
        try
        {
            Directory.CreateDirectory(dir);
            var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            try
            {
                using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    try
                    {
                        write(new FlushOnClose(stream));
                        complete = true;
                        stream.Flush(flushToDisk: true);
                    }
                    finally { written = stream.Position; }
                }
                File.Move(temp, path, overwrite: true);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
        }
        catch (IOException e) when (DiskFullException.IsDiskFull(e))
        {
            // Once the content is complete, its size is what was needed; before, it is a lower bound.
            throw DiskFullException.At(path, e, expectedBytes ?? (complete ? written : null), written);
        }
    }

    /// <summary>
    /// The temporary file as the writer sees it: its Flush (e.g. a StreamWriter's on dispose) only leaves the bytes in
    /// the file's buffer, so a full disk shows in the final flush, when the whole content's size is known.
    /// </summary>
    sealed class FlushOnClose(FileStream file) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => true;
        public override bool CanWrite => true;
        public override long Length => file.Length;
        public override long Position { get => file.Position; set => file.Position = value; }
        public override void Flush() { }
        public override void Write(byte[] buffer, int offset, int count) => file.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => file.Write(buffer);
        public override void WriteByte(byte value) => file.WriteByte(value);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => file.Seek(offset, origin);
        public override void SetLength(long value) => file.SetLength(value);
    }

    public static void WriteAllText(string path, string text) =>
        WriteAllBytes(path, new System.Text.UTF8Encoding(false).GetBytes(text));

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes), bytes.Length);

    /// <summary>Copies <paramref name="source"/> (a link's target, when it is a link) to
    /// <paramref name="destination"/>.</summary>
    public static void Copy(string source, string destination)
    {
        using var reader = File.OpenRead(source);
        Write(destination, s => reader.CopyTo(s), reader.Length);
    }
}
