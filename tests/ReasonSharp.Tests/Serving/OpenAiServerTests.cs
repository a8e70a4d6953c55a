using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using ReasonSharp.Data;
using ReasonSharp.Generation;
using ReasonSharp.Serving;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;
using Message = ReasonSharp.ChatMessage;

namespace ReasonSharp.Tests.Serving;

/// <summary>`reason serve` against the official OpenAI .NET SDK, Microsoft.Extensions.AI and raw HTTP.</summary>
public class OpenAiServerTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    const string Question = "What is 12 + 7?";

    static string Json(object body) => JsonSerializer.Serialize(body);

    static object ChatBody(string question = Question, int maxTokens = 16, double temperature = 0,
        string? system = null, object? extra = null)
    {
        var messages = new List<object>();
        if (system is not null) messages.Add(new { role = "system", content = system });
        messages.Add(new { role = "user", content = question });
        var body = new Dictionary<string, object?>
        {
            ["messages"] = messages, ["max_tokens"] = maxTokens, ["temperature"] = temperature,
        };
        if (extra is not null)
            foreach (var p in JsonSerializer.SerializeToElement(extra).EnumerateObject()) body[p.Name] = p.Value;
        return body;
    }

    [Fact]
    public async Task ChatWithTheOpenAiSdkCountsTheTemplatesPromptAndFinishes()
    {
        var client = fixture.Chat();
        var completion = (await client.CompleteChatAsync([new UserChatMessage(Question)],
            new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 })).Value;
        var prompt = fixture.PromptIds(true, Message.FromUser(Question));
        Assert.Equal(prompt.Length, completion.Usage.InputTokenCount);
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 12);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount,
            completion.Usage.TotalTokenCount);
        Assert.Equal(completion.Usage.OutputTokenCount == 12 ? ChatFinishReason.Length : ChatFinishReason.Stop,
            completion.FinishReason);
        Assert.Equal(fixture.Server.ModelName, completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task GreedyOutputEqualsReasonGenerateForTheSamePrompt(bool thinking)
    {
        var (status, body, _) = await fixture.Post("/v1/chat/completions", Json(ChatBody(maxTokens: 24,
            extra: new { chat_template_kwargs = new { enable_thinking = thinking } })));
        Assert.Equal(200, status);
        var message = body.GetProperty("choices")[0].GetProperty("message");

        using var output = TestEnvironment.NewTempDir();
        var file = output.File("out.jsonl");
        string[] args = ["generate", fixture.Folder, "--prompt", Question, "--chat", "--temperature", "0",
            "--max-new-tokens", "24", "--format", ServerFixture.ChatTemplate, "--device", "cpu", "--output", file];
        var (code, text) = await CliHarness.Run(thinking ? args : [.. args, "--no-think"]);
        Assert.True(code == 0, text);
        var row = JsonDocument.Parse(File.ReadAllLines(file).Single()).RootElement;
        var expected = ReasoningTrace.Parse(row.GetProperty("completion").GetString()!);
        Assert.Equal(expected.Answer, message.GetProperty("content").GetString());
        Assert.Equal(expected.Thinking, message.GetProperty("reasoning_content").GetString() ?? "");
        Assert.Equal(row.GetProperty("completion_tokens").GetInt32(),
            body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.True(row.GetProperty("completion_tokens").GetInt32() >= 3, $"too short to compare: {row}");
    }

    [Fact]
    public async Task StreamingGivesTheSameTextAsOneResponseAndEndsWithDone()
    {
        var client = fixture.Chat();
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 20, Temperature = 0 };
        var whole = (await client.CompleteChatAsync([new UserChatMessage(Question)], options)).Value;
        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(Question)], options))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(whole.Content.Count == 0 ? "" : whole.Content[0].Text, streamed.ToString());
        Assert.Equal(whole.FinishReason, finish);

        var (events, done) = await RawStream(ChatBody(maxTokens: 20,
            extra: new { stream = true, stream_options = new { include_usage = true } }));
        Assert.True(done);
        Assert.Equal("assistant",
            events[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var usage = events[^1].GetProperty("usage");
        Assert.Equal(whole.Usage.OutputTokenCount, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(0, events[^1].GetProperty("choices").GetArrayLength());
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
    }

    /// <summary>The `data:` events of a streamed request, and whether it ended with `data: [DONE]`.</summary>
    async Task<(List<JsonElement> Events, bool Done)> RawStream(object body, string path = "/v1/chat/completions")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(Json(body), Encoding.UTF8, "application/json"),
        };
        using var response = await fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.StartsWith("data: ", l));
        var done = lines[^1] == "data: [DONE]";
        return (lines.Where(l => l != "data: [DONE]")
            .Select(l => JsonDocument.Parse(l["data: ".Length..]).RootElement.Clone()).ToList(), done);
    }

    [Fact]
    public async Task NChoicesAreIndexedAndASeedRepeatsThem()
    {
        var client = fixture.Chat();
        var body = Json(ChatBody(maxTokens: 10, temperature: 1.0, extra: new { n = 3, seed = 11 }));
        async Task<List<string>> Run()
        {
            var result = await client.CompleteChatAsync(BinaryContent.Create(BinaryData.FromString(body)));
            var json = JsonDocument.Parse(result.GetRawResponse().Content.ToString()).RootElement;
            var choices = json.GetProperty("choices").EnumerateArray().ToList();
            Assert.Equal([0, 1, 2], choices.Select(c => c.GetProperty("index").GetInt32()));
            var tokens = json.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
            Assert.InRange(tokens, 3, 30);
            return choices.Select(c => c.GetProperty("message").ToString()).ToList();
        }
        var first = await Run();
        Assert.Equal(first, await Run());
        Assert.True(first.Distinct().Count() > 1, "three samples at temperature 1 were all the same");
    }

    [Fact]
    public async Task LogProbsComeWithEveryTokenAndSortedAlternatives()
    {
        var client = fixture.Chat();
        var completion = (await client.CompleteChatAsync([new UserChatMessage(Question)], new ChatCompletionOptions
        {
            MaxOutputTokenCount = 8, Temperature = 0, IncludeLogProbabilities = true, TopLogProbabilityCount = 3,
        })).Value;
        var entries = completion.ContentTokenLogProbabilities;
        Assert.Equal(completion.Usage.OutputTokenCount, entries.Count);
        foreach (var entry in entries)
        {
            Assert.Equal(3, entry.TopLogProbabilities.Count);
            Assert.Equal(entry.Token, entry.TopLogProbabilities[0].Token);
            Assert.Equal(entry.LogProbability, entry.TopLogProbabilities[0].LogProbability, 4);
            Assert.True(entry.TopLogProbabilities[0].LogProbability >= entry.TopLogProbabilities[2].LogProbability);
            Assert.True(entry.LogProbability <= 0);
            Assert.NotNull(entry.Utf8Bytes);
        }
    }

    [Fact]
    public async Task ThinkingIsSwitchedByEnableThinkingOrTheSystemFlagAsTrainingRendersIt()
    {
        async Task<(int Prompt, string Message)> Ask(object body)
        {
            var (status, json, _) = await fixture.Post("/v1/chat/completions", Json(body));
            Assert.Equal(200, status);
            return (json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(),
                json.GetProperty("choices")[0].GetProperty("message").ToString());
        }
        var think = fixture.PromptIds(true, Message.FromUser(Question)).Length;
        var noThink = fixture.PromptIds(false, Message.FromUser(Question)).Length;
        Assert.NotEqual(think, noThink);
        var byDefault = await Ask(ChatBody());
        var byKwarg = await Ask(ChatBody(extra: new { chat_template_kwargs = new { enable_thinking = false } }));
        var byFlag = await Ask(ChatBody(system: "/no_think"));
        var flagOn = await Ask(ChatBody(system: "/think"));
        Assert.Equal(think, byDefault.Prompt);
        Assert.Equal(noThink, byKwarg.Prompt);
        Assert.Equal(byKwarg, byFlag);
        Assert.Equal(byDefault, flagOn);
        // enable_thinking wins over a system flag, as the training template's rendering does.
        Assert.Equal(byKwarg, await Ask(ChatBody(system: "/think",
            extra: new { chat_template_kwargs = new { enable_thinking = false } })));
    }

    [Fact]
    public async Task MicrosoftExtensionsAiClientChatsAndStreams()
    {
        IChatClient client = fixture.Chat().AsIChatClient();
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 16 };
        var response = await client.GetResponseAsync(Question, options);
        var streamed = new StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync(Question, options)) streamed.Append(update.Text);
        Assert.Equal(response.Text, streamed.ToString());
        Assert.Equal(fixture.PromptIds(true, Message.FromUser(Question)).Length, response.Usage!.InputTokenCount);
    }

    [Fact]
    public async Task CompletionsEndpointContinuesRawTextAsTheEngineDoes()
    {
        const string prompt = "Question: 3 + 4 =";
        var (status, body, _) = await fixture.Post("/v1/completions",
            Json(new { prompt, max_tokens = 12, temperature = 0, logprobs = 2 }));
        Assert.Equal(200, status);
        var ids = fixture.Model.Tokenizer.Encode(prompt);
        var engine = fixture.Model.Engine().Generate([ids], SamplingOptions.Greedy(12, fixture.Model.StopTokenIds))
            .Single();
        var choice = body.GetProperty("choices")[0];
        Assert.Equal(engine.CompletionText, choice.GetProperty("text").GetString());
        Assert.Equal(engine.CompletionIds.Length,
            choice.GetProperty("logprobs").GetProperty("token_logprobs").GetArrayLength());
        Assert.Equal(ids.Length, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
    }

    [Fact]
    public async Task StopStringsEndTheTextBeforeThem()
    {
        const string prompt = "Question: 3 + 4 =";
        var (_, free, _) = await fixture.Post("/v1/completions",
            Json(new { prompt, max_tokens = 16, temperature = 0, ignore_eos = true }));
        var text = free.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.True(text.Length >= 4, $"too short to cut: '{text}'");
        var stop = text.Substring(text.Length / 2, 2);
        var (_, cut, _) = await fixture.Post("/v1/completions",
            Json(new { prompt, max_tokens = 16, temperature = 0, ignore_eos = true, stop }));
        var choice = cut.GetProperty("choices")[0];
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task ConcurrentRequestsAreBatchedAndEachGetsItsOwnGreedyAnswer()
    {
        string[] questions = ["What is 1 + 1?", "What is 25 + 17 + 3?", "Add 4 and 5.", "What is 100 - 1?"];
        var alone = new List<string>();
        foreach (var q in questions)
            alone.Add((await fixture.Post("/v1/chat/completions", Json(ChatBody(q, maxTokens: 20))))
                .Body.GetProperty("choices")[0].ToString());
        var together = await Task.WhenAll(questions.Select(async q =>
            (await fixture.Post("/v1/chat/completions", Json(ChatBody(q, maxTokens: 20))))
                .Body.GetProperty("choices")[0].ToString()));
        Assert.Equal(alone, together);
        Assert.True(alone.Distinct().Count() > 1, "the answers do not depend on the question");
    }

    [Fact]
    public async Task ModelsAndHealthDescribeTheServer()
    {
        var models = JsonDocument.Parse(await fixture.Http.GetStringAsync("/v1/models")).RootElement;
        Assert.Equal(fixture.Server.ModelName, models.GetProperty("data")[0].GetProperty("id").GetString());
        Assert.Equal("model", models.GetProperty("data")[0].GetProperty("object").GetString());
        var health = JsonDocument.Parse(await fixture.Http.GetStringAsync("/health")).RootElement;
        Assert.Equal("ok", health.GetProperty("status").GetString());
    }

    static void AssertError(JsonElement body, string? param, string? code = null)
    {
        var error = body.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.Equal(param, error.GetProperty("param").GetString());
        if (code is not null) Assert.Equal(code, error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task BadRequestsGet400InOpenAisErrorShape()
    {
        var (status, body, _) = await fixture.Post("/v1/chat/completions", "{\"messages\": [");
        Assert.Equal(400, status);
        AssertError(body, null, "invalid_json");

        (status, body, _) =
            await fixture.Post("/v1/chat/completions", Json(ChatBody(extra: new { max_tokens = "ten" })));
        Assert.Equal(400, status);
        AssertError(body, "max_tokens");

        (status, body, _) = await fixture.Post("/v1/chat/completions",
            Json(new { messages = new[] { new { role = "user", content = 5 } } }));
        Assert.Equal(400, status);
        AssertError(body, "messages[0].content");

        var longQuestion = string.Join(" ", Enumerable.Repeat("What is 12 + 7?", 400));
        (status, body, _) = await fixture.Post("/v1/chat/completions", Json(ChatBody(longQuestion)));
        Assert.Equal(400, status);
        AssertError(body, "messages", "context_length_exceeded");

        (status, body, _) = await fixture.Post("/v1/chat/completions", Json(ChatBody(extra: new { stream = "yes" })));
        Assert.Equal(400, status);
        AssertError(body, "stream");
    }

    [Fact]
    public async Task AnUnknownModelGets400FromTheSdk()
    {
        var client = new ChatClient("gpt-4o", new ApiKeyCredential("unused"),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri(fixture.Server.Address, "/v1") });
        var error = await Assert.ThrowsAsync<ClientResultException>(
            () => client.CompleteChatAsync([new UserChatMessage(Question)]));
        Assert.Equal(400, error.Status);
        AssertError(JsonDocument.Parse(error.GetRawResponse()!.Content.ToString()).RootElement, "model",
            "model_not_found");
    }

    [Fact]
    public async Task ABadKeyGets401()
    {
        await using var server =
            await ServerFixture.Start(fixture.Model, fixture.Folder, new ServeOptions { ApiKey = "sekret" });
        var error = await Assert.ThrowsAsync<ClientResultException>(
            () => fixture.Chat("wrong", server).CompleteChatAsync([new UserChatMessage(Question)]));
        Assert.Equal(401, error.Status);
        var (status, body, _) = await fixture.Post("/v1/chat/completions", Json(ChatBody()), key: null, server: server);
        Assert.Equal(401, status);
        AssertError(body, null, "invalid_api_key");
        var ok = (await fixture.Chat("sekret", server).CompleteChatAsync([new UserChatMessage(Question)],
            new ChatCompletionOptions { MaxOutputTokenCount = 4 })).Value;
        Assert.Equal(server.ModelName, ok.Model);
    }

    [Fact]
    public async Task AFullQueueAnswers429WithRetryAfterAndAGoneClientIsCancelled()
    {
        await using var server = await ServerFixture.Start(fixture.Model, fixture.Folder,
            new ServeOptions { MaxBatch = 1, MaxQueue = 1 });
        using var http = new HttpClient { BaseAddress = server.Address };
        var longBody = Json(ChatBody(maxTokens: 900, extra: new { stream = true, ignore_eos = true }));
        // The first request runs ...
        using var cancelFirst = new CancellationTokenSource();
        using var firstRequest = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(longBody, Encoding.UTF8, "application/json"),
        };
        var first = await http.SendAsync(firstRequest, HttpCompletionOption.ResponseHeadersRead, cancelFirst.Token);
        var stream = await first.Content.ReadAsStreamAsync(cancelFirst.Token);
        var reader = new StreamReader(stream);
        Assert.StartsWith("data: ", await reader.ReadLineAsync(cancelFirst.Token));
        await WaitFor(http, h => h.GetProperty("running").GetInt32() == 1);
        // ... the second waits in the queue ...
        var second = fixture.Post("/v1/chat/completions", Json(ChatBody(maxTokens: 4)), server: server);
        await WaitFor(http, h => h.GetProperty("waiting").GetInt32() == 1);
        // ... and the third finds the queue full.
        var (status, body, response) =
            await fixture.Post("/v1/chat/completions", Json(ChatBody(maxTokens: 4)), server: server);
        Assert.Equal(429, status);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        AssertError(body, null, "queue_full");

        // The first client goes away: its request leaves the batch, and the queued one runs.
        cancelFirst.Cancel();
        first.Dispose();
        var (secondStatus, _, _) = await second;
        Assert.Equal(200, secondStatus);
        await WaitFor(http, h => h.GetProperty("running").GetInt32() == 0 && h.GetProperty("waiting").GetInt32() == 0);
    }

    [Fact]
    public async Task AClientThatGivesUpOnAWholeResponseIsCancelledToo()
    {
        await using var server = await ServerFixture.Start(fixture.Model, fixture.Folder, new ServeOptions());
        using var http = new HttpClient { BaseAddress = server.Address };
        using var giveUp = new CancellationTokenSource();
        var body = new StringContent(Json(ChatBody(maxTokens: 900, extra: new { ignore_eos = true })), Encoding.UTF8,
            "application/json");
        var request = http.PostAsync("/v1/chat/completions", body, giveUp.Token);
        await WaitFor(http, h => h.GetProperty("running").GetInt32() == 1);
        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        await WaitFor(http, h => h.GetProperty("running").GetInt32() == 0);
    }

    [Fact]
    public async Task StoppingTheServerEndsAStreamInFlightWithAnErrorEvent()
    {
        var server = await ServerFixture.Start(fixture.Model, fixture.Folder, new ServeOptions());
        using var http = new HttpClient { BaseAddress = server.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(Json(ChatBody(maxTokens: 900, extra: new { stream = true, ignore_eos = true })),
                Encoding.UTF8, "application/json"),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await server.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"stopping took {clock.Elapsed}");
        var rest = await reader.ReadToEndAsync();
        var lines = rest.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", lines[^1]);
        var error = JsonDocument.Parse(lines[^2]["data: ".Length..]).RootElement.GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
    }

    static async Task WaitFor(HttpClient http, Func<JsonElement, bool> condition)
    {
        for (int i = 0; i < 200; i++)
        {
            if (condition(JsonDocument.Parse(await http.GetStringAsync("/health")).RootElement)) return;
            await Task.Delay(25);
        }
        Assert.Fail("the server's /health never reached the expected state");
    }
}
