using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace ReasonSharp.Tokenization;

/// <summary>Options of <see cref="BpeTrainer"/>.</summary>
public sealed record BpeTrainerOptions
{
    /// <summary>Total vocabulary: 256 byte tokens + learned merges + added tokens.</summary>
    public int VocabSize { get; init; } = 4096;
    /// <summary>A pair seen fewer times than this is never merged (training stops early then).</summary>
    public int MinFrequency { get; init; } = 2;
    /// <summary>Added tokens marked special (skipped by decode's skipSpecialTokens), ids right after the learned tokens.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = ReasoningTokens.Special;
    /// <summary>Added tokens that are not special (kept by decode), as Qwen3 marks &lt;think&gt;.</summary>
    public IReadOnlyList<string> PlainAddedTokens { get; init; } = ReasoningTokens.Plain;
    /// <summary>`model_max_length` written to tokenizer_config.json.</summary>
    public int ModelMaxLength { get; init; } = 2048;
    /// <summary>The chat template written to tokenizer_config.json (plain ChatML, or the dual-mode template).</summary>
    public string ChatTemplate { get; init; } = ChatTemplates.ChatML;

    /// <summary>The template a chat format option names: chatml, dual-mode, or a template file or folder.</summary>
    public static string TemplateFor(string chatFormat) => ChatTemplates.Resolve(chatFormat, "chat_format");
}

/// <summary>The reasoning tokens every ReasonSharp-trained tokenizer has, each one id.</summary>
public static class ReasoningTokens
{
    public const string EndOfText = "<|endoftext|>";
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";
    public const string ThinkOpen = "<think>";
    public const string ThinkClose = "</think>";
    public const string AnswerOpen = "<answer>";
    public const string AnswerClose = "</answer>";
    public static IReadOnlyList<string> Special { get; } = [EndOfText, ImStart, ImEnd];
    public static IReadOnlyList<string> Plain { get; } = [ThinkOpen, ThinkClose, AnswerOpen, AnswerClose];
}

/// <summary>What training learned: token strings by id (byte-level alphabet), merges as id pairs, and counts for the report.</summary>
public sealed record BpeModel(IReadOnlyList<string> Tokens, IReadOnlyList<(int Left, int Right)> Merges, IReadOnlyList<AddedToken> AddedTokens,
    long WordCount, int DistinctWords, TimeSpan Elapsed)
{
    public int VocabSize => Tokens.Count + AddedTokens.Count;
}

/// <summary>
/// Byte-level BPE training (GPT-2 / Qwen style). Text is split like Qwen2's pre-tokenizer (letters, single digits,
/// punctuation, whitespace runs), each piece becomes its UTF-8 bytes, and the most frequent adjacent pair is merged
/// until the vocabulary is full. Pair counts are kept incrementally over distinct words; ties go to the smaller ids.
/// </summary>
public sealed partial class BpeTrainer
{
    /// <summary>Qwen2's split: contractions, letter runs with one leading non-letter, single digits, punctuation runs, whitespace.</summary>
    public const string PreTokenizerPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    [GeneratedRegex(PreTokenizerPattern, RegexOptions.CultureInvariant)]
    private static partial Regex PreTokenizer();

    readonly BpeTrainerOptions options;
    readonly Dictionary<string, long> wordCounts = new(StringComparer.Ordinal);
    readonly Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> wordLookup;
    readonly Regex? addedTokenSplitter;
    long totalWords;

    public BpeTrainer(BpeTrainerOptions options)
    {
        var added = options.SpecialTokens.Concat(options.PlainAddedTokens).ToList();
        var minimum = 256 + added.Count;
        if (options.VocabSize < minimum)
            throw new ReasonSharpException($"vocab size {options.VocabSize} is too small: it must be at least {minimum} (256 byte tokens + {added.Count} added tokens)");
        if (added.Any(string.IsNullOrEmpty) || added.Distinct().Count() != added.Count)
            throw new ReasonSharpException("added tokens must be non-empty and distinct: " + string.Join(", ", added));
        if (options.MinFrequency < 1) throw new ReasonSharpException($"min frequency must be at least 1, got {options.MinFrequency}");
        this.options = options;
        wordLookup = wordCounts.GetAlternateLookup<ReadOnlySpan<char>>();
        addedTokenSplitter = added.Count == 0 ? null
            : new Regex(string.Join("|", added.OrderByDescending(t => t.Length).Select(Regex.Escape)), RegexOptions.CultureInvariant);
    }

    /// <summary>Counts the pre-tokens of one text. Added tokens written in it are cut out, so they are never learned in pieces.</summary>
    public void Add(string text)
    {
        var start = 0;
        if (addedTokenSplitter is not null)
            foreach (var match in addedTokenSplitter.EnumerateMatches(text))
            {
                CountWords(text.AsSpan(start, match.Index - start));
                start = match.Index + match.Length;
            }
        CountWords(text.AsSpan(start));
    }

    void CountWords(ReadOnlySpan<char> text)
    {
        foreach (var match in PreTokenizer().EnumerateMatches(text))
        {
            var word = text.Slice(match.Index, match.Length);
            wordLookup[word] = wordLookup.TryGetValue(word, out var count) ? count + 1 : 1;
            totalWords++;
        }
    }

    /// <summary>Learns merges over everything added so far.</summary>
    public BpeModel Train()
    {
        var clock = Stopwatch.StartNew();
        var words = new List<int[]>(wordCounts.Count);
        var counts = new List<long>(wordCounts.Count);
        foreach (var (word, count) in wordCounts.OrderBy(w => w.Key, StringComparer.Ordinal)) // fixed order: deterministic runs
        {
            words.Add([.. Encoding.UTF8.GetBytes(word).Select(b => (int)b)]);
            counts.Add(count);
        }

        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevel.CharOf((byte)b).ToString()).ToList();
        var tokenIds = tokens.Select((t, id) => (t, id)).ToDictionary(p => p.t, p => p.id, StringComparer.Ordinal);
        var merges = new List<(int, int)>();
        var state = new PairState(words, counts);
        var learnedTarget = options.VocabSize - options.SpecialTokens.Count - options.PlainAddedTokens.Count;

