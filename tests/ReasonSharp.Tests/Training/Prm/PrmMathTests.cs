using System.Text.Json;
using ReasonSharp.Data;
using ReasonSharp.Evaluation;
using ReasonSharp.Rewards.Steps;
using ReasonSharp.Training.Prm;
using static TorchSharp.torch;

namespace ReasonSharp.Tests.Training.Prm;

/// <summary>The PRM loss, AUC, stepwise rows and the labeler's step prefixes on hand-computed cases.</summary>
public class PrmMathTests
{
    [Fact]
    public void Step_loss_is_cross_entropy_on_the_good_and_bad_logits_with_hard_or_soft_targets()
    {
        using var logits = tensor(new float[] { 2, 0, 2, 0, 0, 1 }, [3, 2]);
        using var targets = tensor(new float[] { 1, 0.25f, 0 });
        var losses = PrmTask.StepLosses(logits, targets).data<float>().ToArray();
        // −log σ(2) = log(1 + e⁻²) = 0.126928; −log σ(−2) = 2.126928; soft 0.25 mixes them; −log σ(1) for the third.
        Assert.Equal(0.126928, losses[0], 5);
        Assert.Equal(0.25 * 0.126928 + 0.75 * 2.126928, losses[1], 5);
        Assert.Equal(Math.Log(1 + Math.Exp(-1)), losses[2], 5);
    }

    [Fact]
    public void Step_auc_counts_ties_half()
    {
        // Good 0.9, 0.5 against bad 0.1, 0.5: wins 1 + 1 + 1 + ½ of 4 pairs.
        Assert.Equal(0.875, PrmTask.StepAuc([(0.9f, true), (0.1f, false), (0.5f, true), (0.5f, false)])!.Value, 9);
        Assert.Null(PrmTask.StepAuc([(0.9f, true)]));
    }

    static DataRow Row(string json) => new(JsonDocument.Parse(json).RootElement, RowOrigin.Line("labels.jsonl", 3));

    [Fact]
    public void Stepwise_rows_read_hard_and_soft_labels_and_name_the_bad_field()
    {
        var row = StepwiseData.FromRow(Row("""
            {"prompt": "Compute 2+3.", "completions": ["2+3=5", "so 5"], "labels": [true, 0],
             "soft_labels": [1, 0.25]}
            """));
        Assert.Equal(["2+3=5", "so 5"], row.Completions);
        Assert.Equal([true, false], row.Labels);
        Assert.Equal([1.0, 0.25], row.SoftLabels!);
        var e = Assert.Throws<ReasonSharpException>(() => StepwiseData.FromRow(Row("""
            {"prompt": "q", "completions": ["a", "b"], "labels": [true]}
            """)));
        Assert.Contains("labels.jsonl:3: field 'labels': 1 labels for 2 completions", e.Message);
        e = Assert.Throws<ReasonSharpException>(() => StepwiseData.FromRow(Row("""
            {"prompt": "q", "completions": ["a"], "labels": [true], "soft_labels": [1.5]}
            """)));
        Assert.Contains("field 'soft_labels': expected numbers in [0, 1]", e.Message);
    }

    [Fact]
    public void The_labeler_continues_from_the_text_up_to_the_end_of_each_step()
    {
        var labeler = new PrmLabeler(new PrmLabelOptions { Split = StepSplitMode.Separator, Separator = ", " });
        var (steps, prefixes) = labeler.StepPrefixes("<think>\n34+58: 4+8=12 carry 1, 3+5+1=9, so 92.\n</think>");
        Assert.Equal(["<think>\n34+58: 4+8=12 carry 1", "3+5+1=9", "so 92.\n</think>"], steps);
        Assert.Equal(["<think>\n34+58: 4+8=12 carry 1", "<think>\n34+58: 4+8=12 carry 1, 3+5+1=9",
            "<think>\n34+58: 4+8=12 carry 1, 3+5+1=9, so 92.\n</think>"], prefixes);
        var e = Assert.Throws<ReasonSharpException>(() => new PrmLabeler(new PrmLabelOptions { NumContinuations = 0 }));
        Assert.Contains("num_continuations must be at least 1", e.Message);
    }
}
