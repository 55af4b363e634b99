#!/usr/bin/env bash
# Session 14, call 5: aligned widths (channel counts multiples of 8, `--divisor 8`: fewer
# distinct shapes, whole lines for the kernels), build N against PyTorch with the same divisor,
# conv8 (batch 1024) and MobileNetV2-224 (batch 128), plain and sandwich; N warmed up on each
# first (the aligned widths' kernels are not in the carried cache).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-N.xz && chmod +x $DEV/autoslim-N
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p /tmp/r
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-N > $DEV/N-bf16; chmod +x $DEV/N-bf16
timeout 60 $DEV/N-bf16 bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --divisor 8 > /tmp/r/w-conv8.log 2>&1; echo "conv8 warm-up: exit $?"
timeout 90 $DEV/N-bf16 bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich --divisor 8 > /tmp/r/w-mbv2.log 2>&1; echo "mbv2 warm-up: exit $?"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" DIVISOR=8 \
  VARIANTS="N-bf16=$DEV/N-bf16:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 4
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" DIVISOR=8 \
  VARIANTS="N-bf16=$DEV/N-bf16:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 4
tar czf $OUT/call5.tgz -C /tmp/r .
