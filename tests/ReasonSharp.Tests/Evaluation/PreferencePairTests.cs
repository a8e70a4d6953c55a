using ReasonSharp.Configuration;
using ReasonSharp.Evaluation;
using ReasonSharp.Generation;
using static ReasonSharp.Tests.Evaluation.HandBuiltRollouts;

namespace ReasonSharp.Tests.Evaluation;

/// <summary>Preference pairs from one prompt's hand-built samples: which verified completion meets which failed
/// one.</summary>
public class PreferencePairTests
{
    // One prompt, seven samples; verified (reward ≥ 1): s0 (2 tokens), s2 (6), s4 (3).
    // Failed: s1 (2 tokens), s3 (5), s5 (4, reward 0.5: below the threshold), s6 (5, ties s3).
    static List<Rollout> Rollouts()
    {
        var e = Example("4");
        return
        [
            Rollout(e, 0, 0, [AnswerIs, Four], 1f),
            Rollout(e, 0, 1, [AnswerIs, Five], 0f),
            Rollout(e, 0, 2, [Think, Step, Step, EndThink, AnswerIs, Four], 1f),
            Rollout(e, 0, 3, [Think, Step, EndThink, AnswerIs, Seven], 0f),
            Rollout(e, 0, 4, [AnswerIs, Space, Four], 1f),
            Rollout(e, 0, 5, [Think, EndThink, AnswerIs, Seven], 0.5f),
            Rollout(e, 0, 6, [X, X, X, X, Five], 0f),
        ];
    }

    static RejectionSamplingOptions Pairs(int max = 1, PairSelection selection = PairSelection.ShortestLongest,
        long seed = 0) =>
        new() { Pairs = true, MaxPairsPerPrompt = max, PairSelection = selection, Seed = seed };

    static List<(int Chosen, int Rejected)> Indices(PromptOutcome outcome) =>
        outcome.Pairs.Select(p => (p.Chosen.Rollout.SampleIndex, p.Rejected.Rollout.SampleIndex)).ToList();

    [Fact]
    public void ShortestVerifiedMeetsLongestFailedThenTheNextOnes()
    {
        var outcome = RejectionSampler.Decide(3, Rollouts(), "", Pairs(max: 3));
        Assert.Equal(PromptStatus.Kept, outcome.Status);
        // verified by length: s0 2, s4 3, s2 6; failed longest first: s3 5, s6 5 (sample order breaks the tie), s5 4
        Assert.Equal([(0, 3), (4, 6), (2, 5)], Indices(outcome));
        Assert.Empty(outcome.Kept);
        Assert.All(outcome.Pairs, p => Assert.True(p.Chosen.Rollout.Reward >= 1f));
        Assert.All(outcome.Pairs, p => Assert.True(p.Rejected.Rollout.Reward < 1f));
        Assert.Equal((3, 7), (outcome.Correct, outcome.Samples));
    }

