using ReasonSharp.Modeling;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Modeling;

public class DecodeKernelTests
{
    [Theory]
    [InlineData(1, 8, 4)]
    [InlineData(2, 32, 7)]
    [InlineData(3, 64, 13)]
    [InlineData(5, 512, 130)]
    [InlineData(64, 96, 33)]
    public void MatchesLibtorchLinearWithAndWithoutBias(int rows, int inFeatures, int outFeatures)
    {
        using var _ = no_grad();
        using var generator = new TorchSharp.torch.Generator(5);
        using var x = randn([rows, inFeatures], generator: generator);
        using var w1 = randn([outFeatures, inFeatures], generator: generator);
        using var w2 = randn([outFeatures + 3, inFeatures], generator: generator);
        using var b1 = randn([outFeatures], generator: generator);
        using var fused = DecodeKernels.Linear(x, (w1, b1), (w2, null));
        Assert.NotNull(fused);
        Assert.Equal([rows, 2L * outFeatures + 3], fused.shape);
        using var expected = cat([nn.functional.linear(x, w1, b1), nn.functional.linear(x, w2)], -1);
        float scale = expected.abs().max().item<float>();
        Assert.True((fused - expected).abs().max().item<float>() <= 1e-5f * scale);
    }

    [Fact]
    public void ARowGetsTheSameBitsWhateverTheBatchAndThreadCount()
    {
        using var _ = no_grad();
        using var generator = new TorchSharp.torch.Generator(9);
        using var x = randn([7, 1, 256], generator: generator);
        using var w = randn([1030, 256], generator: generator);
        int threads = get_num_threads();
        try
        {
            set_num_threads(1);
            using var alone = DecodeKernels.Linear(x.narrow(0, 3, 1), (w, null))!;
            set_num_threads(2);
            using var batched = DecodeKernels.Linear(x, (w, null))!;
            Assert.Equal([7L, 1, 1030], batched.shape);
            Assert.True(batched.narrow(0, 3, 1).eq(alone).all().item<bool>());
        }
        finally { set_num_threads(threads); }
    }

    [Fact]
    public void RmsNormMatchesTheAutogradComputation()
    {
        using var generator = new TorchSharp.torch.Generator(3);
        using var norm = new RmsNorm(48, 1e-6);
        using var x = randn([5, 2, 48], generator: generator) * 3;
        using (no_grad()) norm.Weight.normal_(1, 0.3, generator);
        using var expected = norm.Forward(x);
        using var _ = no_grad();
        using var fast = DecodeKernels.RmsNorm(x, norm.Weight, 1e-6);
        Assert.NotNull(fast);
        Assert.True((fast - expected.detach()).abs().max().item<float>() <= 1e-5f);
    }

