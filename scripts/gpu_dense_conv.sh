#!/usr/bin/env bash
# Issue 6, dense convs on CUDA, in one device call: are burn's implicit-GEMM kernels
# (AUTOSLIM_CONV=kernel-gemm, crates/slimmable/src/gemm_conv.rs) right and faster than its
# direct conv (kernel-matmul leaves 3×3 convs to it)?
#
#   DEV=artifacts/dev DEADLINE=570 scripts/gpu_dense_conv.sh OUT_DIR
#
# DEV holds `autoslim` (cargo build --release --features cuda, stripped) and `slimmable-tests`
# (cargo test -p slimmable --features test-cuda --no-run), each possibly as `.xz`, and may hold
# `kernel_cache.tgz` (cubecl's compiled-kernel cache, `cache/…`, from an earlier call).
#
#   1. tests: the slimmable layer tests on CUDA (`on_cuda::`), the implicit-GEMM op's included
#      (SKIP_TESTS=1 leaves them out);
#   2. bench: MODELS (conv8, then mobilenet_v2 at 224×224), MODES, CONVS against the PyTorch
#      peer in the same command (scripts/bench_gpu.sh), each model only while time is left;
#   3. OUT_DIR gets tests.txt, bench-MODEL.tgz and kernel_cache.tgz (the cache after the runs).
set -uo pipefail
OUT_DIR=${1:?usage: gpu_dense_conv.sh OUT_DIR}
DEV=$(cd "${DEV:-artifacts/dev}" && pwd)
DEADLINE=${DEADLINE:-570}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
left() { echo $(( DEADLINE - SECONDS )); }
for bin in autoslim slimmable-tests; do
  [ -e "$DEV/$bin.xz" ] && xz -dkf "$DEV/$bin.xz"
  chmod +x "$DEV/$bin"
done
mkdir -p /tmp/kc
[ -e "$DEV/kernel_cache.tgz" ] && [ ! -e /tmp/kc/cache ] && tar xzf "$DEV/kernel_cache.tgz" -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

if [ -z "${SKIP_TESTS:-}" ]; then
  echo "== 1. slimmable tests on CUDA"
  timeout "${TEST_TIMEOUT:-150}" "$DEV/slimmable-tests" on_cuda --test-threads=1 > "$OUT_DIR/tests.txt" 2>&1
  echo "   exit $?"
  grep -E "^test |test result|panicked|difference" "$OUT_DIR/tests.txt" | tail -n 40
fi

echo "== 2. bench"
for model in ${MODELS:-conv8 mobilenet_v2}; do
  if [ "$(left)" -lt "${MIN_MODEL_SECONDS:-150}" ]; then echo "-- $model skipped: $(left) s left"; continue; fi
  echo "-- $model ($(left) s left)"
  MODELS=$model MODES="${MODES:-plain sandwich}" ITERS=${ITERS:-8} WARMUP=${WARMUP:-2} TIMEOUT=${TIMEOUT:-70} \
    BIN="$DEV/autoslim" CONVS="${CONVS:-kernel-matmul kernel-gemm}" \
    timeout "$(( $(left) - 15 ))" scripts/bench_gpu.sh "/tmp/bench-$model" 2>&1 | tail -n 40
  tar czf "$OUT_DIR/bench-$model.tgz" -C "/tmp/bench-$model" .
done
du -sh /tmp/kc/cache 2>/dev/null
tar czf "$OUT_DIR/kernel_cache.tgz" -C /tmp/kc cache 2>/dev/null
ls -la "$OUT_DIR"
