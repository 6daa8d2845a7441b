#!/usr/bin/env bash
# Every GPU check and GPU benchmark of the project in one command, for a machine with an NVIDIA GPU (and, for the
# anchors, PyTorch with CUDA). Built here, run there: see docs/benchmarks.md ("GPU runs") and ../shared/gpu/README.md.
#
#   bash test/gpu-check.sh [OUT_DIR] [STEP...]   (default OUT_DIR: $OUT, else ./gpu-out; default: every step)
#
# Steps: devices native-tests ts-op-suite half-own-gemm llama-step llama-step-amp model-trainer vitest-device bench-step
# bench-kernels bench-attention. A device session allows 10 minutes per command: run the checks and the benchmarks as two calls,
#   bash test/gpu-check.sh "$OUT" devices native-tests ts-op-suite half-own-gemm llama-step llama-step-amp model-trainer vitest-device
#   bash test/gpu-check.sh "$OUT" bench-step bench-kernels bench-attention
#
# Each step has its own time limit, writes its log to OUT_DIR and the script goes on after a failure; the last lines
# printed are a summary (step, exit status, seconds). Exit status: the number of failed steps. GPU_STEP_MAX_S=N caps
# every step's time limit at N seconds.
# Needs: native/build/Release/seekr.node built with CUDA, every package's dist (and packages/tensor/dist-bench), the
# production node_modules, node on PATH — `bash test/gpu-pack.sh` here packs all of it into .device/seekr-gpu.tar.xz,
# which this script unpacks when the build outputs are missing (a fresh GPU machine).
set -u
cd "$(dirname "$0")/.."
if [ ! -f native/build/Release/seekr.node ] && [ -f .device/seekr-gpu.tar.xz ]; then
  tar -xJf .device/seekr-gpu.tar.xz
fi
OUT_DIR="${1:-${OUT:-gpu-out}}"
shift || true
ONLY=" $* "
mkdir -p "$OUT_DIR"
SUMMARY=()
FAILED=0

step() { # step NAME TIMEOUT_S COMMAND...
  local name="$1" limit="$2"
  shift 2
  # GPU_STEP_MAX_S caps every step's limit (a device lease is short: a hung kernel must not eat it).
  if [ -n "${GPU_STEP_MAX_S:-}" ] && [ "$limit" -gt "$GPU_STEP_MAX_S" ]; then limit="$GPU_STEP_MAX_S"; fi
  if [ "$ONLY" != "  " ] && [[ "$ONLY" != *" $name "* ]]; then return 0; fi
  local t0=$SECONDS
  echo "== $name"
  timeout "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
  local rc=$?
  local dt=$((SECONDS - t0))
  tail -n 4 "$OUT_DIR/$name.log" | sed 's/^/   /'
  SUMMARY+=("$(printf '%-24s rc %-3s %4ss' "$name" "$rc" "$dt")")
  [ "$rc" -eq 0 ] || FAILED=$((FAILED + 1))
}

step devices 60 node -e '
  const S = require("./native/index.js").native;
  console.log(JSON.stringify(S.backendInfo(), null, 2));'
nvidia-smi >"$OUT_DIR/nvidia-smi.log" 2>&1 || true

# Every CUDA kernel against the CPU kernels (ops, attention, half precision, allocator, OOM).
step native-tests 300 node --test native/test/
step ts-op-suite 180 node --test packages/tensor/test/devices/
# The half-precision GEMM again on Seekr's own WMMA kernel (cuBLAS disabled).
step half-own-gemm 180 env SEEKR_CUBLAS=off node --test native/test/gpu/half.test.mjs
# Whole training steps on cuda:0 against PyTorch's fixtures: float32, then bf16 / f16 autocast.
step llama-step 180 node packages/tensor/test/gpu/llama-step.mjs
step llama-step-amp 180 node packages/tensor/test/gpu/llama-step-amp.mjs
# @seekr/model on cuda:0 against the CPU; the same short continual-learning run on the CPU and on cuda:0 (f32, bf16).
step model-trainer 420 node test/gpu/model-trainer.mjs
# The vitest files with cuda:0 cases (they skip without a GPU, so CI runs only their CPU side).
step vitest-device 300 bash -c 'cd packages/model && node ../../node_modules/vitest/vitest.mjs run src/device.test.ts && cd ../trainer && node ../../node_modules/vitest/vitest.mjs run src/run/device.test.ts'
# Speed: training steps (reference config and ~125M, bf16) with MFU beside PyTorch's eager step on the same card, and
# the same steps without the fused norms / the kept weight casts (what each gives, measured in the same run).
step bench-step 420 node packages/tensor/dist-bench/bench/run.js --device cuda --steps 10 --warmup 3 --ablate fused-norm,weight-cache --out "$OUT_DIR/bench-step.json" ${GPU_BENCH_ARGS:-}
# The fused nn kernels (RMSNorm, RoPE, cross-entropy) and SwiGLU / the mixed-dtype add at the 125M step's shapes.
step bench-kernels 120 bash -c 'node native/bench/nn-gpu.mjs && node native/bench/elementwise-gpu.mjs'
# Attention kernels (f32 and tensor cores) beside PyTorch SDPA / eager on the same card.
step bench-attention 240 bash -c 'node native/bench/attention-gpu.mjs && python3 native/bench/attention-gpu-torch.py'

echo
echo "summary ($OUT_DIR):"
printf '  %s\n' "${SUMMARY[@]}"
exit "$FAILED"
