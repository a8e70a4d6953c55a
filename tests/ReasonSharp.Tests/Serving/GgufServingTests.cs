using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using ReasonSharp.Data;
using ReasonSharp.Distillation;
using ReasonSharp.Export;
using ReasonSharp.Modeling;
using ReasonSharp.Serving;
using ReasonSharp.Tokenization;

namespace ReasonSharp.Tests.Serving;

/// <summary>
/// `reason serve MODEL.gguf`: a tiny dual-mode model exported to GGUF f32 and served by llama.cpp answers, through
/// the OpenAI SDK, exactly what our engine's server answers for the same folder (greedy, think and no_think, whole and
/// streamed, log-probabilities), also as a `reason distill` teacher; an unknown model is refused in OpenAI's error
/// shape.
/// </summary>
[Collection("Console")]
public class GgufServingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task GgufServerAnswersAsOurEngineDoesWithLogprobsAndRefusesUnknownModels()
    {
        using var dir = TestEnvironment.NewTempDir();
        var problems = SyntheticDataset.Generate(new ArithmeticTask(), 300, 1, seed: 4);
        var tokenizerFolder = dir.File("tokenizer");
        BpeTrainer.TrainToFolder(problems.SelectMany(p => new[] { p.Prompt, p.Completion }),
            new BpeTrainerOptions { VocabSize = 400, ChatTemplate = ChatTemplates.DualMode }, tokenizerFolder);
        var folder = dir.File("model");
        using (var created = LanguageModel.Initialize("qwen2", ModelPresets.Get("nano"), tokenizerFolder, seed: 3,
            maxPositions: 256, device: "cpu"))
        {
            // Peaked next-token distributions: float rounding cannot flip a greedy choice.
            using (TorchSharp.torch.no_grad())
                foreach (var (name, parameter) in created.Model.named_parameters())
                    if (!name.EndsWith("norm.weight", StringComparison.Ordinal)) parameter.mul_(10);
            created.Save(folder);
        }
        var gguf = dir.File("model.gguf");
        GgufExporter.ExportFolder(folder, gguf);

        using var model = LanguageModel.Load(folder, "cpu");
        var local = new ServeOptions { Host = "127.0.0.1", Port = 0 };
        await using var ours = await OpenAiServer.StartAsync(model, folder, local);
        await using var theirs = await OpenAiServer.StartAsync(
            LlamaCppBackend.Load(gguf, maxQueue: 4, maxContext: 256, f32Cache: true), gguf, local);
        Assert.Equal("model.gguf", theirs.ModelName);
        Assert.Equal(256, theirs.Backend.ContextLength);

        ChatClient Client(OpenAiServer server) => new(server.ModelName, new ApiKeyCredential("unused"),
            new OpenAIClientOptions { Endpoint = new Uri(server.Address, "/v1") });
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 30 };
        var promptTokens = new List<int>();
        foreach (var flag in new[] { ReasoningFlags.Think, ReasoningFlags.NoThink })
        {
            List<OpenAI.Chat.ChatMessage> messages =
                [new SystemChatMessage(flag), new UserChatMessage("Compute 47+25-13.")];
            ChatCompletion expected = await Client(ours).CompleteChatAsync(messages, options);
            ChatCompletion actual = await Client(theirs).CompleteChatAsync(messages, options);
            output.WriteLine($"{flag}: ours: {expected.Content[0].Text}\n{flag}: llama.cpp: {actual.Content[0].Text}");
            Assert.Equal(expected.Content[0].Text, actual.Content[0].Text);
            Assert.True(actual.Usage.OutputTokenCount > 1);
            promptTokens.Add(actual.Usage.InputTokenCount);
            Assert.Equal(expected.FinishReason, actual.FinishReason);
            Assert.Equal(expected.Usage.InputTokenCount, actual.Usage.InputTokenCount);
            Assert.Equal(expected.Usage.OutputTokenCount, actual.Usage.OutputTokenCount);

            var streamed = new StringBuilder();
            int chunks = 0;
            await foreach (var update in Client(theirs).CompleteChatStreamingAsync(messages, options))
                foreach (var part in update.ContentUpdate)
                {
                    streamed.Append(part.Text);
                    chunks++;
                }
            Assert.Equal(actual.Content[0].Text, streamed.ToString());
            if (streamed.Length > 0) Assert.True(chunks > 1 || streamed.Length < 3, $"{chunks} chunk(s)");
        }

        // The two modes are different prompts (the template reads the system flag, as in training).
        Assert.NotEqual(promptTokens[0], promptTokens[1]);

        // reasoning_content and the raw split agree too (the same HTTP layer), here through plain JSON.
        using var http = new HttpClient();
        async Task<(int Status, JsonElement Body)> Post(OpenAiServer server, object body)
        {
            using var response = await http.PostAsync(new Uri(server.Address, "/v1/chat/completions"),
                new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
        }
        var think = new
        {
            messages = new[] { new { role = "user", content = "Compute 3+4." } }, temperature = 0, max_tokens = 30,
        };
        var (okOurs, bodyOurs) = await Post(ours, think);
        var (okTheirs, bodyTheirs) = await Post(theirs, think);
        Assert.Equal((200, 200), (okOurs, okTheirs));
        Assert.Equal(bodyOurs.GetProperty("choices")[0].GetProperty("message").GetRawText(),
            bodyTheirs.GetProperty("choices")[0].GetProperty("message").GetRawText());

        // A .gguf distill teacher: our server over llama.cpp (default f16 KV cache) for the run, answering alike.
        await using (var teacher = await TeacherConnection.OpenAsync(new DistillOptions { Teacher = gguf }, null,
            null, CancellationToken.None))
        {
            Assert.Equal("model.gguf", await teacher.Client.FirstModelAsync(CancellationToken.None));
            var answer = JsonDocument.Parse(await teacher.Client.ChatAsync(JsonSerializer.Serialize(think), "test",
                CancellationToken.None)).RootElement;
            Assert.Equal(bodyOurs.GetProperty("choices")[0].GetProperty("message").GetRawText(),
                answer.GetProperty("choices")[0].GetProperty("message").GetRawText());
        }

        // logprobs: log_softmax of llama.cpp's logits, as our engine reports them (f32 GGUF, f32 KV cache). The
        // weights ×10 make logits of a few hundred, so float rounding moves a log-prob by a few thousandths.
        const double Close = 0.02;
        var withLogProbs = new
        {
            messages = new[]
            {
                new { role = "system", content = "/think" }, new { role = "user", content = "Compute 4+5." },
            },
            logprobs = true, top_logprobs = 3, max_tokens = 6, temperature = 0,
        };
        var (okLogOurs, logOurs) = await Post(ours, withLogProbs);
        var (okLogTheirs, logTheirs) = await Post(theirs, withLogProbs);
        Assert.Equal((200, 200), (okLogOurs, okLogTheirs));
        var expectedTokens = logOurs.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        var actualTokens = logTheirs.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(6, actualTokens.GetArrayLength());
        Assert.Equal(expectedTokens.GetArrayLength(), actualTokens.GetArrayLength());
        for (int t = 0; t < expectedTokens.GetArrayLength(); t++)
        {
            var (e, a) = (expectedTokens[t], actualTokens[t]);
            Assert.Equal(e.GetProperty("token").GetString(), a.GetProperty("token").GetString());
            Assert.InRange(a.GetProperty("logprob").GetDouble() - e.GetProperty("logprob").GetDouble(), -Close, Close);
            var (eTop, aTop) = (e.GetProperty("top_logprobs"), a.GetProperty("top_logprobs"));
            Assert.Equal(3, aTop.GetArrayLength());
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(eTop[k].GetProperty("token").GetString(), aTop[k].GetProperty("token").GetString());
                Assert.InRange(aTop[k].GetProperty("logprob").GetDouble() - eTop[k].GetProperty("logprob").GetDouble(),
                    -Close, Close);
            }
        }

        var (status, error) = await Post(theirs, new
        {
            model = "other", messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 2,
        });
        Assert.Equal(400, status);
        Assert.Equal("model_not_found", error.GetProperty("error").GetProperty("code").GetString());

        // n sequential choices with a seed: n answers, each a sample from the model.
        var (sampled, body) = await Post(theirs, new
        {
            messages = new[] { new { role = "user", content = "Hi" } }, n = 3, seed = 7, max_tokens = 5,
            temperature = 1.0,
        });
        Assert.Equal(200, sampled);
        Assert.Equal(3, body.GetProperty("choices").GetArrayLength());
        Assert.True(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32() is > 0 and <= 15);
    }
}
