namespace ReasonSharp.Serving;

/// <summary>An error answered in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with an HTTP
/// status.</summary>
public sealed class OpenAiError(int status, string message, string type = "invalid_request_error", string? param = null,
    string? code = null) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    /// <summary>400: a field of the request is missing, of the wrong type or out of range.</summary>
    public static OpenAiError BadField(string param, string problem) =>
        new(400, $"{param}: {problem}", param: param, code: "invalid_value");
}
