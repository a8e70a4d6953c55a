using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ReasonSharp.Export;
using ReasonSharp.Modeling;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Bench;

/// <summary>
/// Per GGUF type (ours: f32, f16, q8_0; llama.cpp's quantizer: q4_0, q4_k_m, q5_k_m, q6_k): file size, llama.cpp
/// decode tokens/s (batch 1), and on held-out rows of a JSONL (prompt, completion, answer) rendered with the model's
/// chat template and a /think system turn: perplexity of the whole conversation, greedy accuracy (the text between
/// &lt;answer&gt; tags equals the answer column) and greedy agreement with f32. --model takes a trained folder;
/// --size instead initialises a random model of a preset on that folder's tokenizer (size and speed only).
/// </summary>
public static class QuantizeBench
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var modelFolder = Arg("--model", "");
        var data = Arg("--data", "");
        var size = Arg("--size", "");
        var rows = int.Parse(Arg("--rows", "100"), CultureInfo.InvariantCulture);
        var threads = int.Parse(Arg("--threads", "2"), CultureInfo.InvariantCulture);
        var types = Arg("--types", "f32,f16,q8_0,q6_k,q5_k_m,q4_k_m,q4_0").Split(',');
        var outDir = Arg("--out", Path.Combine(Path.GetTempPath(), "reasonsharp-quantize-bench"));
        if (!Directory.Exists(modelFolder)) throw new ReasonSharpException($"--model {modelFolder}: folder not found");
        Directory.CreateDirectory(outDir);
        var load = File.ReadAllText("/proc/loadavg").Trim();
        Console.WriteLine($"{Environment.ProcessorCount} cores, load average {load}, {threads} llama.cpp threads");

        using var lm = size.Length > 0
            ? LanguageModel.Initialize("qwen2", ModelPresets.Get(size), modelFolder, seed: 1, maxPositions: 1024,
                device: "cpu")
            : LanguageModel.Load(modelFolder, "cpu");
        Console.WriteLine($"model: {(size.Length > 0 ? $"random {size}" : modelFolder)}, "
            + $"{lm.ParameterCount() / 1e6:F2}M parameters");
        var examples = data.Length == 0 ? [] : File.ReadLines(data).Take(rows).Select(l => JsonNode.Parse(l)!).ToList();
        var texts = examples.Select(e => lm.Tokenizer.Encode(lm.Chat.Render(
        [
            ChatMessage.FromSystem(ReasoningFlags.Think), new ChatMessage("user", e["prompt"]!.GetValue<string>()),
            ChatMessage.FromAssistant(e["completion"]!.GetValue<string>()),
        ]))).ToList();
        var prompts = examples.Select(e => (IReadOnlyList<int>)lm.EncodePrompt(
            [ChatMessage.FromSystem(ReasoningFlags.Think), new ChatMessage("user", e["prompt"]!.GetValue<string>())]))
            .ToList();
        var stops = lm.StopTokenIds.ToHashSet();
        const int newTokens = 96, batch = 16;

        Console.WriteLine("| type | file | decode tok/s | perplexity | /think accuracy | greedy = f32 |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        List<int[]>? f32Answers = null;
        foreach (var name in types)
        {
            var type = Gguf.ParseFileType(name);
            var path = Path.Combine(outDir, $"model-{name}.gguf");
            var options = new GgufExportOptions { Type = type, Name = "bench" };
            var clock = Stopwatch.StartNew();
            var result = GgufQuantizer.IsLlamaCppType(type)
                ? GgufQuantizer.Export(lm.Model, modelFolder, path, options, threads)
                : GgufExporter.Export(lm.Model, modelFolder, path, options);
            var exportSeconds = clock.Elapsed.TotalSeconds;

            double tokensPerSecond;
            using (var single = LlamaCppReference.Load(path, threads, contextSize: 512))
            {
                single.GreedyBatch([prompts.Count > 0 ? prompts[0] : [lm.Tokenizer.Encode("Compute 1+2.")[0]]], 16);
                tokensPerSecond = Enumerable.Range(0, 3)
                    .Select(_ => single.GreedyBatch([prompts.Count > 0 ? prompts[0] : [0]], 256).DecodeTokensPerSecond)
                    .Max();
            }
            string perplexity = "–", accuracy = "–", agreement = "–";
            if (examples.Count > 0)
            {
                using var llama = LlamaCppReference.Load(path, threads, contextSize: batch * 256, maxSequences: batch);
                double nll = 0;
                long count = 0;
                foreach (var ids in texts)
                {
                    var logits = llama.Logits(ids);
                    for (int p = 0; p + 1 < ids.Length; p++)
                    {
                        var row = logits[p];
                        var max = row.Max();
                        var logSum = max + Math.Log(row.Sum(v => Math.Exp(v - max)));
                        nll += logSum - row[ids[p + 1]];
                        count++;
                    }
                }
                perplexity = Math.Exp(nll / count).ToString("F4", CultureInfo.InvariantCulture);
                var answers = new List<int[]>();
                for (int start = 0; start < prompts.Count; start += batch)
                    foreach (var tokens in llama.GreedyBatch(prompts.Skip(start).Take(batch).ToList(), newTokens)
                        .Tokens)
                    {
                        var end = Array.FindIndex(tokens, stops.Contains);
                        answers.Add(end < 0 ? tokens : tokens[..end]);
                    }
                var correct = answers.Select((a, i) => Answer(lm.Decode(a, true)) == examples[i]["answer"]!.ToString())
                    .Count(ok => ok);
                accuracy = $"{100.0 * correct / answers.Count:F1} %";
                f32Answers ??= name == "f32" ? answers : null;
                if (f32Answers is not null)
                    agreement = $"{answers.Zip(f32Answers).Count(p => p.First.SequenceEqual(p.Second))}/"
                        + $"{answers.Count}";
            }
            var kinds = string.Join(", ", result.Tensors.Where(t => t.Shape.Length == 2).GroupBy(t => t.Type)
                .Select(g => $"{g.Count()} {g.Key}"));
            Console.WriteLine($"| {name} | {result.FileBytes / 1048576.0:F2} MiB | {tokensPerSecond:F0} | "
                + $"{perplexity} | {accuracy} | {agreement} |  <!-- {kinds}; export {exportSeconds:F1} s -->");
        }
        Console.WriteLine($"load average after: {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    static string Answer(string text)
    {
        var open = text.IndexOf("<answer>", StringComparison.Ordinal);
        var close = text.IndexOf("</answer>", StringComparison.Ordinal);
        return open < 0 || close < open ? "" : text[(open + "<answer>".Length)..close].Trim();
    }
}
