using System.Globalization;
using ReasonSharp.Data;
using ReasonSharp.Generation;
using ReasonSharp.Modeling;
using ReasonSharp.Rewards;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Bench;

/// <summary>
/// How competent a model's thinking path is: greedy held-out accuracy as the model chooses, and with `&lt;think&gt;\n`
/// prefilled after the assistant header (the path GRPO must reward), plus the sampled accuracy at temperature 1.
/// </summary>
public static class ForcedThinkBench
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var data = Arg("--data", "");
        int limit = int.Parse(Arg("--limit", "200"), CultureInfo.InvariantCulture);
        var models = args.TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
        if (models.Count == 0 || data.Length == 0)
        {
            Console.WriteLine("usage: forced-think MODEL_DIR... --data TEST.jsonl [--limit 200] [--new 96]");
            return 2;
        }
        int maxNew = int.Parse(Arg("--new", "96"), CultureInfo.InvariantCulture);
        var examples = DatasetReader.ReadExamples(data).Take(limit).ToList();
        var reward = RewardRegistry.CreateDefault().CreateComposite("accuracy");
        Console.WriteLine("| model | greedy % | forced-think greedy % | sampled (T=1) % |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var folder in models)
        {
            using var model = LanguageModel.Load(folder, "cpu");
            var engine = model.Engine();
            var thinkOpen = model.Tokenizer.Encode($"{ReasoningTrace.ThinkOpen}\n");
            var plain = examples.Select(e => model.EncodePrompt(e.Prompt)).ToList();
            var forced = plain.Select(p => p.Concat(thinkOpen).ToArray()).ToList();
            var greedy = SamplingOptions.Greedy(maxNew, model.StopTokenIds);
            double Accuracy(List<int[]> prompts, SamplingOptions sampling, string prefix)
            {
                var results = engine.Generate(prompts, sampling);
                var inputs = examples.Select((e, i) => RolloutRunner.RewardInputFor(e, results[i] with
                {
                    CompletionText = prefix + results[i].CompletionText,
                }, 0)).ToList();
                var scores = reward.ScoreAsync(inputs).GetAwaiter().GetResult();
                return 100.0 * scores.Total.Count(t => t > 0.5f) / examples.Count;
            }
            var sampled = greedy with { DoSample = true, Temperature = 1.0, Seed = 1 };
            var (greedyAccuracy, forcedAccuracy, sampledAccuracy) = (Accuracy(plain, greedy, ""),
                Accuracy(forced, greedy, "<think>\n"), Accuracy(plain, sampled, ""));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {folder} | {greedyAccuracy:F1} | {forcedAccuracy:F1} | {sampledAccuracy:F1} |"));
        }
        return 0;
    }
}
