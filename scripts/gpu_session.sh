#!/usr/bin/env bash
# One device call for issue 6 and issue 5's evidence, prepared on 2026-12-01 (no GPU was lent
# that session, so it has not run yet). On the GPU machine, from the repository root:
#
#   DEV=artifacts/dev scripts/gpu_session.sh OUT_DIR
#
# DEV holds `autoslim` (cargo build --release --features cuda, stripped) and `autoslim-at`
# (the same with `--features cuda,autotune`), optionally xz-compressed, `fmnist/` (the four
# Fashion-MNIST IDX files) and a `cubecl.toml` that points cubecl's autotune and compilation
# caches at DEV/gpu-cache (carry that folder back and forth to start warm):
#
#   [autotune]
#   cache = { file = "gpu-cache" }
#   [compilation]
#   cache = { file = "gpu-cache" }
#
# 1. MobileNetV2 (small stem) on Fashion-MNIST, one epoch under a time limit, with burn's conv
#    and with depthwise convs as weighted sums (AUTOSLIM_CONV=depthwise-sum): img/s from the
#    progress lines.
# 2. conv8 at batch 1024, widths aligned to 8: PyTorch, burn without autotune, burn with
#    autotune from a cold cache, then again warm (scripts/bench_gpu.sh).
set -uo pipefail
OUT_DIR=${1:-runs/gpu_session}
DEV=$(cd "${DEV:-artifacts/dev}" && pwd)
ROOT=$(pwd)
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
for f in "$DEV"/*.xz; do [ -e "$f" ] && xz -dkf "$f"; done
chmod +x "$DEV/autoslim" "$DEV/autoslim-at"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT_DIR/gpu.txt"

probe() { # LABEL CONV SECONDS
  echo "== MobileNetV2 Fashion-MNIST probe: $1"
  AUTOSLIM_CONV=$2 timeout "$3" "$DEV/autoslim" train --config configs/autoslim_mbv2_fashion_mnist.toml \
    --data-dir "$DEV/fmnist" --epochs 1 --work-dir "/tmp/probe-$1" > "$OUT_DIR/probe-$1.log" 2>&1
  tail -n 4 "$OUT_DIR/probe-$1.log"
}
probe depthwise-sum depthwise-sum "${PROBE_SECONDS:-60}"
probe native native "${PROBE_SECONDS:-35}"

cd "$DEV"   # cubecl reads cubecl.toml from the working directory
MODELS=conv8 MODES="plain sandwich" DIVISOR=8 ITERS=${ITERS:-3} WARMUP=${WARMUP:-1} TIMEOUT=${TIMEOUT:-90} \
VARIANTS="native=$DEV/autoslim:native tunedcold=$DEV/autoslim-at:native tunedwarm=$DEV/autoslim-at:native" \
  timeout "${BENCH_SECONDS:-420}" "$ROOT/scripts/bench_gpu.sh" "$OUT_DIR/bench" 2>&1 | tail -n 60
ls -la "$DEV/gpu-cache" 2>/dev/null | head
