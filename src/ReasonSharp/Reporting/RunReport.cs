using System.Globalization;
using System.Net;
using System.Text;

namespace ReasonSharp.Reporting;

/// <summary>One line of a plot.</summary>
public sealed record PlotSeries(string Label, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// A self-contained HTML report (report.html with PNG plots beside it in plots/) built from sections: paragraphs, line
/// plots, tables and sample texts. Trainers add their own sections (GRPO: rewards, completions) to the standard ones.
/// </summary>
public sealed class RunReport(string title)
{
    public const string HtmlFile = "report.html";
    public const string PlotsFolder = "plots";

    abstract record Section(string Heading);
    sealed record TextSection(string Heading, string Text) : Section(Heading);
    sealed record PlotSection(string Heading, string XLabel, string YLabel, IReadOnlyList<PlotSeries> Series,
        bool LogY) : Section(Heading);
    sealed record TableSection(string Heading, IReadOnlyList<string> Headers,
        IReadOnlyList<IReadOnlyList<string>> Rows) : Section(Heading);
    sealed record SamplesSection(string Heading, IReadOnlyList<(string Label, string Text)> Samples) : Section(Heading);

    readonly List<Section> _sections = [];

    public string Title { get; } = title;

    public RunReport AddText(string heading, string text) { _sections.Add(new TextSection(heading, text)); return this; }

    /// <summary>A line plot of one or more series (empty series are left out; a plot with none is not drawn).</summary>
    public RunReport AddPlot(string heading, string xLabel, string yLabel, IEnumerable<PlotSeries> series,
        bool logY = false)
    {
        var nonEmpty = series.Where(s => s.X.Count > 0).ToList();
        if (nonEmpty.Count > 0) _sections.Add(new PlotSection(heading, xLabel, yLabel, nonEmpty, logY));
        return this;
    }

    public RunReport AddTable(string heading, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        _sections.Add(new TableSection(heading, headers, rows.ToList()));
        return this;
    }

    /// <summary>Verbatim texts (sample completions, prompts), each under a label.</summary>
    public RunReport AddSamples(string heading, IEnumerable<(string Label, string Text)> samples)
    {
        _sections.Add(new SamplesSection(heading, samples.ToList()));
        return this;
    }

    /// <summary>Writes folder/report.html and folder/plots/*.png; returns the HTML path.</summary>
    public string Write(string folder)
    {
        var plotsFolder = Path.Combine(folder, PlotsFolder);
        Directory.CreateDirectory(plotsFolder);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html><head><meta " +
            "charset=\"utf-8\"><title>").Append(Encode(Title)).Append("</title><style>")
            .Append("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}")
            .Append("table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px " +
                "8px;text-align:left}")
            .Append("th{background:#f3f3f3}pre{background:#f7f7f7;padding:8px;white-space:pre-wrap;border-left:3px " +
                "solid #ccc}")
            .Append("img{max-width:100%}</style></head><body>\n<h1>").Append(Encode(Title)).Append("</h1>\n");
        int plotIndex = 0;
        foreach (var section in _sections)
        {
            html.Append("<h2>").Append(Encode(section.Heading)).Append("</h2>\n");
            switch (section)
            {
                case TextSection t:
                    html.Append("<p>").Append(Encode(t.Text)).Append("</p>\n");
                    break;
                case PlotSection p:
                    var file = $"{++plotIndex:D2}-{Slug(p.Heading)}.png";
                    RenderPlot(p, Path.Combine(plotsFolder, file));
                    html.Append($"<img src=\"{PlotsFolder}/{file}\" alt=\"{Encode(p.Heading)}\">\n");
                    break;
                case TableSection t:
                    html.Append("<table><tr>").AppendJoin("",
                        t.Headers.Select(h => $"<th>{Encode(h)}</th>")).Append("</tr>\n");
                    foreach (var row in t.Rows) html.Append("<tr>").AppendJoin("",
                        row.Select(c => $"<td>{Encode(c)}</td>")).Append("</tr>\n");
                    html.Append("</table>\n");
                    break;
                case SamplesSection s:
                    foreach (var (label, text) in s.Samples)
                        html.Append("<h3>").Append(Encode(label)).Append("</h3><pre>").Append(Encode(text)).Append("</pre>\n");
                    break;
            }
        }
        html.Append("<p><small>Generated ").Append(DateTime.UtcNow.ToString("u",
            CultureInfo.InvariantCulture)).Append(" by ReasonSharp.</small></p></body></html>\n");
        var path = Path.Combine(folder, HtmlFile);
        AtomicFile.WriteAllText(path, html.ToString());
        return path;
    }

    static void RenderPlot(PlotSection section, string path)
    {
        var plot = new ScottPlot.Plot();
        foreach (var series in section.Series)
        {
            var ys = section.LogY ? series.Y.Select(y => y > 0 ? Math.Log10(y) : double.NaN).ToArray()
                : series.Y.ToArray();
            var line = plot.Add.Scatter(series.X.ToArray(), ys);
            line.LegendText = series.Label;
            line.MarkerSize = series.X.Count > 60 ? 0 : 4;
        }
        plot.Title(section.Heading);
        plot.XLabel(section.XLabel);
        plot.YLabel(section.LogY ? $"log10 {section.YLabel}" : section.YLabel);
        if (section.Series.Count > 1) plot.ShowLegend();
        plot.SavePng(path, 900, 420);
    }

    static string Encode(string text) => WebUtility.HtmlEncode(text);

    static string Slug(string text)
    {
        var slug =
            new string(text.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
        return slug.Length == 0 ? "plot" : slug[..Math.Min(40, slug.Length)];
    }
}
