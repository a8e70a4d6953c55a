#!/usr/bin/env bash
# Builds what the device machine needs and that the device tool must carry (bench/device/README.md):
#   bench/device/work/prepared/              device-prepare's models, inputs, our logits and renders
#   bench/device/work/reason-linux-x64.tar.gz   a self-contained publish of ReasonSharp.Bench (the library, the
#                                            .NET runtime, libLibTorchSharp.so) WITHOUT libtorch: on the device it
#                                            runs against the machine's own torch/lib (run.sh)
# and checks that everything carried stays under the tool's 64 MiB. Run from the repository root:
#   bash bench/device/package.sh
# It prints the sizes and writes them to bench/device/work/sizes.txt. Exit status 1 when over the limit.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=bench/device/work
LIMIT=$((64 * 1024 * 1024))
PUBLISH=$WORK/publish
mkdir -p "$WORK"
rm -rf "$PUBLISH" "$WORK/dropped.txt"

dotnet run -c Release --project bench/ReasonSharp.Bench -- device-prepare "$WORK/prepared"

# One self-contained app: ReasonSharp.Bench holds the library (GRPO, generation) and the device-trial and grpo-step
# commands, so the CLI is not published a second time (it would double the runtime).
dotnet publish bench/ReasonSharp.Bench -c Release -r linux-x64 --self-contained true -o "$PUBLISH" \
  -p:InvariantGlobalization=true -p:DebugType=none -p:GenerateDocumentationFile=false >"$WORK/publish.log" 2>&1 \
  || { tail -30 "$WORK/publish.log"; exit 1; }
full=$(du -sb "$PUBLISH" | cut -f1)

# Dropped: libtorch (the device machine has its own, CUDA-enabled, in torch/lib); runtimes/, llama.cpp's backends
# for every platform (the device trial compares nothing with llama.cpp); and the runtime's debugger, tracing and
# alternative-GC libraries. libLibTorchSharp.so, TorchSharp's own shim, stays.
: >"$WORK/dropped.txt"
while IFS= read -r -d '' f; do
  rel=${f#"$PUBLISH"/}
  case "$rel" in
    libLibTorchSharp.so) continue ;;
    runtimes/* | libtorch*.so* | libc10*.so* | libgomp*.so* | libshm.so | libbackend_with_compiler.so | \
      libjitbackend_test.so | libnnapi_backend.so | libaoti_custom_ops.so | libtorchbind_test.so | createdump | \
      libmscordaccore.so | libmscordbi.so | libcoreclrtraceptprovider.so | libclrgc.so | libclrgcexp.so)
      printf '%s\t%s\n' "$(stat -c %s "$f")" "$rel" >>"$WORK/dropped.txt"
      rm -f "$f" ;;
  esac
done < <(find "$PUBLISH" -type f -print0)
find "$PUBLISH" -type d -empty -delete
kept=$(du -sb "$PUBLISH" | cut -f1)
test -f "$PUBLISH/libLibTorchSharp.so" || { echo "libLibTorchSharp.so is missing from $PUBLISH" >&2; exit 1; }

tar -C "$PUBLISH" -czf "$WORK/reason-linux-x64.tar.gz" .
tarball=$(stat -c %s "$WORK/reason-linux-x64.tar.gz")
prepared=$(du -sb "$WORK/prepared" | cut -f1)
carried=$((tarball + prepared))
rm -rf "$PUBLISH"

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
{
  echo "self-contained publish, as published:        $(mib "$full")"
  echo "  dropped (libtorch, llama.cpp, debug libs): $(mib $((full - kept))) in $(wc -l <"$WORK/dropped.txt") files"
  echo "  kept:                                      $(mib "$kept")"
  echo "reason-linux-x64.tar.gz (gzip):              $(mib "$tarball")"
  echo "prepared folder:                             $(mib "$prepared")"
  echo "carried in all (bench/device/work):          $(mib "$carried") of the tool's 64 MiB"
} | tee "$WORK/sizes.txt"
if [ "$carried" -gt "$LIMIT" ]; then
  echo "over the 64 MiB the device tool carries" >&2
  exit 1
fi