    [Theory]
    [InlineData(3, 8, 2, 16, 37, 40)]
    [InlineData(2, 4, 4, 64, 5, 9)]
    [InlineData(1, 6, 2, 8, 70, 70)]
    public void AttentionOfOneQueryMatchesSdpaOverTheRepeatedCache(int batch, int heads, int kvHeads, int dim, int length, int capacity)
    {
        using var _ = no_grad();
        using var generator = new TorchSharp.torch.Generator(11);
        using var q = randn([batch, heads, 1, dim], generator: generator);
        using var keys = randn([batch, kvHeads, capacity, dim], generator: generator);
        using var values = randn([batch, kvHeads, capacity, dim], generator: generator);
        using var mask = rand([batch, 1, 1, length], generator: generator).gt(0.3);
        mask.narrow(3, length - 1, 1).fill_(true);
        using var k = keys.narrow(2, 0, length).repeat_interleave(heads / kvHeads, dim: 1);
        using var v = values.narrow(2, 0, length).repeat_interleave(heads / kvHeads, dim: 1);
        foreach (var m in new[] { mask, null })
        {
            using var expected = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: m).transpose(1, 2).reshape(batch, 1, heads * dim);
            using var fast = DecodeKernels.Attention(q, keys, values, length, m);
            Assert.NotNull(fast);
            Assert.True((fast - expected).abs().max().item<float>() <= 1e-5f);
        }
    }

    [Fact]
    public void DeclinesWhereLibtorchMustRun()
    {
        using var w = ones(16, 8);
        using (no_grad())
        {
            using var tooMany = ones(DecodeKernels.MaxRows + 1, 8);
            Assert.Null(DecodeKernels.Linear(tooMany, (w, null)));
            using var odd = ones(2, 6);
            using var oddWeight = ones(16, 6);
            Assert.Null(DecodeKernels.Linear(odd, (oddWeight, null)));
            using var doubles = ones([2, 8], float64);
            Assert.Null(DecodeKernels.Linear(doubles, (w, null)));
        }
        using var withGrad = ones(2, 8);
        Assert.Null(DecodeKernels.Linear(withGrad, (w, null)));
    }

    [Theory]
    [MemberData(nameof(TinyModels.Architectures), MemberType = typeof(TinyModels))]
    public void InferenceForwardMatchesTheAutogradForward(string arch, bool tied)
    {
        using var model = TinyModels.Create(arch, tied);
        using var ids = tensor(new long[] { 3, 14, 15, 92, 65, 35 }, [1, 6]);
        using var withGrad = model.Forward(ids);
        using var _ = no_grad();
        using var inference = model.Forward(ids);
        Assert.True((withGrad.detach() - inference).abs().max().item<float>() <= 1e-5f);
    }

    [Fact]
    public void TrainingModeKeepsLibtorchNumericsWithoutAutogradToo()
    {
        using var model = TinyModels.Create("qwen3");
        model.train();
        using var ids = tensor(new long[] { 3, 14, 15, 92 }, [1, 4]);
        using var withGrad = model.Forward(ids);
        using var _ = no_grad();
        using var withoutGrad = model.Forward(ids);
        Assert.True(withGrad.detach().eq(withoutGrad).all().item<bool>());
    }
    [Theory]
    [MemberData(nameof(TinyModels.Architectures), MemberType = typeof(TinyModels))]
    public void DecodingStepByStepThroughTheCacheMatchesTheWholeSequence(string arch, bool tied)
    {
        using var model = TinyModels.Create(arch, tied, kvHeads: 2);
        long[] ids = [3, 14, 15, 92, 65, 35, 89, 79];
        const int prompt = 5;
        using var whole = model.Forward(tensor(ids, [1, ids.Length])).detach();
        using var _ = no_grad();
        using var cache = model.NewCache(1, ids.Length);
        using var prefill = model.Forward(tensor(ids[..prompt], [1, prompt]), cache: cache);
        for (int t = prompt; t < ids.Length; t++)
        {
            using var step = model.Forward(tensor(new[] { ids[t] }, [1, 1]), tensor(new long[] { t }, [1, 1]),
                cache: cache);
            float difference = (step[0, 0] - whole[0, t]).abs().max().item<float>();
            Assert.True(difference <= 1e-5f, $"{arch} position {t}: logits differ by {difference}");
        }
    }

    [Fact]
    public void SiluTimesUpMatchesLibtorch()
    {
        using var _ = no_grad();
        using var gateUp = randn(3, 2, 2 * 37) * 4;
        using var fast = DecodeKernels.SiluTimesUp(gateUp);
        Assert.NotNull(fast);
        using var expected = nn.functional.silu(gateUp[.., .., ..37]) * gateUp[.., .., 37..];
        Assert.True((fast! - expected).abs().max().item<float>() <= 1e-5f);
    }
    [Fact]
    public void GreedyPicksTheFirstLargestLogitWithItsLogProbability()
    {
        using var logits = randn(3, 1005) * 5;
        logits[1, 7] = logits[1].max() + 1;
        logits[1, 900] = logits[1, 7].clone();
        var (ids, logProbs) = DecodeKernels.Greedy(logits)!.Value;
        using var expected = logits.argmax(-1);
        using var expectedLogProbs = logits.log_softmax(-1).gather(-1, expected.unsqueeze(-1)).squeeze(-1);
        Assert.Equal(expected.data<long>().ToArray(), ids);
        Assert.Equal(7, ids[1]);
        for (int r = 0; r < 3; r++) Assert.Equal(expectedLogProbs[r].item<float>(), logProbs[r], 1e-5f);
    }
}
