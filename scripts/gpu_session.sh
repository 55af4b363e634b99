#!/usr/bin/env bash
# One device call for issue 6: do this project's depthwise kernels (AUTOSLIM_CONV=
# depthwise-kernel, kernel-matmul; crates/slimmable/src/depthwise/) beat burn's own grouped
# conv on the GPU? Prepared on 2026-12-02, when no device time was left (not run yet). On the
# GPU machine, from the repository root:
#
#   DEV=artifacts/dev scripts/gpu_session.sh OUT_DIR
#
# DEV holds `autoslim` or `autoslim.xz` (cargo build --release --features cuda, stripped) and
# `fmnist/` (the four Fashion-MNIST IDX files).
#
# 1. MobileNetV2-small, batch 256, plain and sandwich steps, with burn's conv and with each
#    kernel algorithm, and the PyTorch peer (scripts/bench_gpu.sh; ratios in
#    OUT_DIR/bench/summary.md).
# 2. The Fashion-MNIST MobileNetV2 config for PROBE_SECONDS with each algorithm: img/s of real
#    training from the progress lines (the faster one then goes to scripts/mbv2_fmnist_gpu.sh).
set -uo pipefail
OUT_DIR=${1:-runs/gpu_session}
DEV=$(cd "${DEV:-artifacts/dev}" && pwd)
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
[ -e "$DEV/autoslim.xz" ] && xz -dkf "$DEV/autoslim.xz"
chmod +x "$DEV/autoslim"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT_DIR/gpu.txt"

CONVS_TO_TIME=${CONVS_TO_TIME:-native depthwise-kernel kernel-matmul}
MODELS=mobilenet_v2_small MODES="plain sandwich" ITERS=${ITERS:-3} WARMUP=${WARMUP:-1} TIMEOUT=${TIMEOUT:-90} \
BIN="$DEV/autoslim" CONVS="$CONVS_TO_TIME" \
  timeout "${BENCH_SECONDS:-360}" scripts/bench_gpu.sh "$OUT_DIR/bench" 2>&1 | tail -n 40

for conv in ${PROBE_CONVS:-depthwise-kernel kernel-matmul}; do
  echo "== MobileNetV2 Fashion-MNIST probe: $conv"
  AUTOSLIM_CONV=$conv timeout "${PROBE_SECONDS:-45}" "$DEV/autoslim" train \
    --config configs/autoslim_mbv2_fashion_mnist.toml --data-dir "$DEV/fmnist" --epochs 1 \
    --work-dir "/tmp/probe-$conv" > "$OUT_DIR/probe-$conv.log" 2>&1
  tail -n 3 "$OUT_DIR/probe-$conv.log"
done
