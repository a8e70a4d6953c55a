using System.Text.Json.Serialization.Metadata;

namespace ReasonSharp.Configuration;

/// <summary>
/// The record-typed property's own keys are bound at this level: `dataset: …` and `k: 4` side by side, for an options
/// record that wraps another. JSON written with <see cref="JsonModifier"/> keeps them flat too.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FlattenAttribute : Attribute
{
    /// <summary>A System.Text.Json contract modifier (for writing): a [Flatten] property is replaced, in its place,
    /// by its record's own properties, so `temperature` sits beside `seed` as in the recipe, not under
    /// `sampling`.</summary>
    public static void JsonModifier(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object) return;
        for (int i = 0; i < info.Properties.Count; i++)
        {
            var outer = info.Properties[i];
            if (outer.AttributeProvider?.IsDefined(typeof(FlattenAttribute), inherit: true) != true
                || outer.Get is not { } getOuter) continue;
            var inner = info.Options.GetTypeInfo(outer.PropertyType).Properties
                .Where(p => p.Get is not null)
                .Select(p =>
                {
                    var getInner = p.Get!;
                    var flat = info.CreateJsonPropertyInfo(p.PropertyType, p.Name);
                    flat.Get = o => getOuter(o) is { } wrapped ? getInner(wrapped) : null;
                    flat.CustomConverter = p.CustomConverter;
                    return flat;
                })
                .ToList();
            info.Properties.RemoveAt(i);
            foreach (var (flat, j) in inner.Select((p, j) => (p, j))) info.Properties.Insert(i + j, flat);
            i += inner.Count - 1;
        }
    }
}
