using System.Diagnostics;
using System.Text.Json;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Tokenization;

/// <summary>The dual-mode Jinja template written into trained tokenizers renders exactly as ReasonSharp's own renderer.</summary>
public class DualModeTemplateTests
{
    static readonly ChatMessage[][] Conversations =
    [
        [new("system", "/no_think"), new("user", "What is 2+2?"), new("assistant", "4")],
        [new("system", "Be brief. /think"), new("user", "Hi"), new("assistant", "<think>\nhello\n</think>\nHello!"), new("user", "Again")],
        [new("user", "No system here"), new("assistant", "\nanswer")],
    ];

    static string? RenderWithJinja(string template, ChatMessage[] messages, bool addGenerationPrompt, bool enableThinking)
    {
        const string script = "import sys, json, jinja2\nd = json.load(sys.stdin)\nt = jinja2.Environment().from_string(d['template'])\n" +
                              "sys.stdout.write(t.render(messages=d['messages'], add_generation_prompt=d['gen'], enable_thinking=d['think']))";
        var start = new ProcessStartInfo("python3", ["-c", script]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        Process? process;
        try { process = Process.Start(start); }
        catch (System.ComponentModel.Win32Exception) { return null; }
        if (process is null) return null;
        process.StandardInput.Write(JsonSerializer.Serialize(new
        {
            template, gen = addGenerationPrompt, think = enableThinking,
            messages = messages.Select(m => new { role = m.Role, content = m.Content }),
        }));
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : null;
    }

    [SkippableFact]
    public void JinjaAndTheNativeRendererAgree()
    {
        using var dir = TestEnvironment.NewTempDir();
        BpeTrainer.TrainToFolder(["hello world 1234 <think> answer"], new BpeTrainerOptions { VocabSize = 300, ChatTemplate = BpeTrainerOptions.TemplateFor("dual-mode") }, dir.Path);
        using var tokenizer = Tokenizer.Load(dir.Path);
        var format = ChatFormat.For(tokenizer);
        Assert.Equal(ChatFamily.DualMode, format.Family);
        foreach (var conversation in Conversations)
            foreach (var (generation, thinking) in new[] { (false, true), (true, true), (true, false) })
            {
                var messages = generation ? conversation.Where((_, i) => i < conversation.Length - 1 || conversation[^1].Role != "assistant").ToArray() : conversation;
                var jinja = RenderWithJinja(tokenizer.ChatTemplate!, messages, generation, thinking);
                Skip.If(jinja is null, "python3 with jinja2 is not available to render the template");
                var native = format.Render(messages, new ChatRenderOptions { AddGenerationPrompt = generation, EnableThinking = thinking });
                Assert.Equal(jinja, native);
            }
    }
}
