using System.Text;
using System.Text.Json;
using ReasonSharp.Modeling;
using ReasonSharp.Serving;
using ReasonSharp.Tokenization;
using static TorchSharp.torch;
using Message = ReasonSharp.ChatMessage;

namespace ReasonSharp.Tests.Serving;

/// <summary>
/// Where the content matters: a tiny model trained in the test to answer with a think block in think mode and
/// directly in no-think mode (dual-mode template); the server must give the reasoning and the answer apart.
/// </summary>
public class TrainedModelServingTests
{
    const string Question = "Compute 12+7.";
    const string Thinking = "12+7: 2+7=9, 1+0=1, so 19.";
    const string Answer = "The answer is 19.";

    /// <summary>Fits the two conversations (loss on the assistant tokens only) until greedy decoding repeats
    /// them.</summary>
    static LanguageModel Train(TempDir dir)
    {
        var created = TinyLanguageModels.Create(dir, seed: 3);
        var model = new LanguageModel(created.Model, created.Tokenizer, "dual-mode");
        Message[][] conversations =
        [
            [Message.FromUser(Question), Message.FromAssistant($"<think>\n{Thinking}\n</think>\n\n{Answer}")],
            [Message.FromSystem("/no_think"), Message.FromUser(Question), Message.FromAssistant(Answer)],
        ];
        var rows = conversations.Select(c => model.Chat.Encode(c, new ChatRenderOptions())).ToList();
        var network = model.Model;
        network.train();
        using var optimizer = optim.Adam(network.parameters(), lr: 3e-3);
        for (int step = 0; step < 150; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            Tensor loss = tensor(0f);
            foreach (var row in rows)
            {
                int n = row.InputIds.Length;
                var input = tensor(row.InputIds[..^1].Select(i => (long)i).ToArray(), [1, n - 1]);
                var targets = tensor(Enumerable.Range(1, n - 1)
                    .Select(i => row.AssistantMask[i] ? row.InputIds[i] : -100L).ToArray());
                var logits = network.Forward(input).view(n - 1, -1);
                loss = loss + nn.functional.cross_entropy(logits, targets, ignore_index: -100);
            }
            loss.backward();
            optimizer.step();
        }
        network.eval();
        return model;
    }

    [Fact]
    public async Task ReasoningAndAnswerComeApartInThinkModeAndTheAnswerAloneInNoThinkMode()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = Train(dir);
        await using var server = await ServerFixture.Start(model, "trained", new ServeOptions());
        using var http = new HttpClient { BaseAddress = server.Address };

        async Task<JsonElement> Ask(bool thinking, bool stream)
        {
            var body = JsonSerializer.Serialize(new
            {
                messages = new[] { new { role = "user", content = Question } },
                max_tokens = 60, temperature = 0, stream,
                chat_template_kwargs = new { enable_thinking = thinking },
            });
            using var response = await http.PostAsync("/v1/chat/completions",
                new StringContent(body, Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, text);
            if (!stream)
                return JsonDocument.Parse(text).RootElement.GetProperty("choices")[0].GetProperty("message").Clone();
            // Join the streamed deltas into one message.
            var (reasoning, content) = (new StringBuilder(), new StringBuilder());
            foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                         .Where(l => l != "data: [DONE]"))
            {
                var delta = JsonDocument.Parse(line["data: ".Length..]).RootElement.GetProperty("choices")[0]
                    .GetProperty("delta");
                if (delta.TryGetProperty("reasoning_content", out var r)) reasoning.Append(r.GetString());
                if (delta.TryGetProperty("content", out var c)) content.Append(c.GetString());
            }
            return JsonSerializer.SerializeToElement(new
            {
                content = content.ToString(), reasoning_content = reasoning.Length > 0 ? reasoning.ToString() : null,
            });
        }

        foreach (var stream in new[] { false, true })
        {
            var think = await Ask(true, stream);
            Assert.Equal(Thinking, think.GetProperty("reasoning_content").GetString());
            Assert.Equal(Answer, think.GetProperty("content").GetString());
            var direct = await Ask(false, stream);
            Assert.Equal(JsonValueKind.Null, direct.GetProperty("reasoning_content").ValueKind);
            Assert.Equal(Answer, direct.GetProperty("content").GetString());
        }
    }
}
