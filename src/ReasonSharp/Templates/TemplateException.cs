namespace ReasonSharp.Templates;

/// <summary>What went wrong in a template: its syntax, an error while rendering, or the template's own
/// raise_exception.</summary>
public enum TemplateErrorKind { Syntax, Runtime, Raised }

/// <summary>A template error with the template's name, line and column (1-based) in its message.</summary>
public sealed class TemplateException(TemplateErrorKind kind, string templateName, int line, int column, string detail)
    : ReasonSharpException($"{templateName}:{line}:{column}: {Describe(kind)}{detail}")
{
    public TemplateErrorKind Kind { get; } = kind;
    public string TemplateName { get; } = templateName;
    public int Line { get; } = line;
    public int Column { get; } = column;
    /// <summary>The message without the position: for raise_exception, exactly the template's text.</summary>
    public string Detail { get; } = detail;

    static string Describe(TemplateErrorKind kind) => kind switch
    {
        TemplateErrorKind.Syntax => "template syntax error: ",
        TemplateErrorKind.Raised => "the template raised an exception: ",
        _ => "",
    };
}

/// <summary>A Python-style error raised while rendering (TypeError, UndefinedError, …); the node that catches it
/// first adds its position.</summary>
internal sealed class PyError(string type, string message) : Exception(message)
{
    public string Type { get; } = type;
    public int Line { get; set; }
    public int Column { get; set; }
    public bool Positioned => Line > 0;

    public static PyError TypeError(string message) => new("TypeError", message);
    public static PyError ValueError(string message) => new("ValueError", message);
    public static PyError Runtime(string message) => new("TemplateRuntimeError", message);
}
