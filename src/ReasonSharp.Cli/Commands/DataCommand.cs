using System.CommandLine;
using ReasonSharp.Data;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason data generate|stats|dedup|decontaminate`: synthetic tasks and dataset hygiene.</summary>
public static class DataCommand
{
    public static Command Create()
    {
        var command = new Command("data", "Generate synthetic verifiable tasks and inspect or clean datasets.");
        command.Subcommands.Add(Generate());
        command.Subcommands.Add(Stats());
        command.Subcommands.Add(Dedup());
        command.Subcommands.Add(Decontaminate());
        return command;
    }

    // The options every command that reads a dataset shares.
    sealed class InputOptions
    {
        public readonly Argument<string> File = new("FILE") { Description = ".jsonl, .json or .parquet file, or a Hugging Face dataset folder" };
        public readonly Option<string?> Split = new("--split") { Description = "split of a dataset folder (default: train, or the only split)" };
        public readonly Option<string?> Config = new("--config") { Description = "configuration sub-folder of a dataset folder" };
        public readonly Option<string?> Schema = new("--schema") { Description = "messages, sharegpt, prompt-completion, question-answer or problem-solution (default: recognised)" };
        public readonly Option<bool> SkipBad = new("--skip-bad") { Description = "skip rows that fail to parse or convert; their count and first reasons are reported" };

        public void AddTo(Command command)
        {
            command.Arguments.Add(File);
            command.Options.Add(Split);
            command.Options.Add(Config);
            command.Options.Add(Schema);
            command.Options.Add(SkipBad);
        }

        public DatasetSource Source(ParseResult parse) =>
            new(parse.GetValue(File)!) { Split = parse.GetValue(Split), Config = parse.GetValue(Config) };

        public ExampleConverter Converter(ParseResult parse) =>
            new(parse.GetValue(Schema) is { } name ? SchemaMapping.ForName(name) : null);

        public BadRowLog BadRows(ParseResult parse) => new(parse.GetValue(SkipBad));
    }

    static void ReportBadRows(BadRowLog bad)
    {
        if (bad.Summary() is { } summary) Console.WriteLine("warning: " + summary);
    }

    static Command Stats()
    {
        var input = new InputOptions();
        var tokenizer = new Option<string?>("--tokenizer") { Description = "folder with a Hugging Face tokenizer.json, for token-length percentiles" };
        var command = new Command("stats", "Print rows, recognised schema, character and token length percentiles and the thinking-length distribution.");
        input.AddTo(command);
        command.Options.Add(tokenizer);
        command.SetAction(parse =>
        {
            using var tokens = parse.GetValue(tokenizer) is { } dir ? TokenizerFile.Load(dir) : null;
            var converter = input.Converter(parse);
            var bad = input.BadRows(parse);
            var source = input.Source(parse);
            var rows = DatasetReader.ReadRowExamples(source, converter, bad).Select(pair => pair.Example);
            var stats = DatasetStats.Compute(rows, tokens == null ? null : tokens.Count);
            Console.WriteLine($"file: {source.Path}{(source.Split is { } split ? $" (split {split})" : "")}");
            Console.WriteLine($"rows: {stats.Rows}  schema: {converter.Kind?.ToString() ?? "none (no rows)"}  with assistant turn: {stats.WithAssistant}  with gold answer: {stats.WithGold}");
            Print("characters, all turns", stats.ConversationChars);
            Print("characters, prompt", stats.PromptChars);
            Print("characters, completion", stats.CompletionChars);
            Console.WriteLine($"trace styles of completions: {string.Join(", ", stats.TraceStyles.Select(kv => $"{kv.Key} {kv.Value}"))}; empty thinking (no-think): {stats.EmptyThinking}");
            Print("thinking characters", stats.ThinkingChars);
            if (tokens != null)
            {
                Console.WriteLine($"tokens by {tokens.Path} (message contents, no chat template):");
                Print("tokens, all turns", stats.ConversationTokens);
                Print("tokens, completion", stats.CompletionTokens);
                Print("tokens, thinking", stats.ThinkingTokens);
            }
            ReportBadRows(bad);
            return 0;
        });
        return command;
    }

    static void Print(string label, LengthSummary? summary) =>
        Console.WriteLine($"{label + ":",-26} {summary?.ToString() ?? "none"}");

    static Command Dedup()
    {
        var input = new InputOptions();
        var output = new Option<string>("--out") { Description = "JSONL file for the kept rows (unchanged)", Required = true };
        var mode = new Option<string>("--mode") { Description = "exact or normalized (case, Unicode form and whitespace ignored)", DefaultValueFactory = _ => "normalized" };
        var by = new Option<string>("--by") { Description = "conversation or prompt: the text that must match", DefaultValueFactory = _ => "conversation" };
        mode.AcceptOnlyFromAmong("exact", "normalized");
        by.AcceptOnlyFromAmong("conversation", "prompt");
        var command = new Command("dedup", "Remove duplicate examples, keeping the first of each.");
        input.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(mode);
        command.Options.Add(by);
        command.SetAction(parse =>
        {
            var bad = input.BadRows(parse);
            var report = new DedupReport();
            var pairs = DatasetReader.ReadRowExamples(input.Source(parse), input.Converter(parse), bad);
            var kept = Deduplicator.Filter(pairs, p => p.Example,
                parse.GetValue(mode) == "exact" ? DedupMode.Exact : DedupMode.Normalized,
                parse.GetValue(by) == "prompt" ? DedupScope.Prompt : DedupScope.Conversation, report);
            var written = JsonlWriter.Write(parse.GetValue(output)!, kept.Select(p => p.Row));
            Console.WriteLine($"kept {written} of {report.Checked} rows; removed {report.Removed.Count} duplicates ({parse.GetValue(mode)}, by {parse.GetValue(by)})");
            foreach (var hit in report.Removed.Take(10)) Console.WriteLine($"  removed {hit.Source}: same as {hit.FirstSource}");
            ReportBadRows(bad);
            return 0;
        });
        return command;
    }

    static Command Decontaminate()
    {
        var input = new InputOptions();
        var eval = new Option<string[]>("--eval") { Description = "evaluation file or dataset folder (its test split); repeat for several", Required = true, AllowMultipleArgumentsPerToken = true };
        var ngram = new Option<int>("--ngram") { Description = "n-gram length in words", DefaultValueFactory = _ => 13 };
        var output = new Option<string>("--out") { Description = "JSONL file for the kept rows (unchanged)", Required = true };
        var report = new Option<string?>("--report") { Description = "JSONL file listing every removed row, its matching evaluation row and n-gram" };
        var command = new Command("decontaminate", "Remove training rows that share a word n-gram with an evaluation set.");
        input.AddTo(command);
        command.Options.Add(eval);
        command.Options.Add(ngram);
        command.Options.Add(output);
        command.Options.Add(report);
        command.SetAction(parse =>
        {
            var index = new NGramIndex(parse.GetValue(ngram));
            foreach (var path in parse.GetValue(eval)!)
                Decontaminator.IndexEvalSet(index, path, DatasetReader.ReadExamples(EvalSource(path)));
            Console.WriteLine($"indexed {index.Count} {index.N}-grams from {index.TextsIndexed} evaluation texts" +
                (index.ShortTexts > 0 ? $"; {index.ShortTexts} evaluation texts have fewer than {index.N} words and were not checked" : ""));
            var bad = input.BadRows(parse);
            var result = new DecontaminationReport();
            var pairs = DatasetReader.ReadRowExamples(input.Source(parse), input.Converter(parse), bad);
            var written = JsonlWriter.Write(parse.GetValue(output)!, Decontaminator.Filter(pairs, p => p.Example, index, result).Select(p => p.Row));
            Console.WriteLine($"kept {written} of {result.Checked} rows; removed {result.Removed.Count} contaminated rows");
            foreach (var hit in result.Removed.Take(10))
                Console.WriteLine($"  removed {hit.TrainSource}: shares \"{hit.NGram}\" with {hit.EvalSource}");
            if (parse.GetValue(report) is { } reportPath)
            {
                JsonlWriter.Write(reportPath, result.Removed.Select(hit => System.Text.Json.JsonSerializer.SerializeToNode(hit, JsonlWriter.Options)!));
                Console.WriteLine($"report: {reportPath}");
            }
            ReportBadRows(bad);
            return 0;
        });
        return command;
    }

    // An evaluation folder is read at its test split when it has one.
    static DatasetSource EvalSource(string path) =>
        Directory.Exists(path) && HfDatasetFolder.Open(path).Splits.ContainsKey("test")
            ? new DatasetSource(path) { Split = "test" }
            : new DatasetSource(path);

    /// <summary>
    /// A progress line on stderr for long generations: redrawn in place twice a second on a terminal, a line every
    /// 10 seconds when redirected. Short runs (under a second) print nothing.
    /// </summary>
    sealed class GenerationProgress(int count)
    {
        readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        readonly bool _interactive = !Console.IsErrorRedirected;
        TimeSpan _last;
        bool _shown;

        public void Report(int found, long draws)
        {
            var interval = TimeSpan.FromSeconds(_interactive ? 0.5 : 10);
            if (_clock.Elapsed < TimeSpan.FromSeconds(1) || _clock.Elapsed - _last < interval) return;
            _last = _clock.Elapsed;
            double rate = found / _clock.Elapsed.TotalSeconds;
            var eta = rate > 0 ? TimeSpan.FromSeconds((count - found) / rate) : TimeSpan.Zero;
            var c = System.Globalization.CultureInfo.InvariantCulture;
            var line = $"generating: {found.ToString("N0", c)} of {count.ToString("N0", c)} distinct problems " +
                       $"({(100.0 * found / count).ToString("F1", c)}%, {draws.ToString("N0", c)} drawn, " +
                       $"{_clock.Elapsed:hh\\:mm\\:ss} elapsed, about {eta:hh\\:mm\\:ss} left)";
            if (_interactive) Console.Error.Write("\r\u001b[2K" + line);
            else Console.Error.WriteLine(line);
            _shown = true;
        }

        public void Finish()
        {
            if (_shown && _interactive) Console.Error.WriteLine();
        }
    }

    static Command Generate()
    {
        var task = new Option<string>("--task") { Description = "countdown, arithmetic or word", Required = true };
        var count = new Option<int>("--n") { Description = "number of distinct problems", DefaultValueFactory = _ => 1000 };
        var difficulty = new Option<int>("--difficulty") { Description = "level 1 (shortest traces) to 5", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "random seed", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "output FILE.jsonl; with a test split, FILE.train.jsonl and FILE.test.jsonl", Required = true };
        var testFraction = new Option<double>("--test-fraction") { Description = "share of problems for the test file (0 writes one file)", DefaultValueFactory = _ => 0.1 };
        var answerOnly = new Option<double>("--answer-only-fraction") { Description = "share of training problems whose trace is only the answer (empty think block, column answer_only)", DefaultValueFactory = _ => 0 };
        var command = new Command("generate", "Write synthetic problems with teacher traces (prompt, completion, gold columns) as JSONL.")
        {
            task, count, difficulty, seed, output, testFraction, answerOnly,
        };
        command.SetAction(parse =>
        {
            var synthetic = SyntheticTasks.ByName(parse.GetValue(task)!);
            var outPath = parse.GetValue(output)!;
            var fraction = parse.GetValue(testFraction);
            var progress = new GenerationProgress(parse.GetValue(count));
            TrainTestSplit<SyntheticProblem> split;
            try
            {
                split = SyntheticDataset.GenerateSplit(synthetic, parse.GetValue(count), parse.GetValue(difficulty),
                    parse.GetValue(seed), fraction, progress.Report);
            }
            finally { progress.Finish(); }
            split = split with { Train = SyntheticDataset.WithAnswerOnlyTraces(split.Train, parse.GetValue(answerOnly), parse.GetValue(seed)) };
            if (fraction == 0)
            {
                SyntheticDataset.WriteJsonl(outPath, split.Train);
                Console.WriteLine($"wrote {split.Train.Count} {synthetic.Name} problems to {outPath}");
            }
            else
            {
                var (trainPath, testPath) = SyntheticDataset.SplitPaths(outPath);
                SyntheticDataset.WriteJsonl(trainPath, split.Train);
                SyntheticDataset.WriteJsonl(testPath, split.Test);
                Console.WriteLine($"wrote {split.Train.Count} train problems to {trainPath} and {split.Test.Count} test problems to {testPath} (no problem in both)");
            }
            Console.WriteLine($"verify with the '{synthetic.RewardName}' reward");
            return 0;
        });
        return command;
    }
}
