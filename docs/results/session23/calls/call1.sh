#!/usr/bin/env bash
# Session 23, call 1 (session 22's call 6, extended). Build L4 (session 22's final code).
# MobileNetV2-224 sandwich (batch 128) with empty caches and the pointwise convs on the
# implicit-GEMM kernels (AUTOSLIM_CONV=gemm-all: bf16 operands, no autotuning) instead of burn's
# autotuned f32 matrix products (152 of the 313 kernels compiled cold in session 22's call 5).
# Then, with that cache warm, plain and sandwich throughput against PyTorch in the same call.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-L4.xz && chmod +x $DEV/autoslim-L4
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_KERNEL_CACHE=/tmp/c-ga
AUTOSLIM_CONV=gemm-all timeout 170 $DEV/autoslim-L4 bench --model mobilenet_v2 --batch 128 --iters 25 --warmup 0 --mode sandwich > /tmp/r/cold-mbv2-gemm-all.log 2>&1
echo "gemm-all: exit $? $(grep -o 'first step[^;]*' /tmp/r/cold-mbv2-gemm-all.log | head -1) | $(grep -o 'bounds checks [a-z-]*' /tmp/r/cold-mbv2-gemm-all.log | head -1)"
grep -h "step [0-9]*:" /tmp/r/cold-mbv2-gemm-all.log | awk '{printf "%s ", $4}'; echo
grep "sandwich step:" /tmp/r/cold-mbv2-gemm-all.log
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=20 WARMUP=5 TIMEOUT=150 VARIANTS="ga=$DEV/autoslim-L4:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -25
tar czf $OUT/call1.tgz -C /tmp/r .
