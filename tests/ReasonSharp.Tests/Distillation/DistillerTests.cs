using System.Net;
using System.Text.Json.Nodes;
using ReasonSharp.Distillation;
using ReasonSharp.Jobs;

namespace ReasonSharp.Tests.Distillation;

/// <summary>The distill loop against <see cref="ScriptedTeacher"/>: rejection sampling stops at keep, the cache
/// makes a rerun free, an interrupted run resumes without repeating a finished request, and bad input names its
/// place.</summary>
public class DistillerTests
{
    static string Prompts(TempDir dir, int count, bool withAnswers = true)
    {
        var path = dir.File("prompts.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, count).Select(i =>
        {
            var row = new JsonObject { ["prompt"] = $"{i}+{2 * i}" };
            if (withAnswers) row["answer"] = (3 * i).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return row.ToJsonString();
        }));
        return path;
    }

    static DistillOptions Options(string dataset, string output, int concurrency = 4) => new()
    {
        Teacher = "http://teacher.test", Dataset = dataset, OutputFile = output, N = 3, Keep = 1,
        Concurrency = concurrency, BackoffSeconds = 0, MaxBackoffSeconds = 0,
    };

    static RunContext Quiet(CancellationToken token = default) =>
        new() { Name = "distill", Log = _ => { }, Cancellation = token };

    [Fact]
    public async Task KeepsVerifiedTracesStopsAtKeepAndARerunSendsNothing()
    {
        using var dir = TestEnvironment.NewTempDir();
        var options = Options(Prompts(dir, 12), dir.File("out/traces.jsonl"));
        // Sample 0 of each prompt is wrong, sample 1 right: two requests per prompt, never a third; one 429 first.
        using var teacher = new ScriptedTeacher(HttpStatusCode.TooManyRequests) { WrongFirstOf = 3 };
        var first = (DistillSummary)(await DistillJob.RunAsync(options, Quiet(), teacher)).Details!;
        Assert.Equal((12, 12, 24, 0.5), (first.Prompts, first.KeptRows, first.Completions, first.MeanPassRate));
        Assert.Equal((25, 1, 0), (first.RequestsSent, first.Retries, first.CacheHits));
        Assert.Equal(new TokenUsage(240, 168), first.Usage);
        var rows = File.ReadAllLines(options.OutputFile!).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(Enumerable.Range(0, 12), rows.Select(r => (int)r["distill"]!["prompt_index"]!));
        Assert.Equal("1+2", (string)rows[1]["prompt"]!);
        Assert.Equal("<think>\n1 plus 2 is 3.\n</think>\n<answer>\n3\n</answer>", (string)rows[1]["completion"]!);
        Assert.Equal(1, (int)rows[1]["distill"]!["sample_index"]!);
        var stats = File.ReadAllLines(dir.File("out/traces.stats.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.All(stats, s => Assert.Equal(0.5, (double)s["pass_rate"]!));

        var before = File.ReadAllText(options.OutputFile!);
        var second = (DistillSummary)(await DistillJob.RunAsync(options, Quiet(), teacher)).Details!;
        Assert.Equal((0, 24), (second.RequestsSent, second.CacheHits));
        Assert.Equal(new TokenUsage(0, 0), second.PaidUsage);
        Assert.Equal(before, File.ReadAllText(options.OutputFile!));
    }

    [Fact]
    public async Task AnInterruptedRunResumesWithoutRepeatingAFinishedRequest()
    {
        using var dir = TestEnvironment.NewTempDir();
        var options = Options(Prompts(dir, 10), dir.File("traces.jsonl"), concurrency: 1);
        using var teacher = new ScriptedTeacher { WrongFirstOf = 3 };
        using var cancel = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => DistillJob.RunAsync(options,
            Quiet(cancel.Token), teacher, o => { if (o.PromptIndex == 3) cancel.Cancel(); }));
        var sentBefore = teacher.Bodies.ToHashSet();
        Assert.Equal(8, sentBefore.Count);
        Assert.Equal(4, File.ReadAllLines(options.OutputFile!).Length);

        var resumed = (DistillSummary)(await DistillJob.RunAsync(options, Quiet(), teacher)).Details!;
        var sentAfter = teacher.Bodies.Skip(sentBefore.Count).ToList();
        Assert.Equal((12, 8), (resumed.RequestsSent, resumed.CacheHits));
        Assert.Empty(sentAfter.Intersect(sentBefore));
        var rows = File.ReadAllLines(options.OutputFile!);
        Assert.Equal(10, rows.Length);
        Assert.Equal(10, rows.Distinct().Count());
    }

    [Fact]
    public async Task BadInputNamesTheFileLineFieldAndWhatWasExpected()
    {
        using var dir = TestEnvironment.NewTempDir();
        var dataset = Prompts(dir, 2, withAnswers: false);
        using var teacher = new ScriptedTeacher();
        var error = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            DistillJob.RunAsync(Options(dataset, dir.File("t.jsonl")), Quiet(), teacher));
        Assert.Matches(@"prompts\.jsonl:1: \w+: .*; expected", error.Message);
        Assert.Empty(teacher.Bodies);

        var job = new DistillJob();
        void Invalid(DistillOptions o, string message) =>
            Assert.Equal(message, Assert.Throws<ReasonSharpException>(() => job.Validate(o)).Message);
        var good = Options(dataset, "t.jsonl");
        Invalid(good with { N = 0 }, "n: got 0; expected at least 1");
        Invalid(good with { Keep = 4 }, "keep: 4 is more than n (3); expected keep ≤ n");
        Invalid(good with { Teacher = "" },
            "teacher: missing; expected an OpenAI-compatible URL (http://host:8000/v1), a model folder or a .gguf");
        Invalid(good with { Teacher = "ftp://x" }, "teacher: 'ftp://x' is no http(s) URL; expected " +
            "http://host:port[/v1] or a model folder");
        Invalid(good with { TopP = 0 }, "top_p: got 0; expected a number in (0, 1]");
        Invalid(good with { ApiKeyEnv = " " },
            "api_key_env: empty; expected the name of an environment variable such as OPENAI_API_KEY");
        var missingKey = good with { ApiKeyEnv = "REASONSHARP_TEST_NO_SUCH_KEY" };
        var noKey = await Assert.ThrowsAsync<ReasonSharpException>(() =>
            DistillJob.RunAsync(missingKey, Quiet(), teacher));
        Assert.Equal("api_key_env: environment variable REASONSHARP_TEST_NO_SUCH_KEY is not set; expected the " +
            "teacher's API key in it", noKey.Message);
    }
}

[Collection("Console")]
public class DistillCliTests
{
    [Fact]
    public async Task TheCommandValidatesOnceAndPrintsTheBoundOptions()
    {
        var (code, output) = await CliHarness.Run("distill", "--teacher", "http://localhost:8000", "--dataset",
            "d.jsonl", "--out", "t.jsonl", "--n", "0");
        Assert.Equal(2, code);
        Assert.Contains("error: n: got 0; expected at least 1", output);

        (code, output) = await CliHarness.Run("distill", "--teacher", "http://localhost:8000/v1", "--dataset",
            "d.jsonl", "--out", "t.jsonl", "--keep", "2", "--api-key-env", "DEEPSEEK_API_KEY", "--print-config");
        Assert.Equal(0, code);
        Assert.Contains("keep: 2", output);
        Assert.Contains("n: 4", output);
        Assert.Contains("api_key_env: DEEPSEEK_API_KEY", output);
        Assert.Contains("concurrency: 16", output);
    }
}
