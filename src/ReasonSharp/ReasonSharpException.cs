namespace ReasonSharp;

/// <summary>An error caused by the user's input (a file, a config key, an option). Its message names where and what was
/// expected.</summary>
public class ReasonSharpException(string message, Exception? inner = null) : Exception(message, inner);
