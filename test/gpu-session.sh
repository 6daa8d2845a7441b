#!/usr/bin/env bash
# A whole GPU lease in one command: the checks of test/gpu-check.sh in three parallel groups (they only need the card
# to be right, not to be alone on it), then the benchmarks alone on the card, every log in one tarball under OUT_DIR
# (a device call brings back at most 8 files). Run after `source .device/on-device.sh` on the GPU machine:
#
#   bash test/gpu-session.sh [OUT_DIR]        (default OUT_DIR: $OUT, else ./gpu-out)
#
# GPU_CHECK_MAX_S (default 150) caps each check step, GPU_BENCH_MAX_S (default 200) the step benchmark (GPU_BENCH_ARGS:
# more arguments for it, e.g. --profile),
# GPU_SESSION_BENCH=0 skips the benchmarks. cuBLAS is looked for where CUDA's toolkit and PyTorch's wheels keep it
# when the loader does not find it by itself. Exit status: the number of failed steps.
set -u
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-gpu-out}}"
mkdir -p "$OUT_DIR"
W="$(mktemp -d /tmp/seekr-gpu-XXXX)"
[ -f native/build/Release/seekr.node ] || tar -xJf .device/seekr-gpu.tar.xz

if ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.1[23] '; then
  lib="$(find /usr/local/cuda*/ /opt/ /usr/lib/ -name 'libcublas.so.1[23]' 2>/dev/null | head -n 1)"
  if [ -n "$lib" ]; then
    export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "cuBLAS: $lib"
  else
    echo "cuBLAS: none found (Seekr's own GEMM kernels will run)"
  fi
fi

check() { GPU_STEP_MAX_S="${GPU_CHECK_MAX_S:-150}" bash test/gpu-check.sh "$W/$1" "${@:2}" >"$W/$1.out" 2>&1; }
t0=$SECONDS
check a devices native-tests &
check b ts-op-suite half-own-gemm llama-step llama-step-amp &
check c model-trainer vitest-device &
wait
echo "checks: $((SECONDS - t0)) s"
if [ "${GPU_SESSION_BENCH:-1}" != 0 ]; then
  GPU_STEP_MAX_S="${GPU_BENCH_MAX_S:-200}" bash test/gpu-check.sh "$W/d" bench-step >"$W/d.out" 2>&1
  GPU_STEP_MAX_S=90 bash test/gpu-check.sh "$W/e" bench-kernels bench-attention >"$W/e.out" 2>&1
fi
echo "all: $((SECONDS - t0)) s"

failed=0
for f in "$W"/*.out; do
  sed -n '/^summary/,$p' "$f"
  while read -r name _ rc _; do
    [ "$rc" = 0 ] && continue
    failed=$((failed + 1))
    log="$(dirname "$f")/$(basename "$f" .out)/$name.log"
    echo "---- $name (rc $rc): failures"
    grep -E -B2 -A12 '^not ok|^# fail|Error|FAIL' "$log" 2>/dev/null | head -n 60
  done < <(sed -n '/^summary/,$p' "$f" | tail -n +2)
done
tar -czf "$OUT_DIR/logs.tgz" -C "$W" .
for f in d/bench-step.log e/bench-kernels.log e/bench-attention.log; do [ -f "$W/$f" ] && cp "$W/$f" "$OUT_DIR/"; done
exit "$failed"
