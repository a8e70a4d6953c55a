using LLama.Native;
using ReasonSharp.Modeling;

namespace ReasonSharp.Export;

/// <summary>
/// The GGUF types made by llama.cpp's own quantizer (llama_model_quantize, the code behind llama-quantize, reached
/// through LLamaSharp): our f16 export is written to a temporary file beside the output, quantized to a second
/// temporary file, and that is renamed over the output. llama.cpp picks each tensor's type as llama-quantize does
/// (the _M mixes keep some tensors at a higher type, and the output/embedding rules apply).
/// </summary>
public static class GgufQuantizer
{
    static readonly Queue<string> RecentWarnings = new();
    static bool _logHooked;

    /// <summary>Values per k-quant super-block (ggml's QK_K): a row of another length cannot be a k-quant.</summary>
    public const int KQuantBlockSize = 256;

    /// <summary>Whether <paramref name="type"/> is made by llama.cpp's quantizer rather than our own writer.</summary>
    public static bool IsLlamaCppType(GgufFileType type) =>
        type is GgufFileType.Q4_0 or GgufFileType.Q4_K_M or GgufFileType.Q5_K_M or GgufFileType.Q6_K;

    static bool IsKQuant(GgufFileType type) =>
        type is GgufFileType.Q4_K_M or GgufFileType.Q5_K_M or GgufFileType.Q6_K;

    /// <summary>Loads a model folder and writes it quantized to <paramref name="outPath"/>.</summary>
    public static GgufExportResult ExportFolder(string modelFolder, string outPath, GgufExportOptions options,
        int threads = 0)
    {
        if (!Directory.Exists(modelFolder)) throw new ReasonSharpException($"{modelFolder}: model folder not found");
        using var model = ModelFolder.Load(modelFolder);
        return Export(model, modelFolder, outPath,
            options with { Name = options.Name ?? new DirectoryInfo(modelFolder).Name }, threads);
    }

    /// <summary>Writes <paramref name="model"/> as f16, then quantizes it with llama.cpp to options.Type.</summary>
    /// <param name="threads">llama.cpp's quantization threads; 0: every core.</param>
    public static GgufExportResult Export(CausalLM model, string tokenizerFolder, string outPath,
        GgufExportOptions options, int threads = 0)
    {
        if (!IsLlamaCppType(options.Type))
            throw new ReasonSharpException($"type {options.Type}: not made by llama.cpp's quantizer (q4_0, q4_k_m, "
                + "q5_k_m and q6_k are); f32, f16 and q8_0 are written by GgufExporter");
        var full = Path.GetFullPath(outPath);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var stem = $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}";
        var f16Path = Path.Combine(dir, stem + ".f16.tmp");
        var quantizedPath = Path.Combine(dir, stem + ".tmp");
        try
        {
            GgufExporter.Export(model, tokenizerFolder, f16Path, options with { Type = GgufFileType.F16 });
            Quantize(f16Path, quantizedPath, options.Type, threads, shownPath: full);
            File.Move(quantizedPath, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(f16Path)) File.Delete(f16Path);
            if (File.Exists(quantizedPath)) File.Delete(quantizedPath);
        }
        return Describe(full, model.Config.ModelType, options.Type);
    }

    /// <summary>Runs llama_model_quantize on a GGUF file (f32 or f16 source) with llama-quantize's defaults.</summary>
    /// <param name="shownPath">The file errors name (default: <paramref name="destinationPath"/>).</param>
    public static void Quantize(string sourcePath, string destinationPath, GgufFileType type, int threads = 0,
        string? shownPath = null)
    {
        shownPath ??= destinationPath;
        uint status;
        try
        {
            HookLog();
            // NativeApi's first call loads the native library for this CPU (avx2, avx512 …).
            NativeApi.llama_empty_call();
            var parameters = LLamaModelQuantizeParams.Default();
            parameters.ftype = (LLamaFtype)(uint)type;
            parameters.nthread = threads > 0 ? threads : Environment.ProcessorCount;
            status = NativeApi.llama_model_quantize(sourcePath, destinationPath, ref parameters);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException
            or LLama.Exceptions.RuntimeError)
        {
            throw new ReasonSharpException($"{shownPath}: llama.cpp's quantizer could not run ({e.Message}); "
                + "the LLamaSharp.Backend.Cpu native libraries must be beside the application", e);
        }
        if (status != 0)
            throw new ReasonSharpException($"{shownPath}: llama.cpp could not quantize the model to "
                + $"{type.ToString().ToLowerInvariant()} (llama_model_quantize returned {status})"
                + string.Concat(LastWarnings().Select(w => "; llama.cpp: " + w))
                + $"; expected weight rows of a multiple of 32 values (q4_0, and the k-quants' fallbacks) or of "
                + $"{KQuantBlockSize} (k-quants); f16 or f32 export any shape");
    }

    /// <summary>Keeps llama.cpp's log quiet (its per-tensor lines would flood a console) but remembers its last
    /// warnings and errors for the message of a failure. The hook is process-wide, set once.</summary>
    internal static void HookLog()
    {
        lock (RecentWarnings)
        {
            if (_logHooked) return;
            NativeLogConfig.llama_log_set((level, message) =>
            {
                if (level is not (LLamaLogLevel.Error or LLamaLogLevel.Warning)) return;
                lock (RecentWarnings)
                {
                    RecentWarnings.Enqueue(message.Trim());
                    while (RecentWarnings.Count > 4) RecentWarnings.Dequeue();
                }
            });
            _logHooked = true;
        }
    }

    internal static string[] LastWarnings()
    {
        lock (RecentWarnings) return [.. RecentWarnings.Where(w => w.Length > 0)];
    }

    /// <summary>What llama.cpp wrote: each tensor's type, and a note per weight a k-quant could not take.</summary>
    static GgufExportResult Describe(string path, string architecture, GgufFileType type)
    {
        var reader = GgufReader.Open(path);
        var tensors = reader.Tensors.Select(t => new GgufExportedTensor(t.Name, t.Shape, t.Type)).ToList();
        var notes = new List<string>();
        if (IsKQuant(type))
            foreach (var t in reader.Tensors.Where(t => t.Shape.Length == 2 && t.Shape[^1] % KQuantBlockSize != 0))
                notes.Add($"{t.Name}: row length {t.Shape[^1]} is not a multiple of {KQuantBlockSize} (a k-quant "
                    + $"super-block); llama.cpp stored it as {t.Type}");
        return new GgufExportResult(path, architecture, type, tensors, new FileInfo(path).Length, notes);
    }
}
