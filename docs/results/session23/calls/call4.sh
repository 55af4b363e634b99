#!/usr/bin/env bash
# Session 23, call 4. Build W2. MobileNetV2-224 (batch 128, bf16): burn's default conv on CUDA
# (kernel-gemm: the pointwise convs as burn's autotuned f32 matrix products) against gemm-all
# (every dense conv on the bf16 implicit-GEMM kernels), plain and sandwich, PyTorch in the same
# call. Each sandwich pre-run on an empty-then-shared cache with the warm-up processes.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-W2.xz && chmod +x $DEV/autoslim-W2
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_KERNEL_CACHE=/tmp/c-mb
MB="--model mobilenet_v2 --batch 128 --iters 25 --warmup 0 --mode sandwich"
for conv in kernel-gemm gemm-all; do
  AUTOSLIM_CONV=$conv timeout 150 $DEV/autoslim-W2 bench $MB > /tmp/r/prerun-$conv.log 2>&1
  echo "$conv prerun: exit $? first step $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/prerun-$conv.log | grep -o '[0-9.]* s$') | $(grep -o 'warm-up: [0-9]* of.*' /tmp/r/prerun-$conv.log)"
  grep -h " step [0-9]*:" /tmp/r/prerun-$conv.log | awk '{printf "%s ", $4}'; echo
done
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=20 WARMUP=5 TIMEOUT=150 \
  VARIANTS="kg=$DEV/autoslim-W2:kernel-gemm ga=$DEV/autoslim-W2:gemm-all" scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -8
tar czf $OUT/call4.tgz -C /tmp/r .