    static readonly (int, int)[] ShortestLongestPairs = [(0, 3), (4, 6), (2, 5)];

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(10, 3)]   // three verified completions, each used once
    public void TheCapLimitsPairsPerPrompt(int max, int expected)
    {
        var pairs = Indices(RejectionSampler.Decide(0, Rollouts(), "", Pairs(max)));
        Assert.Equal(expected, pairs.Count);
        Assert.Equal(ShortestLongestPairs[..expected], pairs);
        Assert.Equal(pairs.Count, pairs.Select(p => p.Chosen).Distinct().Count());
        Assert.Equal(pairs.Count, pairs.Select(p => p.Rejected).Distinct().Count());
    }

    [Fact]
    public void RandomPairingIsSeededReproducibleAndReallyRandom()
    {
        var options = Pairs(max: 3, PairSelection.Random, seed: 9);
        var first = Indices(RejectionSampler.Decide(5, Rollouts(), "", options));
        Assert.Equal(first, Indices(RejectionSampler.Decide(5, Rollouts(), "", options)));
        Assert.Equal(3, first.Count);
        Assert.Equal([0, 2, 4], first.Select(p => p.Chosen).Order());
        Assert.Subset(new HashSet<int> { 1, 3, 5, 6 }, first.Select(p => p.Rejected).ToHashSet());
        Assert.Equal(3, first.Select(p => p.Rejected).Distinct().Count());

        // Over prompts and seeds the pairings differ: 3! orders of the verified × 4·3·2 of the failed.
        var pairings = Enumerable.Range(0, 20)
            .Select(i => string.Join(";", Indices(RejectionSampler.Decide(i, Rollouts(), "",
                Pairs(max: 3, PairSelection.Random, seed: i % 3)))))
            .ToHashSet();
        Assert.True(pairings.Count > 5, $"{pairings.Count} distinct pairings");
        // The mode is part of the seed as well.
        var byMode = Enumerable.Range(0, 10).Count(i =>
            !Indices(RejectionSampler.Decide(i, Rollouts(), "", options, ThinkingMode.Think)).SequenceEqual(
                Indices(RejectionSampler.Decide(i, Rollouts(), "", options, ThinkingMode.NoThink))));
        Assert.True(byMode > 0);
    }

    [Fact]
    public void RandomSelectionShufflesBothSidesIndependently()
    {
        int[] verified = [10, 11, 12, 13], failed = [20, 21, 22, 23];
        var seen = Enumerable.Range(0, 50).Select(seed =>
            PreferencePairs.Select(verified, failed, PairSelection.Random, 4, _ => 1, seed)).ToList();
        Assert.All(seen, pairs => Assert.Equal(verified, pairs.Select(p => p.Chosen).Order()));
        Assert.All(seen, pairs => Assert.Equal(failed, pairs.Select(p => p.Rejected).Order()));
        // With one generator per list (or the same order for both) index i of each side would always meet: 10-20, …
        Assert.Contains(seen, pairs => pairs.Any(p => p.Rejected - p.Chosen != 10));
        Assert.Equal(seen[7], PreferencePairs.Select(verified, failed, PairSelection.Random, 4, _ => 1, 7));
    }

    [Fact]
    public void NoPairWhenEverySampleIsCorrectOrEveryOneWrong()
    {
        var allCorrect = Rollouts().Select(r => r with { Reward = 1f }).ToList();
        var outcome = RejectionSampler.Decide(0, allCorrect, "", Pairs(max: 3));
        Assert.Equal(PromptStatus.AllCorrect, outcome.Status);
        Assert.Empty(outcome.Pairs);
        Assert.Empty(outcome.Kept);
        var allWrong = Rollouts().Select(r => r with { Reward = 0f }).ToList();
        outcome = RejectionSampler.Decide(0, allWrong, "", Pairs(max: 3));
        Assert.Equal(PromptStatus.NoneCorrect, outcome.Status);
        Assert.Empty(outcome.Pairs);
        // Without pairs an all-correct prompt keeps its completions as before.
        Assert.Equal(PromptStatus.Kept,
            RejectionSampler.Decide(0, allCorrect, "", new RejectionSamplingOptions()).Status);
        // The pass-rate filter applies to pairs too.
        Assert.Equal(PromptStatus.TooHard,
            RejectionSampler.Decide(0, Rollouts(), "", Pairs() with { MinPassRate = 0.5 }).Status);
    }

    [Fact]
    public void PairsStayWithinTheirModeAndCarryThePrefill()
    {
        // Each mode's samples are decided apart: a no_think outcome pairs only no_think samples, with their prefill.
        var think = RejectionSampler.Decide(2, Rollouts(), "", Pairs(), ThinkingMode.Think);
        var noThink = RejectionSampler.Decide(2, Rollouts().Take(2).ToList(), "<think>\n\n</think>\n", Pairs(),
            ThinkingMode.NoThink);
        Assert.Equal((ThinkingMode.Think, ThinkingMode.NoThink), (think.Mode, noThink.Mode));
        Assert.Equal([(0, 3)], Indices(think));
        Assert.Equal([(0, 1)], Indices(noThink));
        var pair = noThink.Pairs.Single();
        Assert.Equal("<think>\n\n</think>\nThe answer is 4", pair.Chosen.Response);
        Assert.Equal("<think>\n\n</think>\nThe answer is 5", pair.Rejected.Response);

        var row = PreferencePairs.Row([ChatMessage.FromSystem("/no_think"), ChatMessage.FromUser("question")], 2,
            ThinkingMode.NoThink, pair);
        Assert.Equal(["prompt", "chosen", "rejected", "mode", "prompt_index", "chosen_reward", "rejected_reward",
            "chosen_tokens", "rejected_tokens"], row.Select(p => p.Key));
        Assert.Equal(
            """{"prompt":[{"role":"system","content":"/no_think"},{"role":"user","content":"question"}]""" +
            ""","chosen":[{"role":"assistant","content":"<think>\n\n</think>\nThe answer is 4"}]""" +
            ""","rejected":[{"role":"assistant","content":"<think>\n\n</think>\nThe answer is 5"}]""" +
            ""","mode":"no_think","prompt_index":2,"chosen_reward":1,"rejected_reward":0,"chosen_tokens":2""" +
            ""","rejected_tokens":2}""", row.ToJsonString(ReasonSharp.Data.JsonlWriter.Options));
    }

    [Fact]
    public void DedupDropsRepeatedFailuresBeforePairing()
    {
        var e = Example("4");
        List<Rollout> rollouts =
        [
            Rollout(e, 0, 0, [AnswerIs, Four], 1f),
            Rollout(e, 0, 1, [X, Five], 0f),
            Rollout(e, 0, 2, [AnswerIs, Space, Four], 1f),
            Rollout(e, 0, 3, [X, Space, Five], 0f),       // "x 5": not a whitespace variant of "x5"
            Rollout(e, 0, 4, [X, Five], 0f),               // a repeat of s1
        ];
        Assert.Equal([(0, 3), (2, 1)], Indices(RejectionSampler.Decide(0, rollouts, "", Pairs(max: 5))));
        var deduped = RejectionSampler.Decide(0, rollouts, "", Pairs(max: 5) with { Dedup = true });
        // s2 "The answer is  4" repeats s0 once whitespace is normalised; s4 repeats s1.
        Assert.Equal([(0, 3)], Indices(deduped));
        Assert.Equal(2, deduped.Duplicates);
    }

    [Theory]
    [InlineData("max_pairs_per_prompt=0", "max_pairs_per_prompt must be at least 1, got 0")]
    [InlineData("pair_selection=best", "option 'pair_selection' must be one of shortest_longest, random")]
    [InlineData("mode=sometimes", "option 'mode' must be one of think, no_think, both")]
    [InlineData("pairs=maybe", "option 'pairs' must be true or false")]
    public void BadPairOptionsNameTheOption(string setting, string expected)
    {
        var e = Assert.Throws<ReasonSharpException>(() =>
            OptionsBinder.ApplyOverrides(new RejectionSamplingOptions(), [setting]).Validate());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void PairOptionsBindFromRecipeKeys()
    {
        var options = OptionsBinder.ApplyOverrides(new RejectionSamplingOptions(),
            ["pairs=true", "pair_selection=random", "max_pairs_per_prompt=2", "mode=both"]);
        Assert.Equal((true, PairSelection.Random, 2, SampleMode.Both),
            (options.Pairs, options.PairSelection, options.MaxPairsPerPrompt, options.Mode));
        Assert.Equal([ThinkingMode.Think, ThinkingMode.NoThink], options.Mode.Modes());
        var defaults = new RejectionSamplingOptions();
        Assert.Equal((false, PairSelection.Random, 1, SampleMode.Think),
            (defaults.Pairs, defaults.PairSelection, defaults.MaxPairsPerPrompt, defaults.Mode));
    }
}
