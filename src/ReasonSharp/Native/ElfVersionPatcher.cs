using System.Buffers.Binary;
using System.Text;

namespace ReasonSharp.Native;

/// <summary>
/// Marks a required symbol version of an ELF64 shared library as weak (VER_FLG_WEAK), so that the
/// dynamic loader accepts a libstdc++ that lacks it. Used only for versions whose symbols are never called.
/// </summary>
public static class ElfVersionPatcher
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    /// <summary>The GLIBCXX/GLIBC version names the library requires, with whether each is already weak.</summary>
    public static IReadOnlyList<(string Library, string Version, bool Weak)> RequiredVersions(byte[] elf)
    {
        var found = new List<(string, string, bool)>();
        Walk(elf, (lib, ver, flagsOffset) =>
            found.Add((lib, ver,
                (BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(flagsOffset)) & VerFlgWeak) != 0)));
        return found;
    }

    /// <summary>Sets VER_FLG_WEAK on every vernaux entry named <paramref name="version"/>. Returns how many entries
    /// changed.</summary>
    public static int MarkWeak(byte[] elf, string version)
    {
        int changed = 0;
        Walk(elf, (_, ver, flagsOffset) =>
        {
            if (ver != version) return;
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(flagsOffset));
            if ((flags & VerFlgWeak) != 0) return;
            BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(flagsOffset), (ushort)(flags | VerFlgWeak));
            changed++;
        });
        return changed;
    }

    static void Walk(byte[] elf, Action<string, string, int> onVernaux)
    {
        var span = elf.AsSpan();
        if (elf.Length < 64 || span[0] != 0x7f || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (span[4] != 2 || span[5] != 1)
            throw new InvalidDataException("only little-endian ELF64 is supported");
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3a..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3c..]);
        for (int i = 0; i < shnum; i++)
        {
            var sh = span[(int)(shoff + (ulong)(i * shentsize))..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
            int offset = (int)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]);
            int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            var strtabHeader = span[(int)(shoff + (ulong)(link * shentsize))..];
            int strtab = (int)BinaryPrimitives.ReadUInt64LittleEndian(strtabHeader[0x18..]);

            int vn = offset;
            while (true)
            {
                int cnt = BinaryPrimitives.ReadUInt16LittleEndian(span[(vn + 2)..]);
                string file = ReadString(span, strtab + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(vn + 4)..]));
                int aux = vn + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(vn + 8)..]);
                for (int a = 0; a < cnt; a++)
                {
                    string name =
                        ReadString(span, strtab + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(aux + 8)..]));
                    onVernaux(file, name, aux + 4);
                    aux += (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(aux + 12)..]);
                }
                uint next = BinaryPrimitives.ReadUInt32LittleEndian(span[(vn + 12)..]);
                if (next == 0) break;
                vn += (int)next;
            }
        }
    }

    static string ReadString(ReadOnlySpan<byte> span, int start)
    {
        int end = span[start..].IndexOf((byte)0);
        return Encoding.ASCII.GetString(span.Slice(start, end));
    }
}
