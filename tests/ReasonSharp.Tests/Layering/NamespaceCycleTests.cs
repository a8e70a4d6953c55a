using System.Collections.Immutable;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace ReasonSharp.Tests.Layering;

/// <summary>
/// The library's namespaces (ReasonSharp.X, sub-namespaces folded into X) form no cycle. Every reference counts:
/// base types, interfaces, fields, signatures, locals, attributes and every type, method and field named by IL.
/// </summary>
public class NamespaceCycleTests
{
    [Fact]
    public void LibraryNamespacesHaveNoDependencyCycle()
    {
        var graph = NamespaceGraph.Read(typeof(ReasonSharpException).Assembly.Location);
        Assert.Contains("ReasonSharp.Training", graph.Keys);
        Assert.Contains("ReasonSharp.Modeling", graph["ReasonSharp.Training"]);
        var cycles = NamespaceGraph.Cycles(graph);
        Assert.True(cycles.Count == 0, "namespace cycles:\n" + string.Join("\n", cycles.Select(c => string.Join(
            " -> ", c.Select(n => $"{n.Namespace} ({n.Via})")))));
    }

    [Fact]
    public void EvaluationAndTrainingAreSiblings()
    {
        var graph = NamespaceGraph.Read(typeof(ReasonSharpException).Assembly.Location);
        Assert.False(graph["ReasonSharp.Training"].TryGetValue("ReasonSharp.Evaluation", out var down), down);
        Assert.False(graph["ReasonSharp.Evaluation"].TryGetValue("ReasonSharp.Training", out var up), up);
        Assert.False(graph["ReasonSharp.Modeling"].TryGetValue("ReasonSharp.Generation", out var engine), engine);
    }

    [Fact]
    public void TheCheckFindsACycle()
    {
        var graph = new Dictionary<string, Dictionary<string, string>>
        {
            ["A"] = new() { ["B"] = "A.X uses B.Y" },
            ["B"] = new() { ["C"] = "B.Y uses C.Z" },
            ["C"] = new() { ["A"] = "C.Z uses A.X" },
            ["D"] = new() { ["A"] = "D uses A" },
        };
        var cycle = Assert.Single(NamespaceGraph.Cycles(graph));
        Assert.Equal(["A", "B", "C"], cycle.Select(n => n.Namespace).Order());
    }
}

/// <summary>Namespace → namespaces it uses (with one example reference) in an assembly, from its metadata and
/// IL.</summary>
static class NamespaceGraph
{
    public static Dictionary<string, Dictionary<string, string>> Read(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var graph = new Dictionary<string, Dictionary<string, string>>();
        foreach (var handle in reader.TypeDefinitions)
        {
            var from = Namespace(reader, handle);
            if (from is null) continue;
            var used = new HashSet<TypeDefinitionHandle>();
            Collect(reader, pe, handle, used);
            foreach (var target in used)
            {
                var to = Namespace(reader, target);
                if (to is null || to == from) continue;
                if (!graph.TryGetValue(from, out var edges)) graph[from] = edges = [];
                edges.TryAdd(to, $"{TypeName(reader, handle)} uses {TypeName(reader, target)}");
            }
            graph.TryAdd(from, []);
        }
        return graph;
    }

    /// <summary>Every cycle, one per strongly connected component, as the path that closes it.</summary>
    public static List<List<(string Namespace, string Via)>> Cycles(Dictionary<string, Dictionary<string, string>> graph)
    {
        var cycles = new List<List<(string, string)>>();
        foreach (var component in StronglyConnected(graph).Where(c => c.Count > 1))
        {
            var start = component.Order(StringComparer.Ordinal).First();
            var path = ShortestPath(graph, component, start);
            cycles.Add(path);
        }
        return cycles;
    }

