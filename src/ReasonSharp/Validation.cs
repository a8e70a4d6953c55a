using System.Runtime.CompilerServices;

namespace ReasonSharp;

/// <summary>
/// Options are validated once per instance: a job validates what it binds, and a library entry point (a trainer,
/// the evaluator, the merger, …) validates what it is given only when that instance was not validated before. Options
/// records are init-only, so a validated instance stays valid; `with` makes a new instance, validated again.
/// </summary>
public static class Validation
{
    static readonly ConditionalWeakTable<object, object> Validated = new();
    static readonly object Mark = new();

    /// <summary>Runs <paramref name="validate"/> unless <paramref name="options"/> passed it already.</summary>
    public static void Once(object options, Action validate)
    {
        if (Validated.TryGetValue(options, out _)) return;
        validate();
        Validated.AddOrUpdate(options, Mark);
    }
}
