using ReasonSharp.Templates;

namespace ReasonSharp.Tokenization;

/// <summary>ReasonSharp's own chat templates (written into the tokenizers it trains), and how an option names a
/// template: a built-in name, a .jinja file, a tokenizer_config.json, or a model or tokenizer folder.</summary>
public static class ChatTemplates
{
    /// <summary>Plain ChatML: every turn is &lt;|im_start|&gt;role\n…&lt;|im_end|&gt;\n, no default system prompt. The
    /// assistant's text and its &lt;|im_end|&gt; are a {% generation %} block.</summary>
    public const string ChatML =
        "{%- for message in messages %}"
        + "{%- if message['role'] == 'assistant' %}"
        + "{{- '<|im_start|>assistant\\n' }}"
        + "{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
        + "{%- else %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
        + "{%- endif %}"
        + "{%- endfor %}"
        + "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

    /// <summary> ReasonSharp's dual-mode convention on ChatML (as SmolLM3): `/think` or `/no_think` in the system
    /// message (or enable_thinking) picks the mode and is removed from it; in no-think mode assistant turns and the
    /// generation prompt start with an empty think block, which is prompt, not generated text (outside the {%
    /// generation %} block).
    /// </summary>
    public const string DualMode =
        "{%- set thinking = enable_thinking is not defined or enable_thinking %}"
        + "{%- if messages and messages[0]['role'] == 'system' %}"
        + "{%- set system = messages[0]['content'] %}"
        + "{%- if '/no_think' in system %}{%- set thinking = false %}"
        + "{%- elif '/think' in system %}{%- set thinking = true %}{%- endif %}"
        + "{%- set system = system.replace('/no_think', '').replace('/think', '').rstrip() %}"
        + "{%- if system %}{{- '<|im_start|>system\\n' + system + '<|im_end|>\\n' }}{%- endif %}"
        + "{%- set rest = messages[1:] %}"
        + "{%- else %}{%- set rest = messages %}{%- endif %}"
        + "{%- set empty_think = '' if thinking else '<think>\\n\\n</think>\\n' %}"
        + "{%- for message in rest %}"
        + "{%- if message['role'] == 'assistant' %}"
        + "{{- '<|im_start|>assistant\\n' + empty_think }}"
        + "{% generation %}{{- message['content'].lstrip('\\n') + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
        + "{%- else %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
        + "{%- endif %}"
        + "{%- endfor %}"
        + "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' + empty_think }}{%- endif %}";

    /// <summary>The built-in names and what each is.</summary>
    public static IReadOnlyList<(string Name, string Description)> BuiltIn { get; } =
    [
        ("chatml", "plain ChatML (<|im_start|>role\\n…<|im_end|>)"),
        ("dual-mode", "ChatML with /think and /no_think in the system message, as SmolLM3 (also: smollm3)"),
    ];

    static string Choices => "a built-in template ("
        + string.Join("; ", BuiltIn.Select(b => $"{b.Name}: {b.Description}"))
        + "), a .jinja file, a tokenizer_config.json, or a model or tokenizer folder";

    /// <summary>The template text <paramref name="spec"/> names; <paramref name="option"/> is named in
    /// errors.</summary>
    public static string Resolve(string spec, string option)
    {
        var key = spec.Trim().ToLowerInvariant();
        switch (key)
        {
            case "chatml": return ChatML;
            case "dual-mode" or "dual_mode" or "smollm3": return DualMode;
            case "qwen3" or "llama3":
                throw new ReasonSharpException($"{option}: '{spec}' named one of the hand-written chat formats, which "
                    + $"are gone: "
                    + "ReasonSharp renders the tokenizer's own chat_template; leave the option out to use it, or give "
                        + Choices);
        }
        if (File.Exists(spec))
        {
            if (Path.GetFileName(spec) == TokenizerConfig.FileName)
                return TokenizerConfig.Parse(File.ReadAllText(spec), spec).ChatTemplate
                    ?? throw new ReasonSharpException($"{spec}: key 'chat_template' is missing");
            return File.ReadAllText(spec);
        }
        if (Directory.Exists(spec))
            return TokenizerConfig.Load(spec).ChatTemplate
                ?? throw new ReasonSharpException($"{option}: the folder {spec} has no chat template (no "
                    + $"chat_template in "
                    + $"{TokenizerConfig.FileName} and no {TokenizerConfig.ChatTemplateFileName})");
        throw new ReasonSharpException($"{option}: '{spec}' is not a chat template; expected {Choices}");
    }

    /// <summary> `reason template render`: a template file, or a model folder's chat template, rendered with every
    /// variable from a JSON object file (messages, add_generation_prompt, bos_token …); strftime_now reads <paramref
    /// name="now"/> when given. Template errors are <see cref="TemplateException"/>s with the template's line and
    /// column.
    /// </summary>
    public static string RenderWithDataFile(string? templateFile, string? modelFolder, string dataFile,
        DateTime? now = null)
    {
        if ((templateFile is null) == (modelFolder is null))
            throw new ReasonSharpException("give the template as either --template FILE or --model DIR (exactly one "
                + "of them)");
        string source, name;
        if (templateFile is not null)
        {
            if (!File.Exists(templateFile))
                throw new ReasonSharpException($"--template: {templateFile} does not exist (expected a .jinja file)");
            (source, name) = (File.ReadAllText(templateFile), templateFile);
        }
        else
        {
            if (!Directory.Exists(modelFolder))
                throw new ReasonSharpException($"--model: {modelFolder} is not a folder (expected a model or "
                + $"tokenizer folder)");
            var jinja = Path.Combine(modelFolder!, TokenizerConfig.ChatTemplateFileName);
            var config = Path.Combine(modelFolder!, TokenizerConfig.FileName);
            source = TokenizerConfig.Load(modelFolder!).ChatTemplate ?? throw new ReasonSharpException(
                $"--model: {modelFolder} has no chat template (no chat_template in {TokenizerConfig.FileName} and no "
                    + $"{TokenizerConfig.ChatTemplateFileName})");
            name = File.Exists(jinja) ? jinja : config + " chat_template";
        }
        if (!File.Exists(dataFile))
            throw new ReasonSharpException($"--data: {dataFile} does not exist (expected a JSON object of template "
            + $"variables)");
        var variables = Template.VariablesFromJson(File.ReadAllText(dataFile), dataFile);
        var options = new TemplateRenderOptions { Now = now is { } fixedNow ? () => fixedNow : null };
        return Template.Parse(source, name).RenderText(variables, options);
    }
}
