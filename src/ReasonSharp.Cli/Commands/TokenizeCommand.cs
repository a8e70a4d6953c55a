using System.CommandLine;
using System.Text;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason tokenize`: shows how a tokenizer splits a text (or a one-turn chat), for debugging.</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("tokenizer") { Description = "Folder with tokenizer.json (and tokenizer_config.json): a model or tokenizer folder." };
        var text = new Option<string>("--text") { Description = "The text to encode.", Required = true };
        var chat = new Option<bool>("--chat") { Description = "Render the text as a user message in the chat format, with the generation prompt, and mark assistant tokens." };
        var system = new Option<string?>("--system") { Description = "With --chat: a system message before the user message." };
        var format = new Option<string?>("--format")
        {
            Description = "With --chat: a chat template instead of the tokenizer's own ("
                + string.Join(", ", ChatTemplates.BuiltIn.Select(b => b.Name)) + ", a .jinja file or a model folder).",
        };
        var noThinking = new Option<bool>("--no-thinking")
        {
            Description = "With --chat: enable_thinking=false (Qwen3, SmolLM3, dual-mode).",
        };
        var specials = new Option<bool>("--add-special-tokens") { Description = "Without --chat: add the BOS/EOS that tokenizer.json's post-processor defines." };

        var command = new Command("tokenize", "Print the token ids and pieces of a text, for debugging a tokenizer or chat format.")
        {
            folder, text, chat, system, format, noThinking, specials,
        };
        command.SetAction(parse =>
        {
            using var tokenizer = Tokenizer.Load(parse.GetValue(folder)!);
            var input = parse.GetValue(text)!;
            int[] ids;
            bool[]? mask = null;
            if (parse.GetValue(chat))
            {
                var formatName = parse.GetValue(format);
                var chatFormat = ChatFormat.For(tokenizer, formatName);
                var messages = new List<ChatMessage>();
                if (parse.GetValue(system) is { } systemText) messages.Add(new ChatMessage("system", systemText));
                messages.Add(new ChatMessage("user", input));
                var encoding = chatFormat.Encode(messages, new ChatRenderOptions
                {
                    AddGenerationPrompt = true,
                    EnableThinking = parse.GetValue(noThinking) ? false : null
                });
                (ids, mask) = (encoding.InputIds, encoding.AssistantMask);
                Console.WriteLine($"template: {chatFormat.Name} ({chatFormat.Capabilities})");
                Console.WriteLine($"rendered: {Escape(encoding.Text)}");
            }
            else ids = tokenizer.Encode(input, parse.GetValue(specials));

            Console.WriteLine($"{ids.Length} tokens: [{string.Join(", ", ids)}]");
            for (var i = 0; i < ids.Length; i++)
            {
                var role = mask is null ? "" : mask[i] ? " A" : " -";
                Console.WriteLine($"{i,5}{role} {ids[i],8}  {tokenizer.IdToToken(ids[i]),-24} {Piece(tokenizer, ids[i])}");
            }
            return 0;
        });
        return command;
    }

    /// <summary>The text of one token; a byte-level token holding part of a character shows its bytes in hex.</summary>
    static string Piece(Tokenizer tokenizer, int id)
    {
        var text = tokenizer.Decode([id]);
        if (!text.Contains('\uFFFD') || !tokenizer.Json.IsByteLevel || ByteLevel.TryDecode(tokenizer.IdToToken(id)) is not { } bytes) return Escape(text);
        return "bytes " + Convert.ToHexString(bytes);
    }

    /// <summary>Shows control characters visibly so that one line holds one token.</summary>
    static string Escape(string text)
    {
        var result = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
            result.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", '"' => "\\\"", _ when char.IsControl(c) => $"\\u{(int)c:x4}", _ => c.ToString() });
        return result.Append('"').ToString();
    }
}
