namespace ReasonSharp.Configuration;

/// <summary>
/// The record-typed property's own keys are bound at this level: `dataset: …` and `k: 4` side by side, for an options
/// record that wraps another.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FlattenAttribute : Attribute;
