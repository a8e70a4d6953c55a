using static TorchSharp.torch;

namespace ReasonSharp.Training;

/// <summary>A module that draws random numbers (dropout) from its own generator rather than torch's global one, so the
/// generator's state can be saved in checkpoints and replayed by gradient checkpointing on any device.</summary>
public interface IHasGenerator
{
    Generator? Generator { get; }
}
