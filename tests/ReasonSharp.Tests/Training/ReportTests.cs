using ReasonSharp.Reporting;
using ReasonSharp.Training;

namespace ReasonSharp.Tests.Training;

public class ReportTests
{
    static readonly byte[] PngMagic = [0x89, (byte)'P', (byte)'N', (byte)'G'];

    [Fact]
    public void ATrainingRunWritesAnHtmlReportWithPngPlots()
    {
        using var dir = TestEnvironment.NewTempDir();
        using var model = TrainingFixtures.Model();
        var options = TrainingFixtures.Options(dir.Path) with { MaxSteps = 4, SaveStrategy = "no", WriteReport = true };
        var trainer = new Trainer(model, new LanguageModelingTask(TrainingFixtures.RandomSequences(6, 5, 9)), options)
        {
            Progress = TrainingFixtures.Quiet,
            ExtendReport = (report, result) => report.AddSamples("Samples", [("prompt 1", "2 + 2 = <4>")]),
        };
        trainer.Train();
        var html = File.ReadAllText(Path.Combine(dir.Path, RunReport.HtmlFile));
        Assert.Contains("<h2>Loss</h2>", html);
        Assert.Contains("<h2>Learning rate</h2>", html);
        Assert.Contains("<h2>Throughput</h2>", html);
        Assert.Contains("<h2>mean_token_accuracy</h2>", html);
        Assert.Contains("2 + 2 = &lt;4&gt;", html);
        Assert.Contains("<td>loss</td>", html);
        var plots = Directory.GetFiles(Path.Combine(dir.Path, RunReport.PlotsFolder), "*.png");
        Assert.True(plots.Length >= 5, $"{plots.Length} plots");
        foreach (var plot in plots)
        {
            Assert.Equal(PngMagic, File.ReadAllBytes(plot)[..4]);
            Assert.Contains($"{RunReport.PlotsFolder}/{Path.GetFileName(plot)}", html);
        }
        Assert.True(File.Exists(Path.Combine(dir.Path, Trainer.OptionsFile)));
    }

    [Fact]
    public void MetricsLogErrorsNameTheLine()
    {
        using var dir = TestEnvironment.NewTempDir();
        File.WriteAllText(dir.File("m.jsonl"), "{\"step\":1,\"loss\":2}\n{oops\n");
        var error = Assert.Throws<ReasonSharpException>(() => MetricsLog.Read(dir.File("m.jsonl")));
        Assert.Contains("m.jsonl:2", error.Message);
    }
}

public class ProgressDisplayTests
{
    [Fact]
    public void TheBarShowsStepLossRateAndEtaAndLogLinesReplaceIt()
    {
        var output = new StringWriter();
        var progress = new ProgressDisplay(output, interactive: true);
        progress.Update(5, 20, 1.23456, 812.4, TimeSpan.FromSeconds(3725));
        progress.WriteLine("step=5 loss=1.2346");
        progress.Finish();
        var text = output.ToString();
        Assert.Contains("5/20  loss 1.2346  812 tok/s  ETA 1:02:05", text);
        Assert.Contains("\r\u001b[2Kstep=5 loss=1.2346\n", text.Replace("\r\n", "\n"));

        var plain = new StringWriter();
        var redirected = new ProgressDisplay(plain, interactive: false);
        redirected.Update(5, 20, 1.2, 800, TimeSpan.Zero);
        redirected.WriteLine("step=5");
        Assert.Equal("step=5" + Environment.NewLine, plain.ToString());
    }
}