    static List<(string, string)> ShortestPath(Dictionary<string, Dictionary<string, string>> graph,
        HashSet<string> within, string start)
    {
        var previous = new Dictionary<string, string>();
        var queue = new Queue<string>([start]);
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            foreach (var next in graph.GetValueOrDefault(node, []).Keys.Where(within.Contains).Order())
            {
                if (next == start)
                {
                    var path = new List<(string, string)> { (node, graph[node][start]) };
                    for (var at = node; at != start; at = previous[at]) path.Insert(0,
                        (previous[at], graph[previous[at]][at]));
                    return path;
                }
                if (previous.TryAdd(next, node)) queue.Enqueue(next);
            }
        }
        throw new InvalidOperationException("a strongly connected component without a cycle");
    }

    static List<HashSet<string>> StronglyConnected(Dictionary<string, Dictionary<string, string>> graph)
    {
        var nodes = graph.Keys.Concat(graph.Values.SelectMany(e => e.Keys)).Distinct().ToList();
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var result = new List<HashSet<string>>();
        void Visit(string node)
        {
            index[node] = low[node] = index.Count;
            stack.Push(node);
            onStack.Add(node);
            foreach (var next in graph.GetValueOrDefault(node, []).Keys)
            {
                if (!index.ContainsKey(next)) { Visit(next); low[node] = Math.Min(low[node], low[next]); }
                else if (onStack.Contains(next)) low[node] = Math.Min(low[node], index[next]);
            }
            if (low[node] != index[node]) return;
            var component = new HashSet<string>();
            string member;
            do { member = stack.Pop(); onStack.Remove(member); component.Add(member); } while (member != node);
            result.Add(component);
        }
        foreach (var node in nodes) if (!index.ContainsKey(node)) Visit(node);
        return result;
    }

    /// <summary>ReasonSharp.X for a type in ReasonSharp.X or below; nested types count as their outermost
    /// type.</summary>
    static string? Namespace(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        while (type.GetDeclaringType() is { IsNil: false } outer) type = reader.GetTypeDefinition(outer);
        var name = reader.GetString(type.Namespace);
        if (!name.StartsWith("ReasonSharp", StringComparison.Ordinal)) return null;
        var parts = name.Split('.');
        return parts.Length == 1 ? name : parts[0] + "." + parts[1];
    }

    static string TypeName(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        while (type.GetDeclaringType() is { IsNil: false } outer) type = reader.GetTypeDefinition(outer);
        return reader.GetString(type.Namespace) + "." + reader.GetString(type.Name);
    }

    static void Collect(MetadataReader reader, PEReader pe, TypeDefinitionHandle handle,
        HashSet<TypeDefinitionHandle> used)
    {
        var provider = new TypeCollector(used);
        var type = reader.GetTypeDefinition(handle);
        AddType(reader, type.BaseType, provider);
        foreach (var i in type.GetInterfaceImplementations()) AddType(reader,
            reader.GetInterfaceImplementation(i).Interface, provider);
        foreach (var p in type.GetGenericParameters())
            foreach (var c in reader.GetGenericParameter(p).GetConstraints())
                AddType(reader, reader.GetGenericParameterConstraint(c).Type, provider);
        AddAttributes(reader, type.GetCustomAttributes(), provider);
        foreach (var f in type.GetFields())
        {
            var field = reader.GetFieldDefinition(f);
            field.DecodeSignature(provider, null);
            AddAttributes(reader, field.GetCustomAttributes(), provider);
        }
        foreach (var p in type.GetProperties())
        {
            var property = reader.GetPropertyDefinition(p);
            property.DecodeSignature(provider, null);
            AddAttributes(reader, property.GetCustomAttributes(), provider);
        }
        foreach (var m in type.GetMethods())
        {
            var method = reader.GetMethodDefinition(m);
            method.DecodeSignature(provider, null);
            AddAttributes(reader, method.GetCustomAttributes(), provider);
            if (method.RelativeVirtualAddress == 0) continue;
            var body = pe.GetMethodBody(method.RelativeVirtualAddress);
            if (!body.LocalSignature.IsNil)
                reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(provider, null);
            foreach (var token in IlTokens(body.GetILBytes()!)) AddToken(reader, token, provider);
        }
    }

    static void AddAttributes(MetadataReader reader, CustomAttributeHandleCollection attributes, TypeCollector provider)
    {
        foreach (var a in attributes) AddToken(reader,
            MetadataTokens.GetToken(reader.GetCustomAttribute(a).Constructor), provider);
    }

    static void AddType(MetadataReader reader, EntityHandle handle, TypeCollector provider)
    {
        if (handle.IsNil) return;
        switch (handle.Kind)
        {
            case HandleKind.TypeDefinition: provider.Used.Add((TypeDefinitionHandle)handle); break;
            case HandleKind.TypeSpecification:
                reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(provider, null);
                break;
        }
    }

    static void AddToken(MetadataReader reader, int token, TypeCollector provider)
    {
        var handle = MetadataTokens.EntityHandle(token);
        switch (handle.Kind)
        {
            case HandleKind.TypeDefinition or HandleKind.TypeSpecification: AddType(reader, handle, provider); break;
            case HandleKind.MethodDefinition:
                provider.Used.Add(reader.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType());
                break;
            case HandleKind.FieldDefinition:
                provider.Used.Add(reader.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType());
                break;
            case HandleKind.MemberReference:
                var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                AddType(reader, member.Parent, provider);
                if (member.GetKind() == MemberReferenceKind.Method) member.DecodeMethodSignature(provider, null);
                else member.DecodeFieldSignature(provider, null);
                break;
            case HandleKind.MethodSpecification:
                var spec = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                AddToken(reader, MetadataTokens.GetToken(spec.Method), provider);
                spec.DecodeSignature(provider, null);
                break;
        }
    }

    static readonly Dictionary<short, OpCode> OpCodeByValue = typeof(OpCodes).GetFields()
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The metadata tokens that the IL's instructions name (methods, fields, types).</summary>
    static IEnumerable<int> IlTokens(byte[] il)
    {
        int at = 0;
        while (at < il.Length)
        {
            short value = il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at];
            at += il[at] == 0xFE ? 2 : 1;
            var op = OpCodeByValue[value];
            switch (op.OperandType)
            {
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: at += 1; break;
                case OperandType.InlineVar: at += 2; break;
                case OperandType.InlineI8 or OperandType.InlineR: at += 8; break;
                case OperandType.InlineSwitch: at += 4 + 4 * BitConverter.ToInt32(il, at); break;
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    yield return BitConverter.ToInt32(il, at);
                    at += 4;
                    break;
                default: at += 4; break;
            }
        }
    }

    /// <summary>Decodes signatures only to note the assembly's own types they mention.</summary>
    sealed class TypeCollector(HashSet<TypeDefinitionHandle> used) : ISignatureTypeProvider<int, object?>
    {
        public HashSet<TypeDefinitionHandle> Used => used;
        public int GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            used.Add(handle);
            return 0;
        }
        public int GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => 0;
        public int GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle,
            byte rawTypeKind) => reader.GetTypeSpecification(handle).DecodeSignature(this, context);
        public int GetArrayType(int elementType, ArrayShape shape) => 0;
        public int GetByReferenceType(int elementType) => 0;
        public int GetFunctionPointerType(MethodSignature<int> signature) => 0;
        public int GetGenericInstantiation(int genericType, ImmutableArray<int> typeArguments) => 0;
        public int GetGenericMethodParameter(object? context, int index) => 0;
        public int GetGenericTypeParameter(object? context, int index) => 0;
        public int GetModifiedType(int modifier, int unmodifiedType, bool isRequired) => 0;
        public int GetPinnedType(int elementType) => 0;
        public int GetPointerType(int elementType) => 0;
        public int GetPrimitiveType(PrimitiveTypeCode typeCode) => 0;
        public int GetSZArrayType(int elementType) => 0;
    }
}
