using System.Text;
using System.Text.Unicode;

namespace ReasonSharp;

/// <summary>
/// Reads a UTF-8 text file line by line, streamed: "\n" or "\r\n" ends a line, a UTF-8 byte order mark is skipped and
/// numbers are 1-based, counting every line. Bytes that are not UTF-8 (a Latin-1 or Windows-1252 file) become U+FFFD,
/// and that is reported through <see cref="Warnings"/>: the file and the first such line at once, and how many lines
/// had them when the file is read to the end. A file with a UTF-16 byte order mark is decoded as UTF-16.
/// </summary>
public static class TextLines
{
    public static IEnumerable<(long Number, string Text)> Read(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        using (stream)
        {
            var buffer = new byte[1 << 16];
            int length = Fill(stream, buffer, 0), position = 0;
            if (length >= 2 && (buffer[0], buffer[1]) is (0xFF, 0xFE) or (0xFE, 0xFF))
            {
                stream.Position = 0;
                foreach (var line in Utf16Lines(stream)) yield return line;
                yield break;
            }
            if (length >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF) position = 3;
            long number = 0, badLines = 0, firstBad = 0;
            while (position < length)
            {
                int newline = Array.IndexOf(buffer, (byte)'\n', position, length - position);
                if (newline < 0 && length == buffer.Length)
                {
                    // The line continues past the buffer: keep its start, and grow the buffer when it is all one line.
                    if (position == 0) Array.Resize(ref buffer, buffer.Length * 2);
                    else
                    {
                        Array.Copy(buffer, position, buffer, 0, length - position);
                        length -= position;
                        position = 0;
                    }
                    length = Fill(stream, buffer, length);
                    continue;
                }
                int end = newline < 0 ? length : newline;
                int count = end - position;
                if (count > 0 && buffer[end - 1] == '\r') count--;
                number++;
                var text = Decode(buffer, position, count, out bool valid);
                if (!valid && badLines++ == 0)
                {
                    firstBad = number;
                    Warnings.Report($"{path}:{number}: bytes that are not UTF-8 were read as U+FFFD (is the " +
                                    "file Latin-1 or Windows-1252? convert it, e.g. iconv -f latin1 -t utf-8)");
                }
                yield return (number, text);
                position = end + 1;
                if (position >= length && length == buffer.Length)
                {
                    length = Fill(stream, buffer, 0);
                    position = 0;
                }
            }
            if (badLines > 1)
                Warnings.Report($"{path}: {badLines} lines had bytes that are not UTF-8 (the first is line " +
                                $"{firstBad})");
        }
    }

    /// <summary>Reads until the buffer is full or the file ends; returns the bytes now in the buffer.</summary>
    static int Fill(Stream stream, byte[] buffer, int length)
    {
        int read;
        while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0)
            length += read;
        return length;
    }

    static string Decode(byte[] buffer, int start, int count, out bool valid)
    {
        valid = Utf8.IsValid(new ReadOnlySpan<byte>(buffer, start, count));
        return Encoding.UTF8.GetString(buffer, start, count);
    }

    static IEnumerable<(long Number, string Text)> Utf16Lines(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.Unicode, detectEncodingFromByteOrderMarks: true,
            leaveOpen: true);
        long number = 0;
        while (reader.ReadLine() is { } line) yield return (++number, line);
    }
}
