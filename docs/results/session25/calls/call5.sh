#!/usr/bin/env bash
# Session 25, call 5. Build N (call 4). Each uniform width's forward+backward pass of conv8
# (batch 1024) and MobileNetV2-224 (batch 128), burn with the defaults against PyTorch in the
# same call (bench_gpu.sh, MODES=widths; the first 3 passes of each width untimed, which compile
# its kernels on this empty cache).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-N.xz && chmod +x $DEV/autoslim-N
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
MODELS="conv8 mobilenet_v2" MODES="widths" ITERS=10 WARMUP=3 TIMEOUT=240 VARIANTS="N=$DEV/autoslim-N:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-widths 2>&1 | tail -34
tar czf $OUT/call5.tgz -C /tmp/r .
