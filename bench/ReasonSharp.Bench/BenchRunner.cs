namespace ReasonSharp.Bench;

/// <summary>Entry point of `dotnet run --project bench/ReasonSharp.Bench -- NAME [options]`. Each benchmark registers one line here.</summary>
public static class BenchRunner
{
    static readonly Dictionary<string, (string Description, Func<string[], int> Run)> Benchmarks = new()
    {
        ["decode"] = ("decode tokens/s of our engine (--sizes 25m,100m --batches 1,8,32 --prompt 64 --new 256)", DecodeBench.Run),
    };

    public static int Run(string[] args)
    {
        ReasonSharp.Native.TorchNative.EnsureLoaded();
        if (args.Length == 0 || !Benchmarks.TryGetValue(args[0], out var bench))
        {
            Console.WriteLine("usage: dotnet run -c Release --project bench/ReasonSharp.Bench -- NAME [options]");
            foreach (var (name, b) in Benchmarks) Console.WriteLine($"  {name,-16} {b.Description}");
            return args.Length == 0 ? 0 : 2;
        }
        return bench.Run(args[1..]);
    }
}
