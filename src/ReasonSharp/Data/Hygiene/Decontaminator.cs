namespace ReasonSharp.Data;

/// <summary>Why a training example was removed: it shares an n-gram with an evaluation example.</summary>
public sealed record ContaminationHit(string TrainSource, string EvalSet, string EvalSource, string NGram);

/// <summary>
/// The word n-grams of evaluation texts (hashed, 64-bit). Texts with fewer than n words cannot be checked; they are
/// counted in <see cref="ShortTexts"/> so the report can say so.
/// </summary>
public sealed class NGramIndex
{
    readonly Dictionary<ulong, (string Set, string Source)> grams = [];

    public NGramIndex(int n = 13)
    {
        if (n < 1) throw new ReasonSharpException($"--ngram: expected at least 1, got {n}");
        N = n;
    }

    public int N { get; }
    public int TextsIndexed { get; private set; }
    public int ShortTexts { get; private set; }
    public int Count => grams.Count;

    public void Add(string evalSet, string source, string text)
    {
        var words = TextNormalizer.Words(text);
        if (words.Count < N) { ShortTexts++; return; }
        TextsIndexed++;
        var hashes = WordHashes(words);
        for (var i = 0; i + N <= words.Count; i++)
            grams.TryAdd(GramHash(hashes, i), (evalSet, source));
    }

    /// <summary>The first n-gram of <paramref name="text"/> that an indexed evaluation text also has, or
    /// null.</summary>
    public ContaminationHit? FindFirst(string trainSource, string text)
    {
        var words = TextNormalizer.Words(text);
        var hashes = WordHashes(words);
        for (var i = 0; i + N <= words.Count; i++)
            if (grams.TryGetValue(GramHash(hashes, i), out var eval))
                return new ContaminationHit(trainSource, eval.Set, eval.Source,
                    string.Join(' ', words.Skip(i).Take(N)));
        return null;
    }

    static ulong[] WordHashes(List<string> words)
    {
        var hashes = new ulong[words.Count];
        for (var i = 0; i < words.Count; i++)
        {
            var h = 14695981039346656037UL; // FNV-1a
            foreach (var c in words[i]) h = (h ^ c) * 1099511628211UL;
            hashes[i] = h;
        }
        return hashes;
    }

    ulong GramHash(ulong[] hashes, int start)
    {
        var h = 0xcbf29ce484222325UL;
        for (var i = start; i < start + N; i++) h = (h ^ hashes[i]) * 0x100000001b3UL + (ulong)(i - start);
        return h;
    }
}

/// <summary>What decontamination checked and removed.</summary>
public sealed class DecontaminationReport
{
    readonly List<ContaminationHit> hits = [];

    public int Checked { get; private set; }
    public IReadOnlyList<ContaminationHit> Removed => hits;

    internal void Count(ContaminationHit? hit)
    {
        Checked++;
        if (hit != null) hits.Add(hit);
    }
}

/// <summary>
/// Removes training examples that share a word n-gram (13 by default) with any evaluation example. Training text is
/// every non-system turn; evaluation text is the user turns (the problem). Matching ignores case and punctuation.
/// </summary>
public static class Decontaminator
{
    public static NGramIndex IndexEvalSet(NGramIndex index, string evalSet, IEnumerable<Example> eval)
    {
        foreach (var example in eval) index.Add(evalSet, example.Source, TextNormalizer.PromptText(example));
        return index;
    }

    /// <summary>The items with no n-gram in the index, streamed; every removal is recorded in
    /// <paramref name="report"/>.</summary>
    public static IEnumerable<T> Filter<T>(IEnumerable<T> train, Func<T, Example> example, NGramIndex index,
        DecontaminationReport report)
    {
        foreach (var item in train)
        {
            var e = example(item);
            var hit = index.FindFirst(e.Source, TextNormalizer.ConversationText(e));
            report.Count(hit);
            if (hit == null) yield return item;
        }
    }
}
