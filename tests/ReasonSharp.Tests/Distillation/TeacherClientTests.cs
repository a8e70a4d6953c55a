using System.Net;
using System.Text;
using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Distillation;

namespace ReasonSharp.Tests.Distillation;

/// <summary>A tiny OpenAI-compatible teacher in a message handler: scripted failures first, then chat completions
/// that answer "&lt;think&gt;a+b&lt;/think&gt; &lt;answer&gt;sum&lt;/answer&gt;" for "a+b" prompts.</summary>
public sealed class ScriptedTeacher(params HttpStatusCode[] failures) : HttpMessageHandler
{
    readonly Queue<HttpStatusCode> _failures = new(failures);
    public List<string> Bodies { get; } = [];
    /// <summary>Answers wrong for the first sample of every prompt (seed % n == 0) when set.</summary>
    public int WrongFirstOf { get; init; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken token)
    {
        if (request.Method == HttpMethod.Get)
            return Json(HttpStatusCode.OK, """{"object":"list","data":[{"id":"scripted","object":"model"}]}""");
        var body = await request.Content!.ReadAsStringAsync(token);
        lock (Bodies) Bodies.Add(body);
        lock (_failures)
        {
            if (_failures.TryDequeue(out var status))
            {
                var failed = Json(status, """{"error":{"message":"busy","type":"rate_limit"}}""");
                if (status == HttpStatusCode.TooManyRequests) failed.Headers.Add("Retry-After", "3");
                return failed;
            }
        }
        var root = JsonDocument.Parse(body).RootElement;
        var messages = root.GetProperty("messages");
        var question = messages[messages.GetArrayLength() - 1].GetProperty("content").GetString()!;
        var parts = question.TrimEnd('?').Split('+');
        long sum = long.Parse(parts[0]) + long.Parse(parts[1]);
        if (WrongFirstOf > 0 && root.GetProperty("seed").GetInt64() % WrongFirstOf == 0) sum++;
        var reply = new
        {
            id = "x", @object = "chat.completion", model = "scripted",
            choices = new[]
            {
                new
                {
                    index = 0, finish_reason = "stop",
                    message = new { role = "assistant", content = $"<answer>{sum}</answer>", reasoning_content =
                        $"{parts[0]} plus {parts[1]} is {sum}." },
                },
            },
            usage = new { prompt_tokens = 10, completion_tokens = 7, total_tokens = 17 },
        };
        return Json(HttpStatusCode.OK, JsonSerializer.Serialize(reply));
    }

    static HttpResponseMessage Json(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
}

public class TeacherClientTests
{
    const string Request = """{"model":"scripted","messages":[{"role":"user","content":"2+3"}]}""";

    [Fact]
    public async Task RetriesA429HonouringRetryAfterThenA500WithExponentialBackoff()
    {
        using var handler = new ScriptedTeacher(HttpStatusCode.TooManyRequests, HttpStatusCode.InternalServerError,
            HttpStatusCode.BadGateway);
        var waits = new List<TimeSpan>();
        using var client = new TeacherClient("http://teacher.test", null, new RetryPolicy(5, 0.5, 60), handler)
        {
            Delay = (wait, _) => { waits.Add(wait); return Task.CompletedTask; },
        };
        var body = await client.ChatAsync(Request, "test", CancellationToken.None);
        Assert.Equal("5", TeacherReply.Parse(body, "test").Trace.Split('\n')[^2]);
        // Retry-After: 3 s, then 0.5 × 2 and 0.5 × 4 seconds.
        Assert.Equal([TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)], waits);
        Assert.Equal(4, client.Attempts);
        Assert.Equal(3, client.Retries);
        Assert.Equal(new Uri("http://teacher.test/v1/"), client.BaseAddress);
    }

