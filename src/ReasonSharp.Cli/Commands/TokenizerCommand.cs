using System.CommandLine;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Cli.Commands;

/// <summary>`reason tokenizer train`: byte-level BPE training into a Hugging Face tokenizer folder.</summary>
public static class TokenizerCommand
{
    public static Command Create()
    {
        var command = new Command("tokenizer", "Tokenizer tools.");
        command.Subcommands.Add(CreateTrain());
        return command;
    }

    static Command CreateTrain()
    {
        var input = new Option<string[]>("--input")
        {
            Description = "Training text: a .txt file (read whole) or a .jsonl file (string fields of each row). Repeat for several files.",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var field = new Option<string[]>("--field")
        {
            Description = "JSONL field to read (repeatable, e.g. --field prompt --field completion). Default: every string in each row.",
        };
        var vocabSize = new Option<int>("--vocab-size")
        {
            Description = "Total vocabulary: 256 byte tokens + learned merges + the 7 reasoning tokens (<|endoftext|>, <|im_start|>, <|im_end|>, <think>, </think>, <answer>, </answer>).",
            Required = true,
        };
        var minFrequency = new Option<int>("--min-frequency")
        {
            Description = "Never merge a pair seen fewer times than this; training stops early when no pair qualifies.",
            DefaultValueFactory = _ => new BpeTrainerOptions().MinFrequency,
        };
        var maxLength = new Option<int>("--model-max-length")
        {
            Description = "model_max_length written to tokenizer_config.json.",
            DefaultValueFactory = _ => new BpeTrainerOptions().ModelMaxLength,
        };
        var output = new Option<string>("--out") { Description = "Output folder for tokenizer.json and tokenizer_config.json.", Required = true };
        var chatFormat = new Option<string>("--chat-format")
        {
            Description = "Chat template to write: chatml, or dual-mode (/think and /no_think in the system message, as SmolLM3).",
            DefaultValueFactory = _ => "chatml",
        };

        var command = new Command("train", "Train a byte-level BPE tokenizer (GPT-2/Qwen style, single-digit numbers) with the reasoning special tokens and a ChatML (or dual-mode) chat template.")
        {
            input, field, vocabSize, minFrequency, maxLength, output, chatFormat,
        };
        command.SetAction(parse =>
        {
            var options = new BpeTrainerOptions
            {
                VocabSize = parse.GetValue(vocabSize),
                MinFrequency = parse.GetValue(minFrequency),
                ModelMaxLength = parse.GetValue(maxLength),
                ChatTemplate = BpeTrainerOptions.TemplateFor(parse.GetValue(chatFormat)!),
            };
            var fields = parse.GetValue(field) ?? [];
            var texts = parse.GetValue(input)!.SelectMany(path => TrainingCorpus.Read(path, fields));
            var folder = parse.GetValue(output)!;
            var model = BpeTrainer.TrainToFolder(texts, options, folder);

            using var tokenizer = Tokenizer.Load(folder); // proves the Hugging Face library loads it
            Console.WriteLine($"trained on {model.WordCount:N0} pre-tokens ({model.DistinctWords:N0} distinct) in {model.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"vocabulary {model.VocabSize} = 256 bytes + {model.Tokens.Count - 256} merged + {model.AddedTokens.Count} added ({model.Merges.Count} merges)");
            if (model.VocabSize < options.VocabSize)
                Console.WriteLine($"note: stopped below --vocab-size {options.VocabSize}: no pair occurs {options.MinFrequency}+ times any more (more text or a lower --min-frequency gives more)");
            Console.WriteLine("added tokens: " + string.Join(", ", model.AddedTokens.Select(t => $"{t.Content}={t.Id}")));
            Console.WriteLine($"wrote {Path.Combine(folder, Tokenizer.FileName)} and {Path.Combine(folder, TokenizerConfig.FileName)}");
            return 0;
        });
        return command;
    }
}
