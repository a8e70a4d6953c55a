using System.Text;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Tokenization;

/// <summary>Seeded synthetic text and tokenizers trained on it, shared by the tokenization tests.</summary>
public static class TokenizationTestData
{
    static readonly string[] Words =
    [
        "the", "a", "of", "and", "to", "is", "in", "that", "apples", "Natalia", "sold", "clips", "friends", "April", "May", "how", "many",
        "total", "each", "she", "he", "buys", "costs", "dollars", "minutes", "hours", "answer", "therefore", "so", "we", "get",
        "über", "café", "naïve", "число", "ответ", "数学", "答案", "是", "こんにちは", "計算", "λόγος", "مرحبا", "नमस्ते", "🙂", "🚀",
    ];

    /// <summary>Sentences with numbers, arithmetic, reasoning tags and several scripts, about <paramref name="chars"/> long.</summary>
    public static string Corpus(int seed, int chars)
    {
        var random = new Random(seed);
        var text = new StringBuilder(chars + 200);
        while (text.Length < chars)
        {
            var count = random.Next(4, 14);
            for (var i = 0; i < count; i++) text.Append(i == 0 ? "" : " ").Append(random.Next(3) == 0 ? MadeUpWord(random) : Words[random.Next(Words.Length)]);
            var a = random.Next(1, 1000);
            var b = random.Next(1, 100);
            text.Append(random.Next(3) switch
            {
                0 => $" {a} + {b} = {a + b}.",
                1 => $" <<{a}*{b}={a * b}>>{a * b}\n#### {a * b}",
                _ => $"? <think>\n{a} - {b} = {a - b}\n</think>\n<answer>{a - b}</answer>",
            });
            text.Append(random.Next(5) == 0 ? "\n\n" : "\n");
        }
        return text.ToString();
    }

    /// <summary>A pronounceable made-up word ("Tokavi"), so the corpus has many distinct words.</summary>
    static string MadeUpWord(Random random)
    {
        const string consonants = "bcdfghklmnprstvz", vowels = "aeiou";
        var word = new StringBuilder();
        for (var i = random.Next(1, 4); i > 0; i--) word.Append(consonants[random.Next(consonants.Length)]).Append(vowels[random.Next(vowels.Length)]);
        if (random.Next(4) == 0) word[0] = char.ToUpperInvariant(word[0]);
        return word.ToString();
    }

    /// <summary>A random string over many Unicode blocks: controls, Latin, combining marks, Greek, Cyrillic, Arabic,
    /// Devanagari, Thai, CJK, kana, Hangul, private use, astral math letters, emoji, ZWJ and variation selectors.</summary>
    public static string RandomUnicode(Random random, int codepoints)
    {
        (int From, int To)[] ranges =
        [
            (0x20, 0x7E), (0x20, 0x7E), (0x00, 0x1F), (0xA0, 0xFF), (0x100, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
            (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF),
            (0x1D400, 0x1D7FF), (0x1F300, 0x1FAFF), (0x200B, 0x200D), (0xFE00, 0xFE0F), (0x2028, 0x2029),
        ];
        var text = new StringBuilder();
        for (var i = 0; i < codepoints; i++)
        {
            var (from, to) = ranges[random.Next(ranges.Length)];
            text.Append(char.ConvertFromUtf32(random.Next(from, to + 1)));
            if (random.Next(8) == 0) text.Append(" \n\t"[random.Next(3)]);
        }
        return text.ToString();
    }

    static readonly Lazy<string> TrainedFolder = new(() =>
    {
        var folder = Directory.CreateTempSubdirectory("reasonsharp-bpe-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(folder, recursive: true); } catch (IOException) { } };
        BpeTrainer.TrainToFolder([Corpus(seed: 7, chars: 300_000)], new BpeTrainerOptions { VocabSize = 1024 }, folder);
        return folder;
    });

    /// <summary>A folder holding a 1,024-token tokenizer trained once per test run on <see cref="Corpus"/> (seed 7, 300k chars).</summary>
    public static string TrainedTokenizerFolder => TrainedFolder.Value;

    /// <summary>A copy of the trained tokenizer folder in <paramref name="dir"/>, to modify.</summary>
    public static void CopyTrainedTokenizer(TempDir dir)
    {
        foreach (var file in Directory.GetFiles(TrainedTokenizerFolder)) File.Copy(file, dir.File(Path.GetFileName(file)), overwrite: true);
    }

    static readonly Lazy<Tokenizer> Qwen3Tokenizer = new(() =>
        Tokenizer.Load(Path.GetDirectoryName(TestEnvironment.SharedFile("tokenizers/qwen3/tokenizer.json"))!));

    /// <summary>The real Qwen3 tokenizer from ../shared, loaded once; the test is skipped when ../shared is absent.</summary>
    public static Tokenizer Qwen3 => Qwen3Tokenizer.Value;
}
