using System.ClientModel;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using ReasonSharp.Modeling;
using ReasonSharp.Serving;
using Message = ReasonSharp.ChatMessage;

namespace ReasonSharp.Tests.Serving;

/// <summary>
/// A tiny model (random weights, the test tokenizer, the dual-mode chat template) saved to a folder, and a
/// `reason serve` server over it on a free loopback port.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string ChatTemplate = "dual-mode";
    readonly TempDir dir = TestEnvironment.NewTempDir();

    public string Folder => dir.File("model");
    public LanguageModel Model { get; private set; } = null!;
    public OpenAiServer Server { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using (var created = TinyLanguageModels.Create(dir))
        {
            // Wider weights (as initializer_range 0.2): peaked next-token distributions, so that float rounding in a
            // batch of rows of different lengths cannot flip a greedy choice between near-equal logits.
            using (TorchSharp.torch.no_grad())
                foreach (var (name, parameter) in created.Model.named_parameters())
                    if (!name.EndsWith("norm.weight", StringComparison.Ordinal)) parameter.mul_(10);
            created.Save(Folder);
        }
        Model = LanguageModel.Load(Folder, "cpu", ChatTemplate);
        Server = await Start(Model, Folder, new ServeOptions { Port = 0, MaxBatch = 8 });
        Http = new HttpClient { BaseAddress = Server.Address };
    }

    public static Task<OpenAiServer> Start(LanguageModel model, string folder, ServeOptions options) =>
        OpenAiServer.StartAsync(model, folder, options with { Host = "127.0.0.1", Port = 0 });

    public ChatClient Chat(string? key = null, OpenAiServer? server = null) =>
        new((server ?? Server).ModelName, new ApiKeyCredential(key ?? "unused"),
            new OpenAIClientOptions { Endpoint = new Uri((server ?? Server).Address, "/v1") });

    /// <summary>POSTs a JSON body (as text, so that malformed bodies can be sent) and parses the answer.</summary>
    public async Task<(int Status, JsonElement Body, HttpResponseMessage Response)> Post(string path, string json,
        string? key = null, OpenAiServer? server = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri((server ?? Server).Address, path))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    /// <summary>The server's prompt for messages, rendered the way `reason generate --chat` and training render
    /// it.</summary>
    public int[] PromptIds(bool thinking, params Message[] messages) => Model.EncodePrompt(messages, thinking);

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Model.Dispose();
        dir.Dispose();
    }
}
