using TorchSharp;
using static TorchSharp.torch;

namespace ReasonSharp.Modeling;

/// <summary>Parses `--device cpu|cuda|cuda:N|auto` and picks the compute dtype: float32 on the CPU (bf16 is ~100x slower there), bfloat16 on CUDA.</summary>
public static class Devices
{
    public static Device Parse(string spec)
    {
        Native.TorchNative.EnsureLoaded();
        var s = spec.Trim().ToLowerInvariant();
        if (s == "auto") return cuda.is_available() ? CUDA : CPU;
        if (s == "cpu") return CPU;
        if (s == "cuda" || s.StartsWith("cuda:"))
        {
            if (!cuda.is_available())
                throw new ReasonSharpException($"--device {spec}: CUDA is not available. This build uses TorchSharp-cpu; on a machine with an NVIDIA GPU build with -p:ReasonSharpDevice=cuda (see README).");
            return s == "cuda" ? CUDA : new Device(DeviceType.CUDA, int.Parse(s[5..]));
        }
        throw new ReasonSharpException($"--device '{spec}' is not recognised; expected cpu, cuda, cuda:N or auto");
    }

    public static ScalarType DefaultDtype(Device device) => device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;
}
