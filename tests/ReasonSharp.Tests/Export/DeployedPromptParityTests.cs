using System.Text;
using System.Text.Json.Nodes;
using LLama;
using LLama.Common;
using ReasonSharp.Data;
using ReasonSharp.Export;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Export;

/// <summary>
/// Deployed prompts are rendered as training rendered them: a dual-mode model (trained briefly in the test on
/// /think and /no_think conversations) is exported to GGUF; its own tokenizer.chat_template, rendered as llama.cpp's
/// `--jinja` does (the template run as Jinja), tokenized and decoded greedily by llama.cpp, gives the same completion
/// as `reason generate --chat` for both modes. llama.cpp's built-in template detection (no `--jinja`, what
/// llama_chat_apply_template does) renders `/think` as a literal system turn instead; the test shows that too.
/// </summary>
[Collection("Console")]
public class DeployedPromptParityTests(ITestOutputHelper output)
{
    const int NewTokens = 40;
    const string Question = "Compute 47+25-13.";

    static string TrainDualModeModel(TempDir dir)
    {
        var problems = SyntheticDataset.Generate(new ArithmeticTask(), 300, 1, seed: 4);
        var tokenizerFolder = dir.File("tokenizer");
        BpeTrainer.TrainToFolder(problems.SelectMany(p => new[] { p.Prompt, p.Completion }),
            new BpeTrainerOptions { VocabSize = 400, ChatTemplate = ChatTemplates.DualMode }, tokenizerFolder);
        using var lm = LanguageModel.Initialize("qwen2", ModelPresets.Get("nano"), tokenizerFolder, seed: 3,
            maxPositions: 256, device: "cpu");
        var rows = problems.Select((p, i) => lm.Tokenizer.Encode(lm.Chat.Render(
        [
            ChatMessage.FromSystem(i % 2 == 0 ? ReasoningFlags.Think : ReasoningFlags.NoThink),
            new ChatMessage("user", p.Prompt),
            ChatMessage.FromAssistant(i % 2 == 0 ? p.Completion : p.WithoutWorking().Completion),
        ]))).ToList();
        var random = new Random(5);
        lm.Model.train();
        using (var optimizer = optim.AdamW(lm.Model.parameters(), lr: 3e-3, weight_decay: 0.0))
            for (var step = 0; step < 150; step++)
            {
                using var scope = NewDisposeScope();
                var row = rows[random.Next(rows.Count)];
                var ids = tensor(row.Select(t => (long)t).ToArray(), [1, row.Length]);
                var logits = lm.Model.Forward(ids);
                var loss = nn.functional.cross_entropy(logits[0, ..^1], ids[0, 1..]);
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            }
        lm.Model.eval();
        var folder = dir.File("model");
        lm.Save(folder);
        return folder;
    }

    [Fact]
    public async Task ThinkAndNoThinkPromptsGiveTheSameGreedyOutputInLlamaCppAsReasonGenerate()
    {
        using var dir = TestEnvironment.NewTempDir();
        var folder = TrainDualModeModel(dir);
        var gguf = dir.File("model.gguf");
        GgufExporter.ExportFolder(folder, gguf);
        var ggufTemplate = (string)GgufReader.Open(gguf).Metadata["tokenizer.chat_template"];
        Assert.Equal(ChatTemplates.DualMode, ggufTemplate);

        using var tokenizer = Tokenizer.Load(folder);
        var fromGguf = new ChatFormat(tokenizer, ggufTemplate, "GGUF tokenizer.chat_template");
        var stops = new HashSet<int>(tokenizer.StopTokenIds);
        using var llama = LlamaCppReference.Load(gguf, ExportModels.Threads, contextSize: 256);
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(gguf) { GpuLayerCount = 0 });
        var completions = new List<string>();
        foreach (var flag in new[] { ReasoningFlags.Think, ReasoningFlags.NoThink })
        {
            ChatMessage[] messages = [ChatMessage.FromSystem(flag), new ChatMessage("user", Question)];
            var prompt = fromGguf.Render(messages, new ChatRenderOptions { AddGenerationPrompt = true });
            output.WriteLine($"{flag} prompt rendered with the GGUF's template:\n{prompt}");
            Assert.DoesNotContain(flag, prompt);
            var ids = weights.Tokenize(prompt, add_bos: false, special: true, Encoding.UTF8).Select(t => (int)t)
                .ToArray();
            Assert.Equal(tokenizer.Encode(prompt), ids);
            var greedy = llama.GreedyBatch([ids], NewTokens).Tokens[0];
            var end = Array.FindIndex(greedy, stops.Contains);
            var theirs = greedy[..(end < 0 ? greedy.Length : end + 1)];

            var outFile = dir.File($"ours-{flag.TrimStart('/')}.jsonl");
            var (code, text) = await CliHarness.Run("generate", folder, "--prompt", Question, "--chat", "--system",
                flag, "--temperature", "0", "--max-new-tokens", NewTokens.ToString(), "--output", outFile,
                "--device", "cpu");
            Assert.True(code == 0, text);
            var ours = JsonNode.Parse(File.ReadAllLines(outFile).Single())!;
            var oursText = ours["completion"]!.GetValue<string>();
            output.WriteLine($"{flag}: reason generate --chat: {oursText}");
            output.WriteLine($"{flag}: llama.cpp ({theirs.Length} tokens): {tokenizer.Decode(theirs, true)}");
            Assert.Equal(ours["completion_tokens"]!.GetValue<int>(), theirs.Length);
            Assert.Equal(oursText, tokenizer.Decode(theirs, true));
            completions.Add(oursText);
        }
        // The two modes are really different prompts, and the brief training shows: the no-think answer starts after
        // the template's empty think block, the think answer opens its own.
        Assert.NotEqual(completions[0], completions[1]);

        // llama.cpp's built-in rendering (no --jinja) recognises ChatML and keeps the flag as a system turn.
        var builtIn = new LLamaTemplate(weights) { AddAssistant = true };
        builtIn.Add("system", ReasoningFlags.Think);
        builtIn.Add("user", Question);
        var builtInText = Encoding.UTF8.GetString(builtIn.Apply());
        output.WriteLine($"llama.cpp built-in template:\n{builtInText}");
        Assert.Contains($"<|im_start|>system\n{ReasoningFlags.Think}<|im_end|>", builtInText);
        Assert.NotEqual(fromGguf.Render([ChatMessage.FromSystem(ReasoningFlags.Think),
            new ChatMessage("user", Question)], new ChatRenderOptions { AddGenerationPrompt = true }), builtInText);
    }
}
