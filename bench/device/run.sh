#!/usr/bin/env bash
# The prepared GPU check (bench/device/README.md). On the device machine, from the repository root, with
# bench/device/work carried (bash bench/device/package.sh builds it here):
#   bash bench/device/run.sh
# Writes under $OUT (the device tool's output folder; /tmp/reasonsharp-device-out when unset):
#   steps.tsv            step, exit status (124: timed out), seconds, log file
#   summary.md           the same as a table, with each log's last lines
#   <step>.log           each step's output
#   hf/results.json      check.py: transformers' logits (hf/logits/*.f32), renders and token ids
# Every step has its own timeout and the whole run stops starting steps at 7 min 30 s; a failing step is recorded
# and the next one runs. Exit status 0 always (read steps.tsv).
set -u
cd "$(dirname "$0")/../.."
WORK=bench/device/work
OUT=${OUT:-/tmp/reasonsharp-device-out}
APP=/tmp/reasonsharp-device-app
DEADLINE=$((SECONDS + 450))
mkdir -p "$OUT"
printf 'step\texit\tseconds\tlog\n' >"$OUT/steps.tsv"
printf '# ReasonSharp device check\n\n| step | exit | seconds |\n|---|---|---|\n' >"$OUT/summary.md"
cp "$WORK/sizes.txt" "$OUT/sizes.txt" 2>/dev/null

# step NAME LIMIT_SECONDS COMMAND...: runs with a timeout (cut to what is left of the deadline), logs, never fails.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((DEADLINE - SECONDS))
  if [ "$left" -lt 10 ]; then
    printf '%s\tskipped\t0\t(deadline)\n' "$name" >>"$OUT/steps.tsv"
    printf '| %s | skipped (deadline) | 0 |\n' "$name" >>"$OUT/summary.md"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local start=$SECONDS
  echo "== $name (limit ${limit}s)"
  timeout -k 5 "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  local took=$((SECONDS - start))
  printf '%s\t%s\t%s\t%s.log\n' "$name" "$rc" "$took" "$name" >>"$OUT/steps.tsv"
  printf '| %s | %s | %s |\n' "$name" "$rc" "$took" >>"$OUT/summary.md"
  tail -n 4 "$OUT/$name.log" | sed 's/^/   /'
  return 0
}

environment() {
  nvidia-smi || echo "nvidia-smi failed"
  python3 - <<'EOF'
import os, sys
print("python", sys.version.split()[0])
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0))
print("torch lib", os.path.join(os.path.dirname(torch.__file__), "lib"))
for m in ("transformers", "peft", "jinja2", "tokenizers", "numpy"):
    try:
        print(m, __import__(m).__version__)
    except Exception as e:
        print(m, "not importable:", e)
EOF
  ldd --version | head -1
  for lib in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /lib64/libstdc++.so.6; do
    [ -e "$lib" ] && echo "$lib: $(strings "$lib" | grep -c '^GLIBCXX_3\.4') GLIBCXX versions, newest" \
      "$(strings "$lib" | grep '^GLIBCXX_3\.4' | sort -V | tail -1)"
  done
  nproc
  free -g
}

# Which symbols libLibTorchSharp (built against libtorch 2.10) needs that this torch/lib does not define.
native() {
  echo "torch lib: $TORCH_LIB"
  ls "$TORCH_LIB"
  local undefined
  undefined=$(LD_LIBRARY_PATH="$TORCH_LIB" ldd -r "$APP/libLibTorchSharp.so" 2>&1)
  echo "$undefined" | grep -v 'undefined symbol' | head -20
  echo "undefined symbols: $(echo "$undefined" | grep -c 'undefined symbol')"
  echo "$undefined" | grep 'undefined symbol' | sed 's/^.*undefined symbol: //; s/[[:space:]].*$//' | head -60 |
    { command -v c++filt >/dev/null && c++filt || cat; }
}

step environment 20 bash -c "$(declare -f environment); environment"
step hf-check 120 python3 bench/device/check.py "$WORK/prepared" "$OUT/hf"

TORCH_LIB=${TORCH_LIB:-$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)}
step unpack 30 bash -c "rm -rf '$APP' && mkdir -p '$APP' && tar -xzf '$WORK/reason-linux-x64.tar.gz' -C '$APP' \
  && ls '$APP' | wc -l && test -x '$APP/ReasonSharp.Bench'"
step native 20 bash -c "APP='$APP' TORCH_LIB='$TORCH_LIB'; $(declare -f native); native"

# TorchSharp loads libtorch_cpu, libtorch_cuda and libLibTorchSharp by name: the dynamic loader finds them in
# torch/lib through LD_LIBRARY_PATH (libtorch_cuda's own RUNPATH then finds the nvidia/* wheels).
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
export REASONSHARP_NATIVE_CACHE=/tmp/reasonsharp-native-cache
export HOME=${HOME:-/tmp}
BENCH="$APP/ReasonSharp.Bench"
step cuda-probe 45 "$BENCH" device-trial probe
step cuda-forward 45 "$BENCH" device-trial forward --prepared "$WORK/prepared" --device cuda
step grpo-cuda 120 "$BENCH" grpo-step --device cuda --steps 2
step decode-cuda 80 "$BENCH" device-trial decode --device cuda --sizes 25m --batches 1,8,32

{
  echo
  for f in "$OUT"/*.log; do
    printf '\n## %s\n\n```\n' "$(basename "$f")"
    tail -n 25 "$f"
    printf '```\n'
  done
} >>"$OUT/summary.md"
echo "done in ${SECONDS}s; results in $OUT"
exit 0
