namespace ReasonSharp.Data;

/// <summary>
/// Counts tokens with a Hugging Face `tokenizer.json` through Tokenizers.DotNet (the Rust tokenizers library), so
/// data statistics need no model code. <see cref="Count"/> is usable as a <c>Func&lt;string, int&gt;</c>.
/// </summary>
public sealed class TokenizerFile : IDisposable
{
    readonly Tokenizers.DotNet.Tokenizer tokenizer;

    TokenizerFile(string path, Tokenizers.DotNet.Tokenizer tokenizer)
    {
        Path = path;
        this.tokenizer = tokenizer;
    }

    public string Path { get; }

    /// <summary>Loads `DIR/tokenizer.json` (or the given .json file).</summary>
    public static TokenizerFile Load(string dirOrFile)
    {
        var path = Directory.Exists(dirOrFile) ? System.IO.Path.Combine(dirOrFile, "tokenizer.json") : dirOrFile;
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: tokenizer file not found; expected a " +
            $"folder with tokenizer.json");
        try
        {
            return new TokenizerFile(path, new Tokenizers.DotNet.Tokenizer(path));
        }
        catch (Exception e) when (e is not ReasonSharpException)
        {
            throw new ReasonSharpException($"{path}: not a loadable Hugging Face tokenizer.json ({e.Message})", e);
        }
    }

    public int Count(string text) => text.Length == 0 ? 0 : tokenizer.Encode(text).Length;

    public void Dispose() => tokenizer.Dispose();
}