    [Fact]
    public async Task GivesUpAfterMaxRetriesAndDoesNotRetryA400()
    {
        using var busy = new ScriptedTeacher(Enumerable.Repeat(HttpStatusCode.ServiceUnavailable, 5).ToArray());
        using var client = new TeacherClient("http://teacher.test/v1", null, new RetryPolicy(2, 0, 0), busy);
        var error = await Assert.ThrowsAsync<TeacherException>(() => client.ChatAsync(Request, "p1", default));
        Assert.Contains("HTTP 503 busy; gave up after 3 attempts (max_retries 2)", error.Message);
        Assert.Equal(3, busy.Bodies.Count);

        using var bad = new ScriptedTeacher(HttpStatusCode.BadRequest);
        using var once = new TeacherClient("http://teacher.test/v1", null, new RetryPolicy(5, 0, 0), bad);
        var refused = await Assert.ThrowsAsync<TeacherException>(() => once.ChatAsync(Request, "p2", default));
        Assert.Equal(400, refused.Status);
        Assert.Single(bad.Bodies);
    }

    [Fact]
    public async Task ATimeOutIsRetried()
    {
        var calls = 0;
        using var handler = new DelegatingStub(async (request, token) =>
        {
            if (Interlocked.Increment(ref calls) == 1) await Task.Delay(TimeSpan.FromSeconds(30), token);
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{}") };
        });
        using var client = new TeacherClient("http://teacher.test", null, new RetryPolicy(1, 0, 0, TimeoutSeconds: 0.2),
            handler);
        Assert.Equal("{}", await client.ChatAsync(Request, "slow", default));
        Assert.Equal(2, calls);
    }

    sealed class DelegatingStub(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> send)
        : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken token) =>
            send(request, token);
    }
}

public class TeacherReplyTests
{
    [Theory]
    // reasoning_content (vLLM, DeepSeek, reason serve)
    [InlineData("The answer is 4.", "2+2 is 4.", "2+2 is 4.", "The answer is 4.")]
    // a think block in the content (llama-server without a reasoning parser, Ollama)
    [InlineData("<think>\n2+2 is 4.\n</think>\n\nThe answer is 4.", null, "2+2 is 4.", "The answer is 4.")]
    // the template prefilled <think>: only the closing tag is in the content
    [InlineData("2+2 is 4.\n</think>\n<answer>4</answer>", null, "2+2 is 4.", "<answer>4</answer>")]
    // no reasoning at all
    [InlineData("4", null, "", "4")]
    // cut off inside the thinking: no answer
    [InlineData("<think>2+2 is", null, "2+2 is", "")]
    // both: a stray think block in the content joins the reasoning
    [InlineData("<think>check</think>4", "add", "add\n\ncheck", "4")]
    public void SplitsReasoningFromTheAnswer(string content, string? reasoning, string thinking, string answer)
    {
        var (t, a) = TeacherReply.Split(content, reasoning);
        Assert.Equal(thinking, t);
        Assert.Equal(answer, a);
    }

    [Fact]
    public void TheTraceIsTheProjectsThinkAnswerFormat()
    {
        var json = """
            {"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant",
             "content":"<think>\n7 and 5 make 12.\n</think>\n\n<answer>\n12\n</answer>"}}],
             "usage":{"prompt_tokens":20,"completion_tokens":9}}
            """;
        var reply = TeacherReply.Parse(json, "test");
        Assert.Equal("<think>\n7 and 5 make 12.\n</think>\n<answer>\n12\n</answer>", reply.Trace);
        Assert.Equal(new ReasoningTrace("7 and 5 make 12.", "12"), ReasoningTrace.Parse(reply.Trace));
        Assert.Equal(new TokenUsage(20, 9), reply.Usage);
        Assert.Equal(0.000029, reply.Usage.Cost(1.0, 1.0)!.Value, 9);
        Assert.Null(reply.Usage.Cost(null, null));
        var error = Assert.Throws<ReasonSharpException>(() => TeacherReply.Parse("""{"choices":[]}""", "p.jsonl:3"));
        Assert.StartsWith("p.jsonl:3: response: no choices; expected", error.Message);
    }
}
