using System.Text.Json;
using ReasonSharp.Data;

namespace ReasonSharp.Tests.Data;

public class SchemaTests
{
    [SkippableFact]
    public void Gsm8k_question_answer_rows_give_the_gold_after_hashes_and_keep_the_worked_solution()
    {
        var path = TestEnvironment.SharedFile("data/gsm8k/test.jsonl");
        var converter = new ExampleConverter();
        var examples =
            DatasetReader.ReadRowExamples(new DatasetSource(path), converter).Select(p => p.Example).ToList();

        Assert.Equal(SchemaKind.QuestionAnswer, converter.Kind);
        Assert.Equal(1319, examples.Count);
        var first = examples[0];
        Assert.StartsWith("Janet’s ducks lay 16 eggs per day.", first.Messages[0].Content);
        Assert.Equal(ChatMessage.User, first.Messages[0].Role);
        Assert.Equal("18", first.GoldAnswer);
        Assert.EndsWith("#### 18", first.Completion);
        Assert.Equal($"{path}:1", first.Source);
        Assert.Empty(first.Extra); // question and answer both became messages; the gold is GoldAnswer
        Assert.All(examples, e => Assert.Matches(@"^-?[\d,]+(\.\d+)?$", e.GoldAnswer!));

        // As a DeepSeek-R1 trace: the worked solution is the thinking, the gold is the answer.
        var styled =
            DatasetReader.ReadExamples(path, new SchemaMapping { SolutionStyle = TraceStyle.DeepSeekR1 }).First();
        Assert.StartsWith("<think>\nJanet sells 16 - 3 - 4", styled.Completion);
        Assert.EndsWith("\n</think>\n\n18", styled.Completion);

        // Prompt-only view for GRPO.
        Assert.Equal([first.Messages[0]], first.Prompt);
    }

    [Fact]
    public void ShareGpt_conversations_with_a_system_column_as_Bespoke_and_OpenThoughts_ship_them()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("bespoke.jsonl");
        DataFiles.WriteJsonl(path, DataFiles.BespokeRows(3).Select(r => JsonSerializer.Serialize(r)).ToArray());
        var examples = DatasetReader.ReadExamples(path).ToList();

