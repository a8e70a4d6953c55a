using System.Text;

namespace ReasonSharp.Tokenization;

/// <summary>
/// GPT-2's byte-level alphabet: every byte maps to one printable character, so BPE tokens are plain strings.
/// Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100 onwards, in byte order.
/// </summary>
public static class ByteLevel
{
    static readonly char[] ByteToChar = BuildByteToChar();
    static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, b)).ToDictionary(p => p.c, p => (byte)p.b);

    static char[] BuildByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    /// <summary>The alphabet character that stands for one byte.</summary>
    public static char CharOf(byte value) => ByteToChar[value];

    /// <summary>The byte-level string of some bytes (what tokenizer.json stores as a token).</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>The byte-level string of a text's UTF-8 bytes.</summary>
    public static string EncodeText(string text) => Encode(Encoding.UTF8.GetBytes(text));

    /// <summary>The bytes a byte-level token stands for, or null when it holds a character outside the alphabet.</summary>
    public static byte[]? TryDecode(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            if (!CharToByte.TryGetValue(token[i], out var b)) return null;
            bytes[i] = b;
        }
        return bytes;
    }
}
