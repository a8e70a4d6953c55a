using System.Text.Json.Serialization;
using Parquet.Serialization;

namespace ReasonSharp.Tests.Data;

/// <summary>Test fixtures in the real layouts of public datasets (column names and nesting as the Hub has
/// them).</summary>
static class DataFiles
{
    public const string BespokeSystem =
        "Your role as an assistant involves thinking through each question carefully before giving a final, " +
        "precise solution. Put the reasoning in the Thought section and the final answer in the Solution section.";

    public static string BespokeAssistant(string thought, string solution) =>
        $"<|begin_of_thought|>\n\n{thought}\n\n<|end_of_thought|>\n\n" +
        $"<|begin_of_solution|>\n\n{solution}\n\n<|end_of_solution|>";

    public static List<ShareGptRow> BespokeRows(int count, int offset = 0) =>
        Enumerable.Range(offset, count).Select(i => new ShareGptRow
        {
            System = BespokeSystem,
            Conversations =
            [
                new() { From = "user", Value = $"Return your final response within \\boxed{{}}. What is {i} + {i}?" },
                new()
                {
                    From = "assistant",
                    Value = BespokeAssistant($"Adding {i} to itself doubles it, so the sum is {2 * i}.",
                        $"\\boxed{{{2 * i}}}"),
                },
            ],
        }).ToList();

    public static void WriteJsonl(string path, params string[] lines) =>
        File.WriteAllText(path, string.Join("\n", lines) + "\n");

    public static void WriteParquet<T>(string path, IEnumerable<T> rows)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var stream = File.Create(path);
        ParquetSerializer.SerializeAsync(rows, stream).GetAwaiter().GetResult();
    }

    public sealed class ShareGptTurn
    {
        [JsonPropertyName("from")] public string From { get; set; } = "";
        [JsonPropertyName("value")] public string Value { get; set; } = "";
    }

    public sealed class ShareGptRow
    {
        [JsonPropertyName("system")] public string System { get; set; } = "";
        [JsonPropertyName("conversations")] public List<ShareGptTurn> Conversations { get; set; } = [];
    }

    public sealed class Message
    {
        [JsonPropertyName("role")] public string Role { get; set; } = "";
        [JsonPropertyName("content")] public string Content { get; set; } = "";
    }

    public sealed class MessagesRow
    {
        [JsonPropertyName("messages")] public List<Message> Messages { get; set; } = [];
        [JsonPropertyName("source")] public string Source { get; set; } = "";
    }

    public sealed class CountdownRow
    {
        [JsonPropertyName("prompt")] public string Prompt { get; set; } = "";
        [JsonPropertyName("target")] public int Target { get; set; }
        [JsonPropertyName("nums")] public List<int> Nums { get; set; } = [];
    }
}