        while (tokens.Count < learnedTarget && state.PopBest(options.MinFrequency) is { } pair)
        {
            var text = tokens[pair.Left] + tokens[pair.Right];
            if (!tokenIds.TryGetValue(text, out var merged))
            {
                merged = tokens.Count;
                tokens.Add(text);
                tokenIds[text] = merged;
            }
            merges.Add(pair);
            state.Merge(pair, merged);
        }

        var added = new List<AddedToken>();
        foreach (var special in options.SpecialTokens) added.Add(new AddedToken(tokens.Count + added.Count, special, Special: true));
        foreach (var plain in options.PlainAddedTokens) added.Add(new AddedToken(tokens.Count + added.Count, plain, Special: false));
        return new BpeModel(tokens, merges, added, totalWords, wordCounts.Count, clock.Elapsed);
    }

    /// <summary>Trains on <paramref name="texts"/> and writes tokenizer.json and tokenizer_config.json into <paramref name="folder"/>.</summary>
    public static BpeModel TrainToFolder(IEnumerable<string> texts, BpeTrainerOptions options, string folder)
    {
        var trainer = new BpeTrainer(options);
        var clock = Stopwatch.StartNew();
        foreach (var text in texts) trainer.Add(text);
        var model = trainer.Train() with { Elapsed = clock.Elapsed };
        BpeTokenizerWriter.Write(model, options, folder);
        return model;
    }

    /// <summary>Adjacent-pair counts over the distinct words, updated word by word as merges apply.</summary>
    sealed class PairState
    {
        readonly List<int[]> words;
        readonly List<long> counts;
        readonly int[] lengths;
        readonly int[] visitedAtStep;
        readonly Dictionary<long, long> pairCounts = [];
        readonly Dictionary<long, List<int>> pairWords = [];
        readonly PriorityQueue<long, (long Count, long Pair)> queue = new(Comparer<(long Count, long Pair)>.Create(
            (x, y) => x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair)));
        readonly Dictionary<long, long> delta = [];
        int step;

        static long Key(int left, int right) => ((long)left << 32) | (uint)right;

        public PairState(List<int[]> words, List<long> counts)
        {
            this.words = words;
            this.counts = counts;
            lengths = words.Select(w => w.Length).ToArray();
            visitedAtStep = new int[words.Count];
            for (var w = 0; w < words.Count; w++)
                for (var i = 0; i + 1 < lengths[w]; i++)
                {
                    var key = Key(words[w][i], words[w][i + 1]);
                    pairCounts[key] = pairCounts.GetValueOrDefault(key) + counts[w];
                    WordsOf(key).Add(w);
                }
            foreach (var (key, count) in pairCounts) queue.Enqueue(key, (count, key));
        }

        List<int> WordsOf(long key)
        {
            if (!pairWords.TryGetValue(key, out var list)) pairWords[key] = list = [];
            return list;
        }

        /// <summary>The most frequent pair (smallest ids on ties), or null when none reaches <paramref name="minFrequency"/>.
        /// Queue entries may be stale; a stale one is re-queued with its current count.</summary>
        public (int Left, int Right)? PopBest(int minFrequency)
        {
            while (queue.TryDequeue(out var key, out var priority))
            {
                var current = pairCounts.GetValueOrDefault(key);
                if (current != priority.Count)
                {
                    if (current > 0) queue.Enqueue(key, (current, key));
                    continue;
                }
                if (current < minFrequency) return null;
                return ((int)(key >> 32), (int)(key & 0xFFFFFFFF));
            }
            return null;
        }

        public void Merge((int Left, int Right) pair, int merged)
        {
            step++;
            var pairKey = Key(pair.Left, pair.Right);
            delta.Clear();
            foreach (var w in pairWords[pairKey])
            {
                if (visitedAtStep[w] == step) continue;
                visitedAtStep[w] = step;
                var symbols = words[w];
                var length = lengths[w];
                var count = counts[w];
                var found = false;
                for (var i = 0; i + 1 < length && !found; i++) found = symbols[i] == pair.Left && symbols[i + 1] == pair.Right;
                if (!found) continue; // stale entry: an earlier merge already consumed the pair here

                for (var i = 0; i + 1 < length; i++) delta[Key(symbols[i], symbols[i + 1])] = delta.GetValueOrDefault(Key(symbols[i], symbols[i + 1])) - count;
                var write = 0;
                for (var read = 0; read < length; read++)
                {
                    if (read + 1 < length && symbols[read] == pair.Left && symbols[read + 1] == pair.Right) { symbols[write++] = merged; read++; }
                    else symbols[write++] = symbols[read];
                }
                lengths[w] = length = write;
                for (var i = 0; i + 1 < length; i++)
                {
                    var key = Key(symbols[i], symbols[i + 1]);
                    delta[key] = delta.GetValueOrDefault(key) + count;
                    if (symbols[i] == merged || symbols[i + 1] == merged) WordsOf(key).Add(w);
                }
            }
            pairWords.Remove(pairKey);
            foreach (var (key, change) in delta)
            {
                if (change == 0) continue;
                var updated = pairCounts.GetValueOrDefault(key) + change;
                if (updated <= 0) pairCounts.Remove(key);
                else pairCounts[key] = updated;
                if (change > 0) queue.Enqueue(key, (updated, key));
            }
        }
    }
}
