using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace ReasonSharp.Tests.Recipes;

/// <summary>One `reason …` command from a recipe's header comment: environment assignments before it, then its
/// arguments (after `reason`), split as a POSIX shell splits them (quotes grouped, not kept).</summary>
public sealed record HeaderCommand(IReadOnlyDictionary<string, string> Environment, IReadOnlyList<string> Args,
    string Line)
{
    public string Verb => Args.Count > 0 ? Args[0] : "";
    public string? Config => Args.SkipWhile(a => a != "--config").Skip(1).FirstOrDefault();
    public override string ToString() => Line;
}

/// <summary>Reads recipes' header commands and runs them as a user would: `reason` as a process, in a folder holding
/// only a copy of `recipes/`.</summary>
public static partial class RecipeHeaders
{
    public static string RecipesFolder => Path.Combine(TestEnvironment.RepoRoot, "recipes");

    /// <summary>Every recipe, relative to recipes/ with '/' separators.</summary>
    public static IEnumerable<string> All() =>
        Directory.GetFiles(RecipesFolder, "*.yaml", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(RecipesFolder, f).Replace('\\', '/')).Order();

    /// <summary>The commands of the comment block at the top of the recipe: lines `#   [NAME=VALUE …] reason ARGS`.
    /// </summary>
    public static IReadOnlyList<HeaderCommand> Commands(string recipe)
    {
        var commands = new List<HeaderCommand>();
        foreach (var line in File.ReadLines(Path.Combine(RecipesFolder, recipe)).TakeWhile(l => l.StartsWith('#')))
        {
            var match = CommandLine().Match(line);
            if (!match.Success) continue;
            var words = Split(match.Groups["command"].Value);
            var environment = new Dictionary<string, string>();
            int i = 0;
            for (; i < words.Count && Assignment().Match(words[i]) is { Success: true } a; i++)
                environment[a.Groups["name"].Value] = a.Groups["value"].Value;
            if (i < words.Count && words[i] == "reason")
                commands.Add(new HeaderCommand(environment, words.Skip(i + 1).ToList(), line.TrimStart('#', ' ')));
        }
        return commands;
    }

    [GeneratedRegex(@"^#\s{2,}(?<command>(?:[A-Z_][A-Z0-9_]*=\S*\s+)*reason\s.*)$")]
    private static partial Regex CommandLine();

    [GeneratedRegex(@"^(?<name>[A-Z_][A-Z0-9_]*)=(?<value>.*)$")]
    private static partial Regex Assignment();

    /// <summary>Words as a shell splits them: whitespace separates, '…' and "…" group (without the
    /// quotes).</summary>
    static List<string> Split(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is '\'' or '"')
            {
                int end = text.IndexOf(c, i + 1);
                if (end < 0) throw new FormatException($"unclosed {c} in: {text}");
                word.Append(text, i + 1, end - i - 1);
                i = end;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }
        if (inWord) words.Add(word.ToString());
        return words;
    }

    /// <summary>The recipe's top-level mapping.</summary>
    public static YamlMappingNode Yaml(string recipe)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(RecipesFolder, recipe))));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    public static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) && node is YamlScalarNode s ? s.Value : null;

    /// <summary>A folder holding a copy of recipes/ and nothing else, as a user's clone has it.</summary>
    public static TempDir EmptyFolderWithRecipes()
    {
        var dir = TestEnvironment.NewTempDir();
        foreach (var recipe in All())
        {
            var target = Path.Combine(dir.Path, "recipes", recipe);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(RecipesFolder, recipe), target);
        }
        return dir;
    }

    /// <summary>Runs `reason ARGS` as its own process (the built CLI beside the tests) in <paramref name="folder"/>,
    /// with the command's environment assignments; returns the exit code and the output.</summary>
    public static (int Code, string Output) Run(HeaderCommand command, string folder, IEnumerable<string>? extra = null,
        TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "reason.dll"));
        foreach (var arg in command.Args.Concat(extra ?? [])) start.ArgumentList.Add(arg);
        foreach (var (name, value) in command.Environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        void Append(object _, DataReceivedEventArgs e)
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
        }
        process.OutputDataReceived += Append;
        process.ErrorDataReceived += Append;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`reason {string.Join(' ', command.Args)}` ran past its time:\n{output}");
        }
        process.WaitForExit();
        lock (output) return (process.ExitCode, output.ToString());
    }
}