        Assert.Equal(3, examples.Count);
        var e = examples[2];
        Assert.Equal([ChatMessage.System, ChatMessage.User, ChatMessage.Assistant], e.Messages.Select(m => m.Role));
        Assert.Equal(DataFiles.BespokeSystem, e.Messages[0].Content);
        Assert.Empty(e.Extra); // system and conversations both became messages
        var trace = ReasoningTrace.Parse(e.Completion!, out var style);
        Assert.Equal(TraceStyle.OpenThoughts, style);
        Assert.Equal(("Adding 2 to itself doubles it, so the sum is 4.", "\\boxed{4}"), (trace.Thinking, trace.Answer));
    }

    [Fact]
    public void Classic_ShareGpt_human_gpt_roles_are_normalised()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("sharegpt.json");
        File.WriteAllText(path, """
            [
              {"id": "a1", "conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]},
              {"id": "a2", "conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}, {"from": "human", "value": "3+3?"}, {"from": "gpt", "value": "6"}]}
            ]
            """);
        var examples = DatasetReader.ReadExamples(path).ToList();
        Assert.Equal(["system", "user", "assistant"], examples[0].Messages.Select(m => m.Role));
        Assert.Equal(4, examples[1].Messages.Count);
        Assert.Equal("6", examples[1].Completion);
        Assert.Equal([ChatMessage.FromUser("2+2?"), ChatMessage.FromAssistant("4"), ChatMessage.FromUser("3+3?")],
            examples[1].Prompt);
        Assert.Equal("a2", examples[1].Extra["id"].GetString());
        Assert.Equal($"{path} item 2", examples[1].Source);
    }

    [Fact]
    public void Messages_rows_including_text_parts_and_a_gold_column()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("messages.jsonl");
        DataFiles.WriteJsonl(path,
            """{"messages": [{"role": "user", "content": "What is 6*7?"}, {"role": "assistant", "content": "<think>\n6*7=42\n</think>\n\n42"}], "answer": "42"}""",
            """{"messages": [{"role": "user", "content": [{"type": "text", "text": "Solve "}, {"type": "text", "text": "x+1=3"}]}], "solution": "So $x = \\boxed{2}$."}""");
        var converter = new ExampleConverter();
        var rows = DatasetReader.ReadRows(path).ToList();
        var first = converter.Convert(rows[0]);
        Assert.Equal(SchemaKind.Messages, converter.Kind);
        Assert.Equal("42", first.GoldAnswer);
        Assert.Equal("42", ReasoningTrace.Parse(first.Completion!).Answer);

        // The gold column is fixed by the first row, so a row that lacks it is an error naming the column.
        var e = Assert.Throws<ReasonSharpException>(() => converter.Convert(rows[1]));
        Assert.Contains(":2: missing column 'answer'", e.Message);

        // The second row alone: text parts joined, gold from the solution's \boxed{}.
        var second = new ExampleConverter().Convert(rows[1]);
        Assert.Equal("Solve x+1=3", second.Messages[0].Content);
        Assert.Equal("2", second.GoldAnswer);
        Assert.False(second.HasAssistantTurn);
        Assert.Null(second.Completion);
    }

    [Fact]
    public void Prompt_completion_in_standard_and_conversational_forms_as_TRL_accepts()
    {
        using var dir = TestEnvironment.NewTempDir();
        var standard = dir.File("standard.jsonl");
        DataFiles.WriteJsonl(standard, """{"prompt": "The sky is", "completion": " blue."}""");
        var conversational = dir.File("conversational.jsonl");
        DataFiles.WriteJsonl(conversational,
            """{"prompt": [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Sky colour?"}], "completion": [{"role": "assistant", "content": "Blue."}]}""");
        var promptOnly = dir.File("prompt-only.jsonl");
        DataFiles.WriteJsonl(promptOnly, """{"prompt": "Make 24 from 4, 6, 1, 1.", "target": 24, "nums": [4, 6, 1, 1]}""");

        Assert.Equal([ChatMessage.FromUser("The sky is"), ChatMessage.FromAssistant(" blue.")],
            DatasetReader.ReadExamples(standard).Single().Messages);
        var c = DatasetReader.ReadExamples(conversational).Single();
        Assert.Equal(["system", "user", "assistant"], c.Messages.Select(m => m.Role));
        var p = DatasetReader.ReadExamples(promptOnly, new SchemaMapping { SystemPrompt = "Think first." }).Single();
        Assert.Equal([ChatMessage.FromSystem("Think first."), ChatMessage.FromUser("Make 24 from 4, 6, 1, 1.")],
            p.Messages);
        Assert.Equal([4, 6, 1, 1], p.Extra["nums"].EnumerateArray().Select(n => n.GetInt32()));
        Assert.Null(p.GoldAnswer);
    }

    [Fact]
    public void Math_problem_solution_gold_is_the_last_boxed_with_nested_braces()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("math.jsonl");
        DataFiles.WriteJsonl(path,
            """{"problem": "Compute $\\frac{1}{2}+\\frac{1}{3}$.", "solution": "Common denominator: $\\boxed{6}$ first, then $\\frac{3}{6}+\\frac{2}{6} = \\boxed{\\frac{5}{6}}$.", "level": "Level 2", "type": "Algebra"}""");
        var e = DatasetReader.ReadExamples(path).Single();
        Assert.Equal("\\frac{5}{6}", e.GoldAnswer);
        Assert.Equal("Level 2", e.Extra["level"].GetString());
        Assert.Equal(2, e.Messages.Count);

        var mapped =
            DatasetReader.ReadExamples(path,
            new SchemaMapping { Kind = SchemaKind.ProblemSolution, SolutionStyle = TraceStyle.ThinkAnswer }).Single();
        Assert.EndsWith("</think>\n<answer>\n\\frac{5}{6}\n</answer>", mapped.Completion);
    }

    [Fact]
    public void A_mapping_renames_columns_for_unrecognised_layouts()
    {
        using var dir = TestEnvironment.NewTempDir();
        var path = dir.File("custom.jsonl");
        DataFiles.WriteJsonl(path, """{"instruction": "Add 2 and 3.", "output": "5", "expected": 5}""");
        var e = Assert.Throws<ReasonSharpException>(() => DatasetReader.ReadExamples(path).ToList());
        Assert.Contains("cannot recognise the schema from columns [instruction, output, expected]", e.Message);

        var mapping = new SchemaMapping { Kind = SchemaKind.PromptCompletion, PromptColumn = "instruction", CompletionColumn = "output", GoldColumn = "expected" };
        var example = DatasetReader.ReadExamples(path, mapping).Single();
        Assert.Equal([ChatMessage.FromUser("Add 2 and 3."), ChatMessage.FromAssistant("5")], example.Messages);
        Assert.Equal("5", example.GoldAnswer);
    }

    [Fact]
    public void Parquet_files_with_nested_conversations_read_like_their_jsonl_form()
    {
        using var dir = TestEnvironment.NewTempDir();
        var parquet = dir.File("bespoke.parquet");
        DataFiles.WriteParquet(parquet, DataFiles.BespokeRows(4));
        var jsonl = dir.File("bespoke.jsonl");
        DataFiles.WriteJsonl(jsonl, DataFiles.BespokeRows(4).Select(r => JsonSerializer.Serialize(r)).ToArray());

        var fromParquet = DatasetReader.ReadExamples(parquet).ToList();
        Assert.Equal(DatasetReader.ReadExamples(jsonl).Select(e => e.Messages), fromParquet.Select(e => e.Messages),
            new MessagesComparer());
        Assert.Equal($"{parquet} row 4", fromParquet[3].Source);

        var countdown = dir.File("countdown.parquet");
        DataFiles.WriteParquet(countdown,
            [new DataFiles.CountdownRow { Prompt = "Make 10 from 2, 5.", Target = 10, Nums = [2, 5] }]);
        var row = DatasetReader.ReadExamples(countdown).Single();
        Assert.Equal(10, row.Extra["target"].GetInt32());
        Assert.Equal([2, 5], row.Extra["nums"].EnumerateArray().Select(n => n.GetInt32()));
    }

    [Fact]
    public void Hugging_Face_folder_layout_with_sharded_splits_and_configurations()
    {
        using var dir = TestEnvironment.NewTempDir();
        var root = Path.Combine(dir.Path, "bespoke-stratos");
        DataFiles.WriteParquet(Path.Combine(root, "data", "train-00000-of-00002.parquet"), DataFiles.BespokeRows(3));
        DataFiles.WriteParquet(Path.Combine(root, "data", "train-00001-of-00002.parquet"),
            DataFiles.BespokeRows(2, offset: 3));
        DataFiles.WriteParquet(Path.Combine(root, "data", "test-00000-of-00001.parquet"),
            DataFiles.BespokeRows(1, offset: 100));
        File.WriteAllText(Path.Combine(root, "README.md"), "---\nlicense: apache-2.0\n---\n");
        File.WriteAllText(Path.Combine(root, "dataset_info.json"), "{}");

        var folder = HfDatasetFolder.Open(root);
        Assert.Equal(["test", "train"], folder.Splits.Keys.Order());
        var train = DatasetReader.ReadExamples(root).ToList();
        Assert.Equal(5, train.Count);
        Assert.Equal("What is 4 + 4?", train[4].Messages[1].Content[^14..]);
        Assert.EndsWith("train-00001-of-00002.parquet row 2", train[4].Source);
        var test = DatasetReader.ReadExamples(new DatasetSource(root) { Split = "test" }).Single();
        Assert.Contains("100 + 100", test.Messages[1].Content);
        var e = Assert.Throws<ReasonSharpException>(() =>
            DatasetReader.ReadRows(new DatasetSource(root) { Split = "validation" }).ToList());
        Assert.Contains("split 'validation' not found; splits present: test, train", e.Message);

        // gsm8k's Hub layout: one folder per configuration, here with .jsonl shards.
        var gsm = Path.Combine(dir.Path, "gsm8k");
        Directory.CreateDirectory(Path.Combine(gsm, "main"));
        Directory.CreateDirectory(Path.Combine(gsm, "socratic"));
        DataFiles.WriteJsonl(Path.Combine(gsm, "main", "train-00000-of-00001.jsonl"), """{"question": "1+1?", "answer": "1+1=2\n#### 2"}""");
        DataFiles.WriteJsonl(Path.Combine(gsm, "socratic", "train-00000-of-00001.jsonl"), """{"question": "1+1?", "answer": "What is 1+1? ** 1+1=2\n#### 2"}""");
        var noConfig = Assert.Throws<ReasonSharpException>(() => HfDatasetFolder.Open(gsm));
        Assert.Contains("configurations: main, socratic", noConfig.Message);
        var main = DatasetReader.ReadExamples(new DatasetSource(gsm) { Config = "main" }).Single();
        Assert.Equal("2", main.GoldAnswer);
    }

    sealed class MessagesComparer : IEqualityComparer<IReadOnlyList<ChatMessage>>
    {
        public bool Equals(IReadOnlyList<ChatMessage>? x, IReadOnlyList<ChatMessage>? y) => x!.SequenceEqual(y!);
        public int GetHashCode(IReadOnlyList<ChatMessage> obj) => obj.Count;
    }
}
