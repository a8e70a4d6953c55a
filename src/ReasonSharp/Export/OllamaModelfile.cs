using System.Text;
using System.Text.Json.Nodes;
using ReasonSharp.Templates;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Export;

/// <summary>
/// An Ollama Modelfile for an exported GGUF: FROM the file, the chat template translated to Ollama's Go-template
/// syntax, and a stop parameter per end-of-turn token. The model's Jinja template is recognised by what it renders
/// (never by its text): it must render a set of probe conversations exactly as one of ReasonSharp's built-in formats
/// (ChatML, dual-mode) does. Anything else gets a Modelfile without TEMPLATE and a note saying so.
/// </summary>
public sealed record OllamaModelfile(string Text, string? Format, IReadOnlyList<string> Notes)
{
    /// <summary>ChatML in Ollama's syntax: every message as &lt;|im_start|&gt;role\n…&lt;|im_end|&gt;\n, then the
    /// assistant header (Ollama always asks for the next assistant turn).</summary>
    public const string ChatMLTemplate =
        "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n";

    /// <summary>
    /// The dual-mode template in Ollama's syntax. Thinking is on unless Ollama's think option is set to false
    /// (`ollama run --think=false`, the API's "think": false, as enable_thinking), and a first system message that is
    /// exactly `/think` or `/no_think` switches it and is not written, as the training template does. In no-think mode
    /// every assistant turn and the generation prompt start with the empty think block. Go templates cannot search a
    /// string, so a flag inside a longer system message stays in the text and does not switch the mode.
    /// </summary>
    public const string DualModeTemplate =
        "{{- $thinking := true }}{{- if .IsThinkSet }}{{- $thinking = .Think }}{{- end }}"
        + "{{- range $i, $m := .Messages }}{{- if and (eq $i 0) (eq $m.Role \"system\") }}"
        + "{{- if eq $m.Content \"/no_think\" }}{{- $thinking = false }}"
        + "{{- else if eq $m.Content \"/think\" }}{{- $thinking = true }}{{- end }}{{- end }}{{- end }}"
        + "{{- range $i, $m := .Messages }}"
        + "{{- if and (eq $i 0) (eq $m.Role \"system\") }}"
        + "{{- if not (or (eq $m.Content \"/think\") (eq $m.Content \"/no_think\") (eq $m.Content \"\")) }}"
        + "<|im_start|>system\n{{ $m.Content }}<|im_end|>\n{{ end }}"
        + "{{- else if eq $m.Role \"assistant\" }}<|im_start|>assistant\n"
        + "{{ if not $thinking }}<think>\n\n</think>\n{{ end }}{{ $m.Content }}<|im_end|>\n"
        + "{{ else }}<|im_start|>{{ $m.Role }}\n{{ $m.Content }}<|im_end|>\n{{ end }}"
        + "{{- end }}<|im_start|>assistant\n{{ if not $thinking }}<think>\n\n</think>\n{{ end }}";

    /// <summary>The built-in formats with an Ollama translation: name, Jinja template, Go template.</summary>
    public static IReadOnlyList<(string Name, string Jinja, string GoTemplate)> Formats { get; } =
    [
        ("dual-mode", ChatTemplates.DualMode, DualModeTemplate),
        ("chatml", ChatTemplates.ChatML, ChatMLTemplate),
    ];

    /// <summary>The Modelfile for <paramref name="ggufFileName"/> (a name beside the Modelfile) whose chat template is
    /// <paramref name="chatTemplate"/> and whose end-of-turn tokens are <paramref name="stopTokens"/>.</summary>
    public static OllamaModelfile Create(string ggufFileName, string? chatTemplate, IEnumerable<string> stopTokens)
    {
        var notes = new List<string>();
        var format = chatTemplate is null ? null : Recognise(chatTemplate);
        var text = new StringBuilder();
        text.Append("# Ollama: ollama create NAME -f ").Append(Path.ChangeExtension(ggufFileName, ".Modelfile"))
            .Append('\n');
        text.Append("FROM ./").Append(ggufFileName).Append('\n');
        if (format is { } known)
        {
            text.Append("# The ").Append(known.Name)
                .Append(" chat template the model was trained with, in Ollama's syntax.\n");
            text.Append("TEMPLATE \"\"\"").Append(known.GoTemplate).Append("\"\"\"\n");
        }
        else
        {
            var why = chatTemplate is null ? "the tokenizer has no chat template"
                : "its chat template renders like none of the formats with an Ollama translation ("
                    + string.Join(", ", Formats.Select(f => f.Name)) + ")";
            text.Append("# No TEMPLATE: ").Append(why).Append("; Ollama falls back to its own reading of the GGUF.\n");
            notes.Add($"Modelfile: no TEMPLATE written: {why}");
        }
        foreach (var stop in stopTokens.Distinct())
            text.Append("PARAMETER stop \"").Append(stop.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append("\"\n");
        return new OllamaModelfile(text.ToString(), format?.Name, notes);
    }

    /// <summary>Writes the Modelfile for an exported GGUF beside it (NAME.gguf → NAME.Modelfile) atomically; the chat
    /// template and stop tokens come from the tokenizer folder.</summary>
    public static (string Path, OllamaModelfile Modelfile) WriteBeside(string ggufPath, string tokenizerFolder)
    {
        using var tokenizer = Tokenizer.Load(tokenizerFolder);
        var stops = tokenizer.StopTokenIds.Select(id => tokenizer.IdToToken(id)).ToList();
        var modelfile = Create(Path.GetFileName(ggufPath), tokenizer.ChatTemplate, stops);
        var path = Path.ChangeExtension(ggufPath, ".Modelfile");
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false));
            writer.Write(modelfile.Text);
        });
        return (path, modelfile);
    }

    /// <summary>The built-in format whose renderings of every probe equal the template's, or null.</summary>
    static (string Name, string Jinja, string GoTemplate)? Recognise(string chatTemplate)
    {
        Template candidate;
        try { candidate = Template.Parse(chatTemplate, "chat template"); }
        catch (ReasonSharpException) { return null; }
        foreach (var format in Formats)
        {
            var reference = Template.Parse(format.Jinja, format.Name);
            if (Probes().All(probe => Same(candidate, reference, probe))) return format;
        }
        return null;
    }

    static bool Same(Template candidate, Template reference, string variablesJson)
    {
        var variables = Template.VariablesFromJson(variablesJson, "probe");
        try { return candidate.RenderText(variables) == reference.RenderText(variables); }
        catch (ReasonSharpException) { return false; }
    }

    /// <summary>Probe conversations: with and without a system message, each flag, enable_thinking, history.</summary>
    static IEnumerable<string> Probes()
    {
        string[] systems = ["", "/think", "/no_think", "Be brief."];
        foreach (var system in systems)
            foreach (bool? thinking in new bool?[] { null, true, false })
                foreach (var history in new[] { false, true })
                {
                    var messages = new JsonArray();
                    if (system.Length > 0) messages.Add(Message("system", system));
                    messages.Add(Message("user", "What is 2+3?"));
                    if (history)
                    {
                        messages.Add(Message("assistant", "<think>2+3=5</think><answer>5</answer>"));
                        messages.Add(Message("user", "And 4+4?"));
                    }
                    var variables = new JsonObject { ["messages"] = messages, ["add_generation_prompt"] = true };
                    if (thinking is { } on) variables["enable_thinking"] = on;
                    yield return variables.ToJsonString();
                }
    }

    static JsonObject Message(string role, string content) => new() { ["role"] = role, ["content"] = content };
}
