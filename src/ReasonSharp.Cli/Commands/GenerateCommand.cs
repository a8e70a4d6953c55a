using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason generate MODEL --prompt …`: batched sampling from a model, from the command line or a JSONL of prompts.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("model") { Description = "A Hugging Face model folder." };
        var prompt = new Option<string[]>("--prompt") { Description = "A prompt (repeatable).", AllowMultipleArgumentsPerToken = false };
        var input = new Option<string?>("--input") { Description = "JSONL of prompts: each row's `prompt` (text or a messages list), `messages`, `question` or `problem`." };
        var output = new Option<string?>("--output") { Description = "Write one JSON line per completion here." };
        var chat = new Option<bool>("--chat") { Description = "Render each text prompt as a user turn in the model's chat format, with the generation prompt." };
        var system = new Option<string?>("--system") { Description = "With --chat: a system message (e.g. /think or /no_think for dual-mode models)." };
        var noThink = new Option<bool>("--no-think") { Description = "With --chat: answer without thinking (Qwen3's enable_thinking=false; dual-mode adds /no_think)." };
        var n = new Option<int>("--n") { Description = "Completions per prompt.", DefaultValueFactory = _ => 1 };
        var device = CommonOptions.Device();
        var format = CommonOptions.ChatFormatOption();
        var kwargs = CommonOptions.ChatTemplateKwargsOption();
        var sampling = new CommonOptions.Sampling();
        var command = new Command("generate", "Generate completions for prompts with the batched engine (KV cache, left padding, per-row stopping).")
        {
            folder, prompt, input, output, chat, system, noThink, n, device, format, kwargs,
        };
        foreach (var option in sampling.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            int k = parse.GetValue(n);
            if (k < 1) throw new ReasonSharpException($"--n: expected at least 1 completion per prompt, got {k}");
            using var lm = LanguageModel.Load(parse.GetValue(folder)!, parse.GetValue(device)!, parse.GetValue(format),
                CommonOptions.ChatTemplateKwargs(parse, kwargs));
            var conversations = new List<List<ChatMessage>>();
            var rawPrompts = new List<string>();
            foreach (var text in parse.GetValue(prompt) ?? []) rawPrompts.Add(text);
            if (parse.GetValue(input) is { } path) ReadPrompts(path, conversations);
            if (rawPrompts.Count == 0 && conversations.Count == 0) throw new ReasonSharpException("give --prompt TEXT or --input FILE.jsonl");

            bool useChat = parse.GetValue(chat) || conversations.Count > 0;
            bool thinking = lm.Thinking(!parse.GetValue(noThink));
            var systemText = parse.GetValue(system);
            var prompts = new List<(string Shown, int[] Ids)>();
            foreach (var text in rawPrompts)
            {
                if (!useChat) { prompts.Add((text, lm.Tokenizer.Encode(text))); continue; }
                conversations.Add([new ChatMessage("user", text)]);
            }
            foreach (var conversation in conversations)
            {
                var messages = systemText is null || conversation.Any(m => m.Role == "system") ? conversation : [new ChatMessage("system", systemText), .. conversation];
                // A /no_think the user wrote in the system message is kept (the dual-mode flag of its own).
                var mode = thinking && ReasoningFlags.Find(messages) != ReasoningFlags.NoThink;
                prompts.Add((conversation.Last(m => m.Role == "user").Content, lm.EncodePrompt(messages, mode)));
            }

            var batch = prompts.SelectMany(p => Enumerable.Repeat(p.Ids, k)).ToList();
            var engine = lm.Engine();
            var results = engine.Generate(batch, sampling.Read(parse, lm.StopTokenIds));
            var rows = new List<JsonNode>();
            for (int i = 0; i < results.Count; i++)
            {
                var (shown, _) = prompts[i / k];
                var r = results[i];
                Console.WriteLine($"=== prompt {i / k + 1}{(k > 1 ? $", sample {i % k + 1}" : "")} ({r.CompletionIds.Length} tokens, {r.FinishReason.ToString().ToLowerInvariant()})");
                Console.WriteLine(r.CompletionText);
                rows.Add(new JsonObject
                {
                    ["prompt"] = shown, ["completion"] = r.CompletionText, ["finish_reason"] = r.FinishReason.ToString().ToLowerInvariant(),
                    ["completion_tokens"] = r.CompletionIds.Length, ["sample"] = i % k,
                });
            }
            if (parse.GetValue(output) is { } outPath) JsonlWriter.Write(outPath, rows);
            var stats = engine.LastStats!;
            Console.Error.WriteLine($"{stats.GeneratedTokens} tokens in {(stats.Prefill + stats.Decode).TotalSeconds:F1}s ({stats.DecodeTokensPerSecond:F1} tokens/s decoding, batch {stats.Rows})");
            return 0;
        });
        return command;
    }

    /// <summary>Each row's prompt: the first of prompt, messages, question or problem, a string or a message list
    /// (rows may differ in which they have), read by the dataset reader (.jsonl, .json, .parquet or a dataset
    /// folder).</summary>
    static void ReadPrompts(string path, List<List<ChatMessage>> conversations)
    {
        foreach (var row in DatasetReader.ReadRows(path))
        {
            var field = new[] { "prompt", "messages", "question", "problem" }.FirstOrDefault(row.Has)
                ?? throw row.FieldError("prompt", "no prompt field; expected one of prompt, messages, question, " +
                    "problem");
            var value = row.Require(field);
            if (value.ValueKind == JsonValueKind.String)
            {
                conversations.Add([ChatMessage.FromUser(value.GetString()!)]);
                continue;
            }
            if (value.ValueKind != JsonValueKind.Array)
                throw row.FieldError(field, "must be a string or a list of messages");
            conversations.Add(value.EnumerateArray().Select((m, i) => new ChatMessage(
                Text(row, m, $"{field}[{i}]", "role"), Text(row, m, $"{field}[{i}]", "content"))).ToList());
        }
    }

    static string Text(DataRow row, JsonElement message, string field, string key) =>
        message.ValueKind == JsonValueKind.Object && message.TryGetProperty(key, out var value)
            ? row.AsString(value, $"{field}.{key}")
            : throw row.FieldError($"{field}.{key}", "is missing");
}
