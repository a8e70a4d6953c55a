using ReasonSharp.Generation;
using ReasonSharp.Serving;

namespace ReasonSharp.Tests.Serving;

public class RequestQueueTests
{
    static InferenceRequest Request() => new()
    {
        ChoicePrompts = [[1, 2]],
        ThinkingOpen = [false],
        Sampling = [new SamplingOptions()],
    };

    static async Task<int?> StatusOf(InferenceRequest request)
    {
        try
        {
            await foreach (var _ in request.Updates.Reader.ReadAllAsync()) { }
            return null;
        }
        catch (OpenAiError e) { return e.Status; }
    }

    [Fact]
    public async Task RefusesBeyondMaxQueueAndAnswersWhatIsLeftWith503OnStop()
    {
        var queue = new RequestQueue(maxQueue: 2);
        // A worker busy with something else until the server stops.
        queue.Start(() => queue.StoppingToken.WaitHandle.WaitOne(), "test worker");
        var first = Request();
        var second = Request();
        Assert.True(queue.TrySubmit(first));
        Assert.True(queue.TrySubmit(second));
        Assert.False(queue.TrySubmit(Request()));
        Assert.Equal(2, queue.Waiting);

        queue.Stop();
        Assert.Equal(503, await StatusOf(first));
        Assert.Equal(503, await StatusOf(second));
        Assert.Equal(0, queue.Waiting);
        Assert.Equal(503, Assert.Throws<OpenAiError>(() => queue.TrySubmit(Request())).Status);
    }

    [Fact]
    public void TakingFreesARoomInTheQueue()
    {
        var queue = new RequestQueue(maxQueue: 1);
        Assert.True(queue.TrySubmit(Request()));
        Assert.False(queue.TrySubmit(Request()));
        Assert.True(queue.TryTake(out _));
        Assert.True(queue.TrySubmit(Request()));
        Assert.Throws<ReasonSharpException>(() => new RequestQueue(maxQueue: 0));
    }
}
