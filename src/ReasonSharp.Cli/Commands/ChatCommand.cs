using System.CommandLine;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason chat MODEL`: an interactive, streaming chat; `/think` and `/no_think` switch modes; thinking is shown apart from the answer.</summary>
public static class ChatCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("model") { Description = "A Hugging Face model folder." };
        var systemOption = new Option<string?>("--system") { Description = "A system message for the conversation." };
        var noThink = new Option<bool>("--no-think") { Description = "Start in no-think mode (toggle with /think and /no_think)." };
        var device = CommonOptions.Device();
        var format = CommonOptions.ChatFormatOption();
        var kwargs = CommonOptions.ChatTemplateKwargsOption();
        var sampling = new CommonOptions.Sampling();
        var command = new Command("chat", "Chat with a model. Commands: /think, /no_think, /reset, /exit.")
        {
            folder, systemOption, noThink, device, format, kwargs,
        };
        foreach (var option in sampling.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            using var lm = LanguageModel.Load(parse.GetValue(folder)!, parse.GetValue(device)!, parse.GetValue(format),
                CommonOptions.ChatTemplateKwargs(parse, kwargs));
            var options = sampling.Read(parse, lm.StopTokenIds);
            var engine = lm.Engine();
            var history = new List<ChatMessage>();
            bool thinking = lm.Thinking(!parse.GetValue(noThink) && ReasoningFlags.Find(
                [ChatMessage.FromSystem(parse.GetValue(systemOption) ?? "")]) != ReasoningFlags.NoThink);
            bool color = !Console.IsOutputRedirected;
            Console.WriteLine($"chatting with {lm.Model.Config.Architecture} ({lm.ParameterCount() / 1e6:F1}M "
                + $"parameters, {lm.Chat.Name}). /think, /no_think, /reset, /exit.");
            while (true)
            {
                Console.Write(thinking ? "you (think)> " : "you (no_think)> ");
                var line = Console.ReadLine();
                if (line is null || line.Trim() == "/exit") return 0;
                switch (line.Trim())
                {
                    case "/think": thinking = true; Console.WriteLine("thinking on"); continue;
                    case "/no_think": thinking = false; Console.WriteLine("thinking off"); continue;
                    case "/reset": history.Clear(); Console.WriteLine("conversation cleared"); continue;
                    case "": continue;
                }
                history.Add(new ChatMessage("user", line));
                var system = parse.GetValue(systemOption);
                var prompt = lm.EncodePrompt(string.IsNullOrEmpty(system) ? history : [ChatMessage.FromSystem(system), .. history],
                    thinking);
                var view = new ThinkingView(color);
                var result = engine.Generate([prompt], options with { Seed = options.Seed + history.Count }, e => view.Write(e.TextDelta))[0];
                view.End();
                if (result.FinishReason == FinishReason.Length) Console.WriteLine("[stopped at --max-new-tokens]");
                history.Add(new ChatMessage("assistant", result.CompletionText));
            }
        });
        return command;
    }

    /// <summary>Streams a completion, showing the &lt;think&gt; part dimmed and the answer in plain text.</summary>
    sealed class ThinkingView(bool color)
    {
        string _pending = "";
        bool _inThink;

        public void Write(string delta)
        {
            _pending += delta;
            while (_pending.Length > 0)
            {
                var marker = _inThink ? "</think>" : "<think>";
                int at = _pending.IndexOf(marker, StringComparison.Ordinal);
                if (at < 0)
                {
                    // Keep a possible partial marker for the next delta.
                    int keep = Enumerable.Range(1, Math.Min(marker.Length - 1, _pending.Length)).LastOrDefault(k => marker.StartsWith(_pending[^k..]));
                    Emit(_pending[..^keep]);
                    _pending = _pending[^keep..];
                    return;
                }
                Emit(_pending[..at]);
                _pending = _pending[(at + marker.Length)..];
                _inThink = !_inThink;
                if (_inThink) Console.Write(color ? "\x1b[2m[thinking] " : "[thinking] ");
                else Console.Write(color ? "\x1b[0m\n" : "\n[answer] ");
            }
        }

        void Emit(string text)
        {
            if (text.Length > 0) Console.Write(text);
        }

        public void End()
        {
            Emit(_pending);
            if (color) Console.Write("\x1b[0m");
            Console.WriteLine();
        }
    }
}
