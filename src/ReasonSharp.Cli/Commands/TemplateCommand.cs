using System.CommandLine;
using System.Globalization;
using System.Text;
using ReasonSharp.Templates;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason template render`: render a chat template (Jinja, as transformers' apply_chat_template) with
/// variables from a JSON file, to check what a model is given.</summary>
public static class TemplateCommand
{
    public static Command Create()
    {
        var template = new Option<string?>("--template") { Description = "A Jinja template file." };
        var model = new Option<string?>("--model") { Description = "A model or tokenizer folder: its chat template." };
        var data = new Option<string>("--data")
        {
            Description = "JSON object with every template variable (messages, tools, bos_token, eos_token, "
                + "add_generation_prompt, enable_thinking, …).",
            Required = true,
        };
        var now = new Option<string?>("--now")
        {
            Description = "ISO-8601 date and time strftime_now returns (default: now), e.g. 2025-03-07T14:05:09.",
        };
        var render = new Command("render",
            "Print a template rendered with the data's variables, exactly (no newline added). "
            + "A syntax error or raise_exception exits 1 with the template's line and column.")
        {
            template, model, data, now,
        };
        render.SetAction(parse =>
        {
            DateTime? clock = parse.GetValue(now) is { } text ? ParseNow(text) : null;
            string output;
            try
            {
                output = ChatTemplates.RenderWithDataFile(
                    parse.GetValue(template), parse.GetValue(model), parse.GetValue(data)!, clock);
            }
            catch (TemplateException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
            Write(output);
            return 0;
        });
        return new Command("template", "Chat templates: render one with given variables.") { render };
    }

    /// <summary>The text exactly: through Console.Out when it can hold any character, else as UTF-8 bytes on
    /// stdout.</summary>
    static void Write(string text)
    {
        if (Console.Out.Encoding is UTF8Encoding or UnicodeEncoding)
        {
            Console.Out.Write(text);
            Console.Out.Flush();
            return;
        }
        using var stdout = Console.OpenStandardOutput();
        stdout.Write(new UTF8Encoding(false).GetBytes(text));
    }

    static DateTime ParseNow(string text) =>
        DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var value)
            ? value
            : throw new ReasonSharpException($"--now: expected an ISO-8601 date and time such as 2025-03-07T14:05:09, "
                + $"got '{text}'");
}
